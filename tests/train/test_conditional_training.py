"""Training with labels, packing and DiffAugment: labels reach G and D, ACGAN's class loss, exact
resume with augmentations, `generate --class`, and the errors for bad input."""
import json

import numpy as np
import pytest
import torch
from torch.testing import assert_close

import ganforge as gf
from ganforge.cli import main
from ganforge.config import merge
from ganforge.errors import ConfigError, GanforgeError
from ganforge.presets import resolve_config
from ganforge.runs import resume, train
from ganforge.runtime.checkpoint import load_checkpoint
from ganforge.runs import build_trainer


def tiny(preset, tiny_overrides, **more):
    cfg = resolve_config(preset, [tiny_overrides])
    if cfg.model.name == "dcgan":
        merge(cfg, {"model": {"g": {"width": 8}, "d": {"width": 8}}})
    return merge(cfg, more)


def test_d_sees_the_real_labels_and_g_gets_sampled_classes(tiny_overrides):
    t = build_trainer(tiny("cgan-projection", tiny_overrides), progress=False)
    a = t.algorithm
    batches, seen_d, seen_g = [], [], []
    next_batch, D, G = t.batches.next, a.D_train, a.G_train
    t.batches.next = lambda: batches.append(next_batch()) or batches[-1]
    a.D_train = lambda x, c=None: seen_d.append(c) or D(x, c)
    a.G_train = lambda z, c=None: seen_g.append(c) or G(z, c)
    t.run_update(t.updates[0])
    assert_close(seen_d[0], batches[0][1])  # real images with their own labels
    assert seen_d[1] is seen_g[0]  # generated images judged with the classes G was given
    assert seen_g[0].shape == (8,) and 0 <= seen_g[0].min() and seen_g[0].max() < 10


def test_fixed_grid_shows_class_k_in_row_k(tiny_overrides):
    t = build_trainer(tiny("cgan", tiny_overrides, n_samples=100), progress=False)
    assert_close(t.fixed_c.view(10, 10), torch.arange(10)[:, None].expand(10, 10))


def test_acgan_logs_its_class_losses(tmp_path, tiny_overrides):
    train(tiny("acgan", tiny_overrides), out=str(tmp_path / "run"), progress=False)
    record = json.loads((tmp_path / "run" / "stats.jsonl").read_text().splitlines()[-1])
    assert {"Loss/D", "Loss/D/class", "Loss/G", "Loss/G/class"} <= set(record)
    assert record["Loss/D/class"] > 0 and record["Loss/G/class"] > 0


@pytest.mark.parametrize("preset, extra", [
    ("dcgan", {"diffaugment": "color,translation,cutout", "pack": 2, "model": {"minibatch_discrimination": 3}}),
    ("acgan", {"diffaugment": "color,translation,cutout", "reuse_fake": False}),
])  # fmt: skip
def test_resume_is_exact_with_diffaugment_labels_and_packing(tmp_path, tiny_overrides, preset, extra):
    base = dict(tiny_overrides, steps=4, ckpt_every=100, sample_every=100, log_every=2, **extra)
    base["model"] = {"g": {"width": 8}, "d": {"width": 8}, **extra.get("model", {})}
    train(resolve_config(preset, [base]), out=str(tmp_path / "straight"), progress=False)
    train(resolve_config(preset, [dict(base, steps=2)]), out=str(tmp_path / "half"), progress=False)
    resume(str(tmp_path / "half"), [{"steps": 4}], progress=False)
    a, b = (load_checkpoint(str(tmp_path / r / "checkpoints" / "ckpt-latest.pt")) for r in ("straight", "half"))
    assert_close({k: a[k] for k in ("nets", "opt_G", "opt_D")}, {k: b[k] for k in ("nets", "opt_G", "opt_D")}, rtol=0, atol=0)


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    overrides = {"data": "fake", "image_size": 8, "channels": 1, "batch_size": 8, "steps": 2, "log_every": 2,
                 "sample_every": 2, "ckpt_every": 2, "n_samples": 4}  # fmt: skip
    out = tmp_path_factory.mktemp("cgan") / "run"
    train(resolve_config("cgan", [overrides]), out=str(out), progress=False)
    return out


def test_generate_a_class(cgan_run):
    run = gf.load_run(str(cgan_run))
    samples = gf.generate(run, 5, seed=3, class_=7)
    z = torch.randn(5, 100, generator=torch.Generator().manual_seed(3))
    onehot = torch.nn.functional.one_hot(torch.full((5,), 7), 10).float()
    assert_close(samples, run.G.base(torch.cat([z, onehot], 1)))  # G'([z, onehot(7)]) exactly
    assert not torch.allclose(samples, gf.generate(run, 5, seed=3, class_=2))
    with pytest.raises(ConfigError, match=r"class 10 is out of range: this run's classes are 0\.\.9"):
        gf.generate(run, 5, class_=10)


def test_cli_generate_class_writes_labels(cgan_run, tmp_path):
    out = tmp_path / "s.npz"
    assert main(["generate", str(cgan_run), "-n", "6", "--class", "4", "-o", str(out)]) == 0
    data = np.load(out)
    assert data["samples"].shape == (6, 8, 8, 1) and data["labels"].tolist() == [4] * 6
    assert main(["generate", str(cgan_run), "-n", "6", "--class", "-1", "-o", str(out)]) == 2


def test_latent_walk_within_a_class(cgan_run, tmp_path):
    """A conditional run walks its noise with the class held: the ends are generate --class's images."""
    from ganforge.report.latent_walk import latent_walk

    run = gf.load_run(str(cgan_run))
    walk = latent_walk(run, [3, 8], steps=4, class_=6)
    assert_close(walk[0, 0], gf.generate(run, 1, seed=3, class_=6)[0])
    assert_close(walk[0, -1], gf.generate(run, 1, seed=8, class_=6)[0])
    with pytest.raises(GanforgeError, match=r"class-conditional: say which class .*--class K \(0\.\.9\)"):
        latent_walk(run, [3, 8], steps=4)
    assert main(["interpolate", str(cgan_run), "-o", str(tmp_path / "w.png"), "--class", "2"]) == 0
    assert main(["interpolate", str(cgan_run), "-o", str(tmp_path / "w.png"), "--class", "10"]) == 2


def test_class_on_an_unconditional_run_is_an_error(tmp_path, tiny_overrides):
    train(tiny("gan", tiny_overrides, steps=2, image_size=8), out=str(tmp_path / "run"), progress=False)
    with pytest.raises(ConfigError, match="not class-conditional"):
        gf.generate(gf.load_run(str(tmp_path / "run")), 2, class_=1)


def test_conditional_model_on_unlabelled_data_is_an_error(tmp_path, tiny_overrides):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((8, 8), i * 30, dtype=np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(ConfigError, match="needs labelled data"):
        build_trainer(tiny("cgan", tiny_overrides, data=str(folder), image_size=8), progress=False)


def test_bad_packing_and_augmentation_are_errors(tiny_overrides):
    with pytest.raises(ConfigError, match="pack=3 does not divide the batch of 8"):
        build_trainer(tiny("pacgan", tiny_overrides, pack=3), progress=False)
    with pytest.raises(ConfigError, match="diffaugment augments images"):
        build_trainer(tiny("toy2d", tiny_overrides, data="ring8", diffaugment="color"), progress=False)


@pytest.mark.parametrize("preset", ["pacgan", "cgan-projection"])
def test_tensorboard_histograms_d_as_training_presents_it(tmp_path, tiny_overrides, preset):
    pytest.importorskip("tensorboard")
    cfg = tiny(preset, tiny_overrides, steps=2, tensorboard=True, n_samples=5)  # 5: a remainder no pair fills
    from ganforge.monitors.seeing import seeing_monitors

    train(cfg, out=str(tmp_path / "run"), progress=False, monitors=seeing_monitors(cfg))
    assert any((tmp_path / "run" / "tensorboard").iterdir())
