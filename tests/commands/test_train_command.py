"""`ganforge train` as a user meets it: bad numbers, dry runs that check everything, resumes that would
ignore an option or go backwards, the cost line, the closing lines, --threads."""
import pytest

from ganforge.cli import main
from ganforge.presets import DEFAULT_PRESET

TINY = ["--data", "fake", "--image-size", "16", "--no-progress", "--no-tensorboard", "channels=1", "batch_size=8",
        "model.g.width=4", "model.d.width=4", "log_every=2", "sample_every=2", "ckpt_every=2"]  # fmt: skip


@pytest.mark.parametrize("steps", ["0", "-5"])
def test_steps_below_one_is_an_error(tmp_path, capsys, steps):
    assert main(["train", "--steps", steps, "--out", str(tmp_path / "run"), *TINY]) == 2
    err = capsys.readouterr().err
    assert f"ganforge: error: config key 'steps' must be at least 1, got {steps}" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("words, message", [
    (["loss=hinj"], "unknown loss 'hinj' (did you mean 'hinge'?)"),
    (["--data", "mnist5"], "unknown dataset 'mnist5'"),
    (["model.g.widht=16"], "unknown config key for model.g 'widht' (did you mean 'width'?)"),
    (["batch_size=-1"], "config key 'batch_size' must be at least 1, got -1"),
    (["--preset", "dcgan-demo", "pack=3"], "pack=3 does not divide the batch of 64"),
])  # fmt: skip
def test_a_dry_run_checks_what_a_run_would(capsys, words, message):
    assert main(["train", "--dry-run", *words]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_an_eval_key_with_evaluation_off_is_an_error_before_any_folder(tmp_path, capsys, dry_run):
    assert main(["train", *dry_run, "--out", str(tmp_path / "run"), *TINY, "eval_n=500"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge: error: eval_n=500 does nothing while in-training evaluation is off") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_a_dry_run_prints_the_config_and_the_cost(tmp_path, capsys):
    assert main(["train", "--dry-run", "--preset", "dcgan", "--steps", "3000", *TINY]) == 0
    out = capsys.readouterr().out
    assert "preset: dcgan" in out and "# cost: " in out and "for 3,000 steps; `--preset dcgan-demo` is its CPU-sized version" in out
    assert not (tmp_path / "runs").exists()


def test_resume_refuses_options_it_would_ignore_and_going_backwards(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--preset", "dcgan-demo", "--steps", "4", "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert f"next:         ganforge eval {run}" in out and f"ganforge generate {run} -n 64 -o grid.png" in out
    assert main(["train", "--resume", str(run), "--preset", "wgan"]) == 2
    assert "--preset would be ignored" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--steps", "2"]) == 2
    assert "the run is at step 4; --steps 2 would train nothing" in capsys.readouterr().err
    assert "steps: 4\n" in (run / "config.yaml").read_text()  # the run's config is not rewritten
    assert main(["train", "--resume", str(run), "--dry-run", "--steps", "6"]) == 0  # checked, costed, not trained
    assert "# cost:" in capsys.readouterr().out and "steps: 4\n" in (run / "config.yaml").read_text()


def test_the_first_steps_print_what_the_run_will_cost(tmp_path, capsys, monkeypatch):
    import importlib

    loop = importlib.import_module("ganforge.train.loop")  # (ganforge.train is also the train function's name)
    monkeypatch.setattr(loop.EtaNote, "SECONDS", 0.0)  # these steps take far less than the 2 s it times
    argv = ["train", "--preset", "dcgan", "--steps", "8", "--out", str(tmp_path / "run"), *[w for w in TINY if w != "--no-progress"]]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "more for the 2 steps left, on this machine; `--preset dcgan-demo` is its CPU-sized version" in captured.out


def test_threads_is_a_flag_too(tmp_path, capsys):
    assert main(["train", "--threads", "1", "--dry-run", *TINY]) == 0
    assert "threads: 1\n" in capsys.readouterr().out


def test_the_help_names_the_preset_a_bare_train_runs(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # argparse breaks long words at hyphens on narrow terminals
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"train a GAN preset (no arguments: {DEFAULT_PRESET} on bundled MNIST)" in text
