"""`ganforge generate --truncation` on a class-conditional BigGAN run (StyleGAN2's: tests/nets/test_stylegan2.py)."""
import numpy as np

from ganforge.cli import main

TRAIN = ["--preset", "biggan-demo", "--data", "fake", "--image-size", "16", "--batch-size", "4", "--steps", "2", "--no-progress",
         "channels=1", "n_samples=4", "n_critic=1", "ema_start=0", "model.z_dim=12", "model.g.ch=2", "model.g.shared_dim=4",
         "model.d.ch=2"]  # fmt: skip


def test_generate_a_biggan_run_with_truncation(tmp_path, capsys):
    run = tmp_path / "biggan"
    assert main(["train", *TRAIN, "--out", str(run)]) == 0
    paths = {name: tmp_path / f"{name}.npz" for name in ("plain", "half", "one", "zero")}
    assert main(["generate", str(run), "-n", "8", "-o", str(paths["plain"])]) == 0
    assert main(["generate", str(run), "-n", "8", "-o", str(paths["half"]), "--truncation", "0.5"]) == 0
    assert main(["generate", str(run), "-n", "8", "-o", str(paths["one"]), "--truncation", "1"]) == 0
    assert main(["generate", str(run), "-n", "8", "-o", str(paths["zero"]), "--truncation", "0", "--class", "3", "--seed", "5"]) == 0
    plain, half, one, zero = (np.load(p) for p in paths.values())
    assert half["samples"].shape == (8, 16, 16, 1) and np.array_equal(half["labels"], plain["labels"])
    assert not np.array_equal(half["samples"], plain["samples"])
    assert np.array_equal(one["samples"], plain["samples"])  # psi 1 is off
    assert (zero["labels"] == 3).all() and (zero["samples"] == zero["samples"][:1]).all()  # z = 0: class 3's one image
    capsys.readouterr()
    assert main(["generate", str(run), "-o", str(tmp_path / "x.png"), "--truncation", "1.2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("ganforge: error:") and "--truncation must be in [0, 1]" in err
