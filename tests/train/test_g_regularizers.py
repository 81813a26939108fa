"""G's shared regularisers (train/g_regularizers.py) enter G's update exactly: BigGAN's orthogonal
regularisation adds beta * grad R(W) to G's gradient and logs R as Loss/G/ortho."""
import torch
from torch.testing import assert_close

from ganforge.losses import orthogonal_penalty
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer

TINY = {"data": "fake", "image_size": 16, "channels": 1, "batch_size": 4, "n_samples": 4, "tensorboard": False, "n_critic": 1,
        "model": {"g": {"ch": 2, "shared_dim": 4}, "d": {"ch": 2}}}  # fmt: skip


def g_gradients(ortho_weight: float):
    """G's gradients at its first optimizer step, G's weights before it, and the step's statistics."""
    t = build_trainer(resolve_config("biggan-demo", [{**TINY, "ortho_weight": ortho_weight}]), progress=False)
    seen = []
    t.courses["G"].prepare(0).register_step_pre_hook(lambda opt, args, kwargs: seen.append([p.grad.clone() for p in t.nets["G"].parameters()]))
    G_before = {k: v.clone() for k, v in t.nets["G"].state_dict().items()}
    stats = t.train_step()
    return seen[0], G_before, stats, t


def test_ortho_weight_adds_beta_times_the_penalty_gradient_to_g():
    beta = 0.5
    plain, _, _, _ = g_gradients(0.0)
    regularised, G_before, stats, t = g_gradients(beta)
    G = t.nets["G"]
    G.load_state_dict(G_before)  # D's steps leave G alone: these are the weights G's step saw
    penalty = orthogonal_penalty(G)
    grads = torch.autograd.grad(penalty, list(G.parameters()), allow_unused=True)
    expected = [p + beta * (g if g is not None else 0) for p, g in zip(plain, grads)]
    assert_close(regularised, expected, rtol=1e-4, atol=1e-6)
    assert_close(stats["Loss/G/ortho"], penalty.detach())
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
