"""BEGAN (Berthelot et al. 2017): the autoencoder D, k_t's control and bounds, M_global, training, resume."""
import json

import pytest
import torch
from torch.testing import assert_close

from ganforge.config import ModelConfig
from ganforge.diagnose.convergence import ConvergenceCheck
from ganforge.diagnose.ranges import RangeCheck
from ganforge.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.nets import build_models
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer, resume, train
from ganforge.algorithms import get_algorithm
from ganforge.algorithms.began import BEGAN, convergence_measure, update_k
from ganforge.runtime.checkpoint import load_checkpoint

SMALL = {"model": {"g": {"width": 4}, "d": {"width": 4, "h": 8}}, "tensorboard": False, "batch_size": 4}
CONSTANT_LR = {"opt_g": {"schedule": None}, "opt_d": {"schedule": None}}  # the preset halves the lr halfway: no halves in 1 step


def tiny(tiny_overrides, preset="began", **more):
    return resolve_config(preset, [tiny_overrides, SMALL, more])


def test_k_update_and_convergence_measure_by_hand():
    t = torch.tensor
    # k + lambda_k (gamma L(x) - L(G(z))) = 0.2 + 0.001 (0.5 * 0.4 - 0.1)
    assert_close(update_k(t(0.2), 0.5, 0.001, t(0.4), t(0.1)), t(0.2 + 0.001 * (0.2 - 0.1)))
    assert_close(convergence_measure(0.5, t(0.4), t(0.3)), t(0.4 + abs(0.2 - 0.3)))


@pytest.mark.parametrize("real, fake, want", [(1e6, 0.0, 1.0), (0.0, 1e6, 0.0), (float("inf"), 0.0, 1.0)])
def test_k_is_clamped_to_0_1_for_extreme_losses(real, fake, want):
    assert update_k(torch.tensor(0.5), 0.5, 0.001, torch.tensor(real), torch.tensor(fake)).item() == want


def test_k_stays_in_0_1_while_training_with_a_huge_gain(tmp_path, tiny_overrides):
    """lambda_k = 1e4 slams k against its bounds every step; it must never leave [0, 1]."""
    cfg = tiny(tiny_overrides, steps=3, log_every=1, algo={"lambda_k": 1e4}, **CONSTANT_LR)
    t = build_trainer(cfg, progress=False)
    seen = [t.train_step()["BEGAN/k"].item() for _ in range(3)]
    assert all(k in (0.0, 1.0) for k in seen), seen


def test_d_returns_each_images_l1_reconstruction_error():
    G, D = build_models(ModelConfig(name="began", z_dim=8, g={"width": 4}, d={"width": 4, "h": 8}), (1, 28, 28), "image")
    x = G(torch.rand(3, 8) * 2 - 1)
    assert x.shape == (3, 1, 28, 28)
    assert_close(D(x), (x - D.reconstruct(x)).abs().mean((1, 2, 3)))
    out = get_loss("began").d(D(x), D(x.flip(0)), k=0.25)
    assert_close(out["loss"], D(x).mean() - 0.25 * D(x.flip(0)).mean())
    with pytest.raises(ConfigError, match="7 <= b <= 15"):
        build_models(ModelConfig(name="began"), (1, 34, 34), "image")


def test_preset_trains_logs_the_convergence_measure_and_plots_it(tmp_path, tiny_overrides):
    cfg = tiny(tiny_overrides, steps=2, log_every=1)
    assert get_algorithm(cfg.algorithm) is BEGAN
    train(cfg, out=str(tmp_path / "run"), progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert {"Loss/D", "Loss/G", "BEGAN/M_global", "BEGAN/k", "BEGAN/L(x)"} <= set(records[-1])
    assert "D(x)" not in records[-1]  # reconstruction errors are not probabilities
    assert 0 <= records[-1]["BEGAN/k"] <= 1
    assert (tmp_path / "run" / "began-convergence.png").stat().st_size > 1000


def test_health_checks_raise_nothing_on_began_losses():
    """Loss/D near 0 means D reconstructs reals well, not "D wins": the BCE checks stay silent."""
    record = {"step": 10_000, "Loss/D": 0.01, "Loss/G": 0.001, "D(x)": 0.99, "D(G(z))": 0.0}
    for check in (ConvergenceCheck("began", 1, 0), RangeCheck("began", 1, 0)):
        assert all(check.check(None, record) is None for _ in range(3))
    assert get_loss("began").probabilistic is False


def test_began_refuses_other_losses_and_bad_params(tiny_overrides):
    with pytest.raises(ConfigError, match="use loss=began"):
        build_trainer(tiny(tiny_overrides, loss="nonsaturating"), progress=False)
    with pytest.raises(ConfigError, match="k_init"):
        build_trainer(tiny(tiny_overrides, algo={"k_init": 2.0}), progress=False)


@pytest.mark.parametrize("skip", [False, True])  # sec. 3.5.1's h0 skip connections in G and D
def test_resume_restores_k_and_equals_training_straight_through(tmp_path, tiny_overrides, skip):
    nets = {"model": {"g": {"width": 4, "skip": skip}, "d": {"width": 4, "h": 8, "skip": skip}}}
    base = dict(steps=2, ckpt_every=100, sample_every=100, log_every=1, algo={"lambda_k": 0.5, "k_init": 0.5}, diagnose={"enabled": False}, **CONSTANT_LR, **nets)
    train(tiny(tiny_overrides, **base), out=str(tmp_path / "straight"), progress=False)
    train(tiny(tiny_overrides, **dict(base, steps=1)), out=str(tmp_path / "half"), progress=False)
    half = load_checkpoint(str(tmp_path / "half" / "checkpoints" / "ckpt-latest.pt"))
    assert 0 <= half["extra"]["k"].item() <= 1 and half["extra"]["k"].item() != 0.5  # k moved and was saved
    assert resume(str(tmp_path / "half"), [{"steps": 2}], progress=False).step == 2
    a, b = (load_checkpoint(str(tmp_path / r / "checkpoints" / "ckpt-latest.pt")) for r in ("straight", "half"))
    assert_close({k: a[k] for k in ("nets", "extra", "opt_G", "opt_D")}, {k: b[k] for k in ("nets", "extra", "opt_G", "opt_D")}, rtol=0, atol=0)
