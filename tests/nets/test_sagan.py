"""SAGAN's networks (Zhang et al. 2019): the SNGAN ResNet with self-attention, and its preset."""
import pytest

import ganforge as gf
from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_models
from ganforge.nets.attention import SelfAttention
from ganforge.nets.spectral import has_spectral_norm


def _attention_inputs(net, x):
    """The (C, H, W) each attention block of `net` sees when it runs on x."""
    seen = []
    hooks = [m.register_forward_pre_hook(lambda m, a: seen.append(tuple(a[0].shape[1:]))) for m in net.modules() if isinstance(m, SelfAttention)]
    net(x)
    for h in hooks:
        h.remove()
    return seen


def test_attention_sits_at_the_chosen_resolution():
    import torch

    G, D = build_models(ModelConfig(name="sagan", z_dim=8, g={"width": 8}, d={"width": 4}), (1, 32, 32), "image")
    assert _attention_inputs(G, torch.randn(2, 8)) == [(8, 16, 16)]
    assert _attention_inputs(D, torch.randn(2, 1, 32, 32)) == [(4, 16, 16)]
    G, D = build_models(ModelConfig(name="sagan", z_dim=8, g={"width": 8, "attention_res": 0}, d={"width": 4, "attention_res": 8}), (1, 32, 32), "image")
    assert _attention_inputs(G, torch.randn(2, 8)) == []
    assert _attention_inputs(D, torch.randn(2, 1, 32, 32)) == [(4, 8, 8)]  # once, after the last 8x8 block


def test_unknown_attention_resolution_names_the_valid_ones():
    with pytest.raises(ConfigError, match=r"model.g.attention_res=12 .* valid: 0 \(none\), 8, 16, 32"):
        build_models(ModelConfig(name="sagan", g={"attention_res": 12}), (1, 32, 32), "image")
    with pytest.raises(ConfigError, match=r"model.d.attention_res=32 .* valid: 0 \(none\), 16, 8"):
        build_models(ModelConfig(name="sagan", d={"attention_res": 32}), (1, 32, 32), "image")


def test_preset_trains_a_few_steps(tmp_path, tiny_overrides):
    overrides = {"image_size": 32, "steps": 2, "model": {"g": {"width": 8}, "d": {"width": 8}}}
    cfg = gf.resolve_config("sagan", [tiny_overrides, overrides])
    assert (cfg.loss, cfg.n_critic, cfg.opt_g.lr, cfg.opt_d.lr) == ("hinge", 1, 1e-4, 4e-4)
    result = gf.train(cfg, out=str(tmp_path / "run"), progress=False)
    run = gf.load_run(result.run_dir)
    assert run.step == 2
    for net in (run.G, run.nets["D"]):
        assert any(has_spectral_norm(m) for m in net.modules()) and any(isinstance(m, SelfAttention) for m in net.modules())
    assert gf.generate(run, 3, seed=0).shape == (3, 1, 32, 32)
