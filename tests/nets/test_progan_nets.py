"""ProGAN's networks: every stage runs, the fade-in identities hold exactly, equalized lr, minibatch
stddev and pixel norm do what Karras et al. 2018 (sec. 2-4) say."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_models
from ganforge.nets.progan import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm

SMALL = {"fmap_base": 64, "fmap_max": 16}  # 16, 16, 8, 4 feature maps at 4, 8, 16, 32


def nets(shape=(1, 32, 32), z_dim=8):
    torch.manual_seed(0)
    return build_models(ModelConfig(name="progan", z_dim=z_dim, g=SMALL, d=SMALL), shape, "image")


@pytest.mark.parametrize("stage, alpha", [(0, 1.0), (1, 0.3), (2, 1.0), (3, 0.3)])
def test_every_stage_runs_forward_and_backward(stage, alpha):
    G, D = nets((3, 32, 32))
    x = G(torch.randn(4, 8), None, stage, alpha)
    res = 4 * 2**stage
    assert x.shape == (4, 3, res, res) and x.abs().max() <= 1
    logits = D(x, None, stage, alpha)
    assert logits.shape == (4,)
    logits.sum().backward()
    used_g = [G.dense, G.to_rgb[stage], *G.blocks[1 : stage + 1]] + ([G.to_rgb[stage - 1]] if stage and alpha < 1 else [])
    used_d = [D.final, D.from_rgb[stage], *D.blocks[1 : stage + 1]] + ([D.from_rgb[stage - 1]] if stage and alpha < 1 else [])
    for module in used_g + used_d:
        for p in module.parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    unused = [G.to_rgb[s] for s in range(4) if s not in (stage, stage - 1)] + list(G.blocks[stage + 1 :])
    assert all(p.grad is None for m in unused for p in m.parameters())  # later blocks cost nothing yet


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_generator_fade_in_at_alpha_0_is_the_smaller_network_upsampled_and_at_1_the_new_block(stage):
    G, _ = nets()
    z = torch.randn(5, 8)
    smaller = G(z, None, stage - 1, 1.0)
    assert_close(G(z, None, stage, 0.0), F.interpolate(smaller, scale_factor=2, mode="nearest"), rtol=0, atol=0)
    # alpha = 1: the new block's image alone, computed here by hand from the shared trunk
    h = G.base(G.dense(G.latent_norm(z)).view(5, -1, 4, 4))
    for s in range(1, stage + 1):
        h = G.blocks[s](h)
    assert_close(G(z, None, stage, 1.0), torch.tanh(G.to_rgb[stage](h)), rtol=0, atol=0)
    # in between: the linear blend of the two images before tanh (Figure 2b)
    low = F.interpolate(torch.atanh(smaller), scale_factor=2, mode="nearest")
    new = G.to_rgb[stage](h)
    assert_close(G(z, None, stage, 0.25), torch.tanh(0.75 * low + 0.25 * new), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_discriminator_fade_in_at_alpha_0_is_the_smaller_network_on_pooled_images(stage):
    _, D = nets()
    res = 4 * 2**stage
    x = torch.randn(8, 1, res, res)
    assert_close(D(x, None, stage, 0.0), D(F.avg_pool2d(x, 2), None, stage - 1, 1.0), rtol=0, atol=0)
    h = D.blocks[stage](D.from_rgb[stage](x))
    for s in range(stage - 1, 0, -1):
        h = D.blocks[s](h)
    assert_close(D(x, None, stage, 1.0), D.final(h).view(-1), rtol=0, atol=0)


def test_stored_growth_gives_data_sized_images_and_d_pools_full_size_inputs():
    G, D = nets()
    z = torch.randn(4, 8)
    assert G(z).shape == (4, 1, 32, 32)  # a fresh net runs at full size
    G.set_growth(1, 0.5)
    D.set_growth(1, 0.5)
    native = G(z, None, 1, 0.5)
    assert_close(G(z), F.interpolate(native, size=(32, 32), mode="nearest"), rtol=0, atol=0)
    x = torch.randn(4, 1, 32, 32)
    assert_close(D(x), D(F.avg_pool2d(x, 4), None, 1, 0.5))
    assert int(G.state_dict()["stage"]) == 1 and float(G.state_dict()["alpha"]) == 0.5  # travels in checkpoints


def test_equalized_lr_stores_unit_normal_weights_and_scales_by_he_constant_at_run_time():
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 128, 3, 1)
    assert conv.scale == pytest.approx(math.sqrt(2 / (64 * 9)))
    w = conv.weight.detach()
    assert abs(w.mean().item()) < 0.01 and abs(w.std().item() - 1) < 0.01  # 73,728 draws of N(0, 1)
    assert torch.all(conv.bias == 0)
    x = torch.randn(2, 64, 5, 5)
    assert_close(conv(x), F.conv2d(x, w * math.sqrt(2 / 576), conv.bias, padding=1))
    dense = EqualizedLinear(200, 10, gain=1.0)
    assert dense.scale == pytest.approx(1 / math.sqrt(200))
    x = torch.randn(3, 200)
    assert_close(dense(x), x @ (dense.weight.detach() / math.sqrt(200)).T)
    G, D = nets()
    hidden = [m for m in G.blocks.modules() if isinstance(m, EqualizedConv2d)]
    assert all(m.scale == pytest.approx(math.sqrt(2 / (m.in_channels * 9))) for m in hidden)
    assert all(m.scale == pytest.approx(1 / math.sqrt(m.in_channels)) for m in G.to_rgb)  # linear toRGB: gain 1


def test_minibatch_stddev_appends_each_groups_mean_std_as_one_channel():
    x = torch.randn(8, 3, 4, 4)
    y = MinibatchStdDev(4)(x)
    assert y.shape == (8, 4, 4, 4)
    assert_close(y[:, :3], x)
    for group in range(2):  # group size 4 over 8 samples: sample i is in group i mod 2
        members = x[group::2]
        want = members.std(dim=0, unbiased=False).mean()
        assert_close(y[group::2, 3], want.expand(4, 4, 4))
    # a batch of 6 with group 4: groups of 3 (the largest divisor of 6 not above 4)
    x6 = torch.randn(6, 2, 2, 2)
    assert_close(MinibatchStdDev(4)(x6)[0, 2, 0, 0], x6[0::2].std(dim=0, unbiased=False).mean())


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = 5 * torch.randn(4, 16, 3, 3) + 2
    y = PixelNorm()(x)
    assert_close(y.pow(2).mean(dim=1), torch.ones(4, 3, 3), rtol=1e-5, atol=1e-5)
    assert_close(y / y.norm(dim=1, keepdim=True), x / x.norm(dim=1, keepdim=True))  # direction kept


@pytest.mark.parametrize("shape", [(1, 25, 25), (1, 28, 28), (3, 48, 48), (1, 16, 8)])
def test_sides_progan_cannot_reach_are_refused_naming_the_reachable_ones(shape):
    with pytest.raises(ConfigError, match="progan cannot make .* 4, 8, 16, 32, 64"):
        build_models(ModelConfig(name="progan", g=SMALL, d=SMALL), shape, "image")
