"""`ganforge classify train --resume RUN --epochs N`: extending a finished classifier run."""
import json

from ganforge.cli import main

TINY = ["classify", "train", "--model", "softmax", "--data", "digits", "--device", "cpu", "--threads", "1",
        "--set", "eval_batch_size=300"]  # fmt: skip


def test_resume_with_more_epochs_extends_a_constant_course(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main([*TINY, "--schedule", "constant", "--optimizer", "adam", "--lr", "0.01", "--epochs", "1", "--out", run]) == 0
    assert main(["classify", "train", "--resume", run, "--epochs", "2"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    with open(tmp_path / "run" / "stats.jsonl") as f:
        assert [json.loads(line)["Progress/epoch"] for line in f] == [1, 2]


def test_resume_with_more_epochs_of_a_1cycle_course_says_what_to_do(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main([*TINY, "--epochs", "1", "--out", run]) == 0  # the default course: 1cycle
    capsys.readouterr()
    assert main(["classify", "train", "--resume", run, "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge: error: ") and err.count("\n") == 1
    assert "1cycle course" in err and "start a new run with --epochs 3" in err and "--schedule constant" in err
