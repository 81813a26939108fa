"""The command line as a user meets it: exit codes, messages, files."""
import numpy as np
import pytest
import yaml
from PIL import Image

from ganforge.cli import main

TINY = ["--preset", "dcgan-demo", "--data", "fake", "--image-size", "16", "--batch-size", "8", "--steps", "2", "--no-progress",
        "channels=1", "n_samples=4", "model.g.width=8", "model.d.width=8"]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def test_train_prints_run_folder_and_final_grid(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"run folder:   {out}" in text and f"final grid:   {out}/samples/step-0000002.png" in text


def test_numbered_run_folders_never_collide(tmp_path):
    root = tmp_path / "runs"
    for _ in range(2):
        assert main(["train", *TINY, "--runs-root", str(root)]) == 0
    assert sorted(p.name for p in root.iterdir()) == ["00000-dcgan-demo-fake", "00001-dcgan-demo-fake"]


def test_existing_run_is_never_overwritten(run_dir, capsys):
    before = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert main(["train", *TINY, "--out", str(run_dir)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == before


def test_dry_run_prints_resolved_config(capsys):
    assert main(["train", "--preset", "wgan", "--dry-run", "--image-size", "16", "opt_d.lr=1e-4"]) == 0  # cheap timed steps
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["opt_d"]["lr"] == 1e-4 and cfg["clip_value"] == 0.01 and cfg["preset"] == "wgan"


def test_overrides_may_follow_options(capsys):
    """`train --steps 600 loss=hinge` as users type it: words after an option are still overrides, in order."""
    assert main(["train", "opt_d.lr=1e-4", "--preset", "wgan", "--dry-run", "--image-size", "16", "clip_value=0.02", "opt_d.lr=3e-4"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["opt_d"]["lr"] == 3e-4 and cfg["clip_value"] == 0.02
    with pytest.raises(SystemExit):
        main(["train", "--dry-run", "clip_value=0.02", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--preset", "dcgam"], "unknown preset 'dcgam' (did you mean 'dcgan'?)"),
        (["train", "--data", "mnist6k", "--dry-run"], "unknown dataset 'mnist6k'"),  # a dry run checks what a run would
        (["train", "--data", "mnist6k"], "unknown dataset 'mnist6k' (did you mean 'mnist5k'?)"),
        (["train", "model.name=dcgna"], "unknown model 'dcgna' (did you mean 'dcgan'?)"),
        (["train", "loss=hing"], "unknown loss 'hing' (did you mean 'hinge'?)"),
        (["train", "opt_d.lrr=1"], "unknown config key 'opt_d.lrr' (did you mean 'lr'?)"),
        (["train", "steps=many"], "config key 'steps' wants an integer"),
        (["train", "--data", "lfw-faces"], "dcgan cannot make 25x25 images"),
        (["generate", "/nonexistent/run", "-o", "x.png"], "no such run folder"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    if message is None:
        assert code == 0
        return
    assert code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "a failed start left a run folder"


def test_under_torchrun_a_config_refusal_is_rank_0s_to_print(capsys, tmp_path, monkeypatch):
    """Every rank refuses the same config or data: one line from rank 0, none from the others; an error
    that may be a rank's own still reaches the user, with its rank."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["train", "steps=many"]) == 2
    assert capsys.readouterr().err == ""
    from ganforge.commands import runs
    from ganforge.errors import DataError, GanforgeError

    def fails(error):
        def run(args):
            raise error

        return run

    monkeypatch.setattr(runs, "run", fails(DataError("/data: no images")))  # the same data on every rank
    assert main(["runs"]) == 2
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(runs, "run", fails(GanforgeError("training diverged at step 7")))
    assert main(["runs"]) == 2
    assert capsys.readouterr().err == "ganforge: error: (rank 1) training diverged at step 7\n"
    monkeypatch.setenv("RANK", "0")
    assert main(["train", "steps=many"]) == 2
    assert capsys.readouterr().err.startswith("ganforge: error: config key 'steps' wants an integer")
    # under `train --nproc`'s launcher (runtime/torchrun.py) a rank leaves every refusal to the launcher
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("GANFORGE_REFUSALS", str(tmp_path))
    assert main(["runs"]) == 2
    assert capsys.readouterr().err == "" and (tmp_path / "rank-00001.txt").read_text() == "training diverged at step 7"


def test_listings(capsys):
    for verb, expected in [("presets", "wgan-gp"), ("datasets", "mnist5k"), ("models", "dcgan"), ("losses", "hinge")]:
        assert main([verb]) == 0
        assert expected in capsys.readouterr().out


def test_generate_png_and_npz_deterministic(run_dir, tmp_path):
    png, a, b, c = (tmp_path / n for n in ("g.png", "a.npz", "b.npz", "c.npz"))
    assert main(["generate", str(run_dir), "-n", "9", "-o", str(png)]) == 0
    assert Image.open(png).size[0] > 16
    assert main(["generate", str(run_dir), "-n", "5", "-o", str(a), "--seed", "3"]) == 0
    assert main(["generate", str(run_dir), "-n", "5", "-o", str(b), "--seed", "3"]) == 0
    assert main(["generate", str(run_dir), "-n", "5", "-o", str(c), "--seed", "4"]) == 0
    sa, sb, sc = (np.load(p)["samples"] for p in (a, b, c))
    assert sa.dtype == np.uint8 and sa.shape == (5, 16, 16, 1)
    assert np.array_equal(sa, sb) and not np.array_equal(sa, sc)


def test_generate_points_as_float_pairs(tmp_path):
    out = tmp_path / "ring"
    argv = ["train", "--preset", "gan", "--data", "ring8", "--steps", "2", "--batch-size", "8", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    assert (out / "samples" / "step-0000002.png").exists()
    assert main(["generate", str(out), "-n", "7", "-o", str(tmp_path / "p.npz")]) == 0
    pts = np.load(tmp_path / "p.npz")["samples"]
    assert pts.dtype == np.float32 and pts.shape == (7, 2)


def test_generate_refuses_bad_output_and_missing_checkpoint(run_dir, tmp_path, capsys):
    assert main(["generate", str(run_dir), "-o", str(tmp_path / "x.jpg")]) == 2
    assert ".png or .npz" in capsys.readouterr().err
    assert main(["generate", str(run_dir), "-o", str(tmp_path / "x.png"), "--ckpt", "99"]) == 2
    assert "no checkpoint '99'" in capsys.readouterr().err
    not_run = tmp_path / "plain"
    not_run.mkdir()
    assert main(["generate", str(not_run), "-o", str(tmp_path / "x.png")]) == 2
    assert "not a ganforge run" in capsys.readouterr().err


def test_resume_refuses_changed_hyperparameters(run_dir, capsys):
    assert main(["train", "--resume", str(run_dir), "--no-progress", "opt_d.lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "opt_d.lr: 0.0002 -> 0.1" in err


def test_resume_continues_to_more_steps(run_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert main(["train", "--resume", str(copy), "--steps", "3", "--no-progress"]) == 0
    assert "step-0000003.png" in capsys.readouterr().out


def test_corrupt_checkpoint_is_refused_by_generate(run_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    latest = copy / "checkpoints" / "ckpt-latest.pt"
    latest.unlink()
    latest.write_bytes(b"garbage")
    assert main(["generate", str(copy), "-o", str(tmp_path / "x.png")]) == 2
    assert "refused" in capsys.readouterr().err
