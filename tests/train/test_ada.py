"""ADA (Karras et al. 2020): the augmentation pipeline, p's adjustment from D's overfitting, its
logging, its exact resume, and the configurations it refuses."""
import json
import math

import pytest
import torch
from torch.testing import assert_close

from ganforge.config import merge
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer, resume, train
from ganforge.runtime.checkpoint import load_checkpoint
from ganforge.train.ada import AdaptiveP, apply_color, augment, color_matrix, rotate2d, scale2d, translate2d, warp

TINY = {"data": "fake", "image_size": 16, "channels": 1, "batch_size": 8, "n_samples": 4, "tensorboard": False,
        "model": {"g": {"width": 4}, "d": {"width": 4}}}  # fmt: skip


def images(n=6, channels=3, side=8, seed=0):
    return torch.rand(n, channels, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def draws(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (lambda *shape: torch.rand(*shape, generator=g)), (lambda *shape: torch.randn(*shape, generator=g))


def about_centre(m, side):
    c = torch.full((len(m),), (side - 1) / 2)
    return translate2d(c, c) @ m @ translate2d(-c, -c)


# ---------------------------------------------------------------- the pipeline
@pytest.mark.parametrize("channels", [1, 3])
def test_p_zero_leaves_images_unchanged(channels):
    x = images(channels=channels)
    assert torch.equal(augment(x, torch.tensor(0.0), *draws()), x)


@pytest.mark.parametrize("channels", [1, 3])
def test_p_one_changes_every_image_and_stays_finite_and_differentiable(channels):
    x = images(n=8, channels=channels).requires_grad_(True)
    y = augment(x, torch.tensor(1.0), *draws())
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert ((y - x).detach().flatten(1).abs().amax(1) > 1e-3).all()  # every image moved
    (grad,) = torch.autograd.grad((y * torch.randn_like(y)).sum(), x)  # G's gradient flows back through
    assert torch.isfinite(grad).all() and (grad.flatten(1).abs().sum(1) > 0).all()


def test_the_warp_moves_pixels_as_flips_turns_and_shifts_do():
    """The resampling's conventions: pixel centres at 0..side-1, the centre fixed, reflection outside
    (what torch's 'reflect' padding gives, as in the authors' code)."""
    x, n = images(n=2, side=8), 2
    ones = torch.ones(n)
    assert_close(warp(x, about_centre(scale2d(-ones, ones), 8)), x.flip(3), atol=1e-5, rtol=0)
    turned = warp(x, about_centre(rotate2d(ones * math.pi / 2), 8))
    assert min((turned - x.rot90(k, [2, 3])).abs().max() for k in (1, 3)) < 1e-5
    shifted = warp(x, translate2d(2 * ones, 0 * ones))  # two pixels right
    expected = torch.nn.functional.pad(x, [2, 0, 0, 0], mode="reflect")[..., :8]
    assert_close(shifted, expected, atol=1e-5, rtol=0)


def test_luma_flip_negates_grey_and_hue_keeps_it():
    """rand = 0.75 everywhere, randn = 0: every colour transform chosen, luma flip on (floor(1.5) = 1), hue
    turned by pi/2, brightness 0, contrast and saturation 1. Grey (R = G = B) lies on the luma axis: the
    flip negates it and the hue rotation leaves it; on 1-channel images luma flip is x -> -x."""
    rand, randn = (lambda *s: torch.full(s, 0.75)), (lambda *s: torch.zeros(s))
    grey = images(n=3, channels=1)
    m, chosen = color_matrix(3, 3, torch.tensor(1.0), rand, randn)
    assert chosen.all()
    assert_close(apply_color(grey.expand(3, 3, 8, 8), m), -grey.expand(3, 3, 8, 8), atol=1e-5, rtol=0)
    rgb = images(n=3)
    assert_close(apply_color(rgb, m).mean(1), -rgb.mean(1), atol=1e-5, rtol=0)  # luma negated, hue turned
    assert not torch.allclose(apply_color(rgb, m), -rgb, atol=1e-2)
    m1, _ = color_matrix(3, 1, torch.tensor(1.0), rand, randn)
    assert_close(apply_color(grey, m1), -grey, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- p
def test_p_moves_toward_the_target_by_the_authors_step():
    """p += sign(r_t - target) * batch * interval / (kimg * 1000), once per interval, held in [0, 1]."""
    ada = AdaptiveP(target=0.6, interval=2, kimg=0.04, batch_size=8, p=0.0, device="cpu")  # step 16/40 = 0.4
    seen = []
    for step in range(8):
        ada.adjust_at(step)
        ada.adjust_at(step)  # later calls in the same step change nothing
        ada.observe(torch.tensor([1.0, 1.0, 1.0, -1.0]))  # r_t = 0.5 < 0.6 for the first 4 steps...
        if step >= 3:
            ada.observe(torch.tensor([5.0, 2.0, 3.0, 1.0]))  # ...then D calls every real real: r_t > 0.6
        seen.append(round(ada.p.item(), 6))
    assert seen == [0.0, 0.0, 0.0, 0.0, 0.4, 0.4, 0.8, 0.8]
    ada = AdaptiveP(target=0.4, interval=1, kimg=0.04, batch_size=8, p=0.0, device="cpu")  # r_t = 0.5 > 0.4: up
    for step in range(7):
        ada.adjust_at(step)
        ada.observe(torch.tensor([1.0, 1.0, 1.0, -1.0]))
    assert ada.p.item() == 1.0  # 6 adjustments of 0.2: held at 1


@pytest.mark.parametrize("sign, start, expected", [(1.0, 0.0, 0.3), (-1.0, 0.5, 0.2)])
def test_p_rises_when_d_overfits_and_falls_when_it_does_not(monkeypatch, sign, start, expected):
    """A stub D that calls every real image real (sign +1: r_t = 1 > 0.6) or fake (-1): after 4 steps
    with an adjustment at the start of each step after the first, p has moved 3 steps of 8 / 80 = 0.1."""
    cfg = merge(resolve_config("dcgan", [TINY]), {"ada": True, "ada_interval": 1, "ada_kimg": 0.08, "ada_p": start})
    trainer = build_trainer(cfg, progress=False)

    def stub_D(D, x, labels, side="real"):  # fixed logits, still a graph to D's weights and to x
        anchor = sum(p.sum() for p in D.parameters()) + x.flatten(1).sum(1)
        return sign * torch.ones(len(x)) + 0 * anchor, None

    monkeypatch.setattr(trainer.algorithm, "call_D", stub_D)
    records = [trainer.train_step() for _ in range(4)]
    assert [r["ADA/r_t"].item() for r in records] == [sign] * 4
    assert_close(trainer.algorithm.d_input.ada.p, torch.tensor(expected))
    assert_close(records[-1]["ADA/p"], torch.tensor(expected))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_r_t_is_logged_without_ada(monkeypatch, sign):
    """With ada off, r_t = E[sign(D(x_real))] of each D update still goes into the stats (no p)."""
    trainer = build_trainer(resolve_config("dcgan", [TINY]), progress=False)

    def stub_D(D, x, labels, side="real"):
        anchor = sum(p.sum() for p in D.parameters()) + x.flatten(1).sum(1)
        return sign * torch.ones(len(x)) + 0 * anchor, None

    monkeypatch.setattr(trainer.algorithm, "call_D", stub_D)
    records = [trainer.train_step() for _ in range(2)]
    assert [r["ADA/r_t"].item() for r in records] == [sign] * 2 and "ADA/p" not in records[0]


def test_r_t_reads_the_losss_boundary_and_is_absent_without_one():
    """least-squares: D's line is 0.5 (a logit of 0.7 reads real); wasserstein has none: nothing logged."""
    from ganforge.train.d_pipeline import DInput

    def d_input(loss):
        cfg = merge(resolve_config("dcgan", [TINY]), {"loss": loss})
        return DInput(cfg, world=None, device="cpu", data_kind="image", step=lambda: 0, channels=1)

    stats = {}
    d_input("least-squares").observe_real(torch.tensor([0.7, 0.7, 0.7, 0.2]), stats)
    assert_close(stats["ADA/r_t"], torch.tensor(0.5))
    stats = {}
    d_input("wasserstein").observe_real(torch.tensor([0.7, -0.2]), stats)
    assert stats == {}


def test_logging_r_t_without_ada_leaves_training_bit_identical(tmp_path, monkeypatch):
    """The same run with and without the r_t statistic ends with the same weights and optimizer states."""
    from ganforge.train.d_pipeline import DInput

    base = {**TINY, "steps": 4, "ckpt_every": 100, "sample_every": 100, "log_every": 2}
    train(resolve_config("dcgan-demo", [base]), out=str(tmp_path / "logged"), progress=False)
    monkeypatch.setattr(DInput, "observe_real", lambda self, real_logits, stats: None)
    train(resolve_config("dcgan-demo", [base]), out=str(tmp_path / "silent"), progress=False)
    a = load_checkpoint(str(tmp_path / "logged" / "checkpoints" / "ckpt-latest.pt"))
    b = load_checkpoint(str(tmp_path / "silent" / "checkpoints" / "ckpt-latest.pt"))
    assert_close({k: a[k] for k in ("nets", "opt_G", "opt_D")}, {k: b[k] for k in ("nets", "opt_G", "opt_D")}, rtol=0, atol=0)
    records = [json.loads(line) for line in (tmp_path / "logged" / "stats.jsonl").read_text().splitlines()]
    assert all(-1 <= r["ADA/r_t"] <= 1 for r in records)
    assert not any("ADA/r_t" in json.loads(line) for line in (tmp_path / "silent" / "stats.jsonl").read_text().splitlines())


def test_resume_continues_p_and_its_accumulator_exactly(tmp_path):
    """6 steps straight == 3 + resume + 3 (3 is mid-interval: the accumulator must resume too), with p
    logged in stats.jsonl and kept in the checkpoint at extra/d_input/ada/p."""
    base = {**TINY, "steps": 6, "ckpt_every": 100, "sample_every": 100, "log_every": 3,
            "ada": True, "ada_p": 0.5, "ada_interval": 2, "ada_kimg": 0.1}  # fmt: skip
    train(resolve_config("dcgan-demo", [base]), out=str(tmp_path / "straight"), progress=False)
    train(resolve_config("dcgan-demo", [dict(base, steps=3)]), out=str(tmp_path / "half"), progress=False)
    resume(str(tmp_path / "half"), [{"steps": 6}], progress=False)
    a = load_checkpoint(str(tmp_path / "straight" / "checkpoints" / "ckpt-latest.pt"))
    b = load_checkpoint(str(tmp_path / "half" / "checkpoints" / "ckpt-latest.pt"))
    assert_close({k: a[k] for k in ("nets", "opt_G", "opt_D", "extra")}, {k: b[k] for k in ("nets", "opt_G", "opt_D", "extra")}, rtol=0, atol=0)
    p = a["extra"]["d_input"]["ada"]["p"].item()
    moves = (p - 0.5) / 0.16  # p moved, in steps of 8 * 2 / 100
    assert round(moves) != 0 and abs(moves - round(moves)) < 1e-5
    records = [json.loads(line) for line in (tmp_path / "half" / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6] and all(0 <= r["ADA/p"] <= 1 and -1 <= r["ADA/r_t"] <= 1 for r in records)


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize("extra, message", [
    ({"ada": True, "ada_target": 1.0}, "config key 'ada_target' must be > 0 and < 1, got 1.0"),
    ({"ada": True, "ada_target": 0.0}, "config key 'ada_target' must be > 0 and < 1, got 0.0"),
    ({"ada": True, "ada_kimg": 0}, "config key 'ada_kimg' must be > 0"),
    ({"ada": True, "ada_p": 1.5}, "config key 'ada_p' must be >= 0 and <= 1"),
    ({"ada_target": 0.7}, "ada_target=0.7 .* does nothing without ada"),
    ({"ada": True, "diffaugment": "color"}, "ada and diffaugment are alternative"),
    ({"ada": True, "loss": "wasserstein"}, "loss 'wasserstein' has no decision boundary .* remove ada"),
])  # fmt: skip
def test_bad_ada_settings_are_refused(extra, message):
    with pytest.raises(ConfigError, match=message):
        build_trainer(merge(resolve_config("dcgan", [TINY]), extra), progress=False)


def test_ada_on_points_is_refused():
    cfg = resolve_config("toy2d", [{"ada": True, "batch_size": 8, "tensorboard": False}])
    with pytest.raises(ConfigError, match="ada augments images"):
        build_trainer(cfg, progress=False)
