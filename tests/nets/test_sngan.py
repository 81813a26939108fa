"""SNGAN's networks (Miyato et al. 2018, Appendix B) and presets."""
import pytest
import torch

import ganforge as gf
from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_models
from ganforge.nets.spectral import has_spectral_norm


def _count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def test_standard_cnn_has_table_3s_layers():
    """Parameter counts of Table 3 for 32x32 RGB (M_g = 4), written out layer by layer."""
    G, D = build_models(ModelConfig(name="sngan-cnn", z_dim=128), (3, 32, 32), "image")
    g_layers = [
        128 * 4 * 4 * 512 + 4 * 4 * 512, 2 * 512,  # dense -> 4x4x512, BN
        512 * 256 * 16 + 256, 2 * 256,  # deconv 4x4 s2 -> 256, BN
        256 * 128 * 16 + 128, 2 * 128,
        128 * 64 * 16 + 64, 2 * 64,
        64 * 3 * 9 + 3,  # conv 3x3 -> 3
    ]  # fmt: skip
    d_layers = [
        3 * 64 * 9 + 64, 64 * 64 * 16 + 64,  # conv 3x3 64, conv 4x4 s2 64
        64 * 128 * 9 + 128, 128 * 128 * 16 + 128,
        128 * 256 * 9 + 256, 256 * 256 * 16 + 256,
        256 * 512 * 9 + 512,  # conv 3x3 512
        4 * 4 * 512 + 1,  # dense -> 1
    ]  # fmt: skip
    assert (_count(G), _count(D)) == (sum(g_layers), sum(d_layers))
    assert D.main[1].negative_slope == 0.1


def test_resnet_block_resolutions_at_32():
    """Table 4: G 4 -> 8 -> 16 -> 32; D 32 -> 16 -> 8 -> 8 -> 8, then global sum pooling."""
    G, D = build_models(ModelConfig(name="sngan-resnet", z_dim=16, g={"width": 8}, d={"width": 4}), (1, 32, 32), "image")
    h = G.dense(torch.randn(2, 16)).view(2, 8, 4, 4)
    sides = []
    for block in G.blocks:
        h = block(h)
        sides.append(tuple(h.shape[1:]))
    assert sides == [(8, 8, 8), (8, 16, 16), (8, 32, 32)]
    x, sides = torch.randn(2, 1, 32, 32), []
    for block in D.blocks:
        x = block(x)
        sides.append(tuple(x.shape[1:]))
    assert sides == [(4, 16, 16), (4, 8, 8), (4, 8, 8), (4, 8, 8)]
    # The two blocks at 8x8 keep channels and size: identity shortcuts, as in the paper's D.
    assert [b.shortcut is None for b in D.blocks] == [False, False, True, True]


@pytest.mark.parametrize("name, shape, match", [
    ("sngan-cnn", (1, 28, 28), "sides divisible by 8"),
    ("sngan-resnet", (1, 24, 24), "side 4\\*2\\^n, n >= 2"),
    ("sngan-resnet", (1, 8, 8), "side 4\\*2\\^n, n >= 2"),
])  # fmt: skip
def test_refuses_sizes_it_cannot_make(name, shape, match):
    with pytest.raises(ConfigError, match=match):
        build_models(ModelConfig(name=name), shape, "image")


@pytest.mark.parametrize("preset", ["sngan", "sngan-resnet"])
def test_preset_trains_a_few_steps(tmp_path, tiny_overrides, preset):
    cfg = gf.resolve_config(preset, [tiny_overrides, {"steps": 2, "model": {"g": {"width": 4}, "d": {"width": 4}}}])
    assert (cfg.loss, cfg.n_critic, cfg.model.spectral_norm, cfg.opt_d.betas) == ("hinge", 5, ["d"], [0.0, 0.9])
    result = gf.train(cfg, out=str(tmp_path / "run"), progress=False)
    run = gf.load_run(result.run_dir)
    assert run.step == 2
    D = run.nets["D"]
    assert any(has_spectral_norm(m) for m in D.modules()) and not any(has_spectral_norm(m) for m in run.G.modules())
    assert gf.generate(run, 3, seed=0).shape == (3, 1, 16, 16)
