"""R3GAN's networks (Huang et al. 2024; reference: github brownvc/R3GAN R3GAN/Networks.py, train.py)."""
import math

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_models
from ganforge.nets.r3gan import LRELU_GAIN, Resample, ResidualBlock, build_discriminator, build_generator, lowpass_kernel


def _count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def _tiny(shape, g=None, d=None, num_classes=0, **cfg):
    """CPU-sized nets: width 8 (expanded to 16 channels, one group of the default group_size 16), z of 8."""
    g = {"width": 8, **(g or {})}
    d = {"width": 8, **(d or {})}
    return build_models(ModelConfig(name="r3gan", z_dim=8, g=g, d=d, **cfg), shape, "image", num_classes=num_classes)


@pytest.mark.parametrize("shape, sides", [
    ((1, 28, 28), [7, 14, 28]),  # MNIST: a 7x7 basis
    ((3, 32, 32), [4, 8, 16, 32]),  # CIFAR-10: the reference's 4x4 basis
    ((3, 64, 64), [4, 8, 16, 32, 64]),
    ((3, 48, 48), [6, 12, 24, 48]),
    ((6, 16, 16), [4, 8, 16]),  # PacGAN-packed or concat-conditioned inputs have more channels
])  # fmt: skip
def test_forward_backward_and_stage_sides(shape, sides):
    torch.manual_seed(0)
    G, D = _tiny(shape)
    z = torch.randn(3, 8)
    seen = []
    hooks = [stage.register_forward_hook(lambda m, i, o: seen.append(o.shape[-1])) for stage in G.stages]
    x = G(z)
    for h in hooks:
        h.remove()
    assert seen == sides
    assert x.shape == (3, *shape) and x.min() >= -1 and x.max() <= 1
    logits = D(x)
    assert logits.shape == (3,)
    logits.sum().backward()
    for net in (G, D):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_d_supports_the_double_backward_of_a_gradient_penalty():
    # R1/R2 (the reference's Trainer.py) differentiate ||grad_x D(x)||^2 with respect to D's weights.
    torch.manual_seed(0)
    _, D = _tiny((3, 16, 16))
    for p in D.parameters():  # move the zero layers off zero so every weight is in the penalty's graph
        torch.nn.init.normal_(p, 0.0, 0.1)
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    grad.square().sum().backward()
    # Every weight reaches the penalty; the LeakyReLU biases do not: grad_x D is piecewise constant in them.
    for name, p in D.named_parameters():
        assert p.grad is not None and (p.grad.abs().sum() > 0) == (not name.endswith(".bias")), name


def test_papers_cifar10_nets_have_the_reference_parameter_counts():
    # train.py preset CIFAR10: z 64, widths 3*1024//4 = 768 at 4, 8, 16, 32; 2 blocks per stage; 96 groups
    # (1536 expanded channels / 96 = 16 per group); expansion 2. Running the reference's own Networks.py on
    # CPU gives G 20,732,160 and D 20,683,776 parameters; written out:
    block = 768 * 1536 + 1536 * 16 * 9 + 1536 * 768 + 2 * 1536  # expand, grouped 3x3, project, two biases
    g = 8 * block + 768 * 16 + 64 * 768 + 768 * 3  # + 4x4 basis, its linear layer, 1x1 conv to RGB
    d = 8 * block + 3 * 768 + 768 * 16 + 768  # + 1x1 conv from RGB, depthwise 4x4 basis, linear to the logit
    assert (g, d) == (20_732_160, 20_683_776)
    G, D = build_models(ModelConfig(name="r3gan", z_dim=64), (3, 32, 32), "image")
    assert (_count(G), _count(D)) == (g, d)
    groups = {m.groups for m in G.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)}
    assert groups == {96}


def test_every_residual_block_is_the_identity_at_init_with_fixup_gains():
    torch.manual_seed(0)
    G = build_generator(64, (3, 32, 32))  # the paper's CIFAR-10 G: L = 8 blocks
    blocks = [m for m in G.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 8
    x = torch.randn(2, 768, 4, 4)
    for block in blocks:
        assert torch.equal(block(x), x)
        assert block.project.weight.abs().max() == 0
    # The branch's first two layers: N(0, (sqrt(2 / 1.04) * L^(-1/4) / sqrt(fan_in))^2) (Networks.py:31).
    gain = math.sqrt(2 / (1 + 0.2**2)) * 8 ** (-1 / 4)
    assert LRELU_GAIN == pytest.approx(math.sqrt(2 / 1.04))
    stds = torch.tensor([blocks[0].expand.weight.std().item(), blocks[0].grouped.weight.std().item()])
    torch.testing.assert_close(stds, torch.tensor([gain / math.sqrt(768), gain / math.sqrt(16 * 9)]), rtol=0.01, atol=0)


def test_at_init_d_is_linear_in_x_and_g_linear_in_z():
    # Zero residual branches leave only linear layers (1x1 convs, filtered resampling, the bases).
    torch.manual_seed(0)
    G, D = _tiny((3, 16, 16), g={"widths": [16, 8, 8]}, d={"widths": [16, 8, 8]})
    x1, x2 = torch.randn(2, 3, 3, 16, 16)
    torch.testing.assert_close(D(2 * x1 - 3 * x2), 2 * D(x1) - 3 * D(x2))
    pre = lambda z: G.to_image(G.stages(G.basis(z)))  # noqa: E731  (before tanh)
    z1, z2 = torch.randn(2, 3, 8)
    torch.testing.assert_close(pre(2 * z1 - 3 * z2), 2 * pre(z1) - 3 * pre(z2))


def test_resampling_kernel_and_bilinear_upsampling():
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])  # [1, 2, 1] convolved with [1, 1] (Resamplers.py:6-9)
    torch.testing.assert_close(lowpass_kernel(), torch.outer(taps, taps) / 64)
    x = torch.randn(2, 3, 8, 8)
    up = Resample(up=True)(x)
    assert up.shape == (2, 3, 16, 16)
    # Away from the zero-padded border, x2 upsampling with this kernel is bilinear interpolation.
    bilinear = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], bilinear[..., 1:-1, 1:-1])
    down = Resample(up=False)(torch.ones(1, 1, 8, 8))
    assert down.shape == (1, 1, 4, 4)
    torch.testing.assert_close(down[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2))  # a flat image stays flat inside


def test_per_stage_widths_run_from_the_basis_up_and_d_mirrors_them():
    G, D = _tiny((1, 28, 28), g={"widths": [32, 16, 8]}, d={"widths": [32, 16, 8]})
    h = G.basis(torch.randn(2, 8))
    shapes = [tuple(h.shape[1:])]
    for stage in G.stages:
        h = stage(h)
        shapes.append(tuple(h.shape[1:]))
    assert shapes == [(32, 7, 7), (32, 7, 7), (16, 14, 14), (8, 28, 28)]
    x, shapes = torch.randn(2, 1, 28, 28), []
    for layer in D.main:
        x = layer(x)
        if isinstance(layer, (ResidualBlock, torch.nn.Flatten)):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(8, 28, 28)] * 2 + [(16, 14, 14)] * 2 + [(32, 7, 7)] * 2 + [(32,)]


def test_clamp_output_is_in_range_and_passes_the_gradient_straight_through():
    torch.manual_seed(0)
    G, _ = _tiny((1, 16, 16), g={"output": "clamp"})
    with torch.no_grad():
        G.to_image.weight.mul_(100)  # push many pixels out of [-1, 1]
    z = torch.randn(4, 8)
    x = G(z)
    assert x.min() == -1 and x.max() == 1
    raw = G.to_image(G.stages(G.basis(z)))  # the reference's unbounded output
    assert (raw.abs() > 1).any() and (raw.abs() < 1).any()
    torch.testing.assert_close(x, raw.clamp(-1, 1))
    weights = torch.randn_like(x)  # any upstream gradient reaches G's weights as if there were no clamp
    (clamped_grad,) = torch.autograd.grad((weights * x).sum(), G.to_image.weight)
    (raw_grad,) = torch.autograd.grad((weights * raw).sum(), G.to_image.weight)
    torch.testing.assert_close(clamped_grad, raw_grad)


def test_projection_and_concat_conditioning_wrap_the_family():
    # The reference's class-conditional D projects a class embedding onto the 768 basis features
    # (Networks.py:171); ganforge's projection head reads the same features (D.main up to the last Linear).
    torch.manual_seed(0)
    G, D = _tiny((3, 16, 16), num_classes=10, conditional_g="concat", conditional_d="projection")
    c = torch.tensor([0, 3, 9])
    x = G(torch.randn(3, 8), c)
    assert D(x, c).shape == (3,)
    assert D.embed.weight.shape == (10, 8)  # w_0 = 8 features


@pytest.mark.parametrize("shape, match", [
    ((1, 24, 32), "square"),
    ((1, 25, 25), "cannot make 25x25 .* e.g. 8, 12, 16, 20, 24, 28, 32"),
    ((1, 6, 6), "cannot make 6x6"),
])  # fmt: skip
def test_refuses_sizes_it_cannot_make(shape, match):
    with pytest.raises(ConfigError, match=match):
        build_models(ModelConfig(name="r3gan"), shape, "image")


@pytest.mark.parametrize("g, match", [
    ({"widths": [8, 8]}, r"model.g.widths has 2 entries but this image size has 4 stages \(sides 4, 8, 16, 32"),
    ({"width": 12}, "width 12 expands to 24 channels, not a whole number of groups of group_size=16"),
    ({"output": "sigmoid"}, "unknown model.g.output 'sigmoid'; valid: tanh, clamp"),
    ({"blocks": 0}, "model.g.blocks .* at least 1"),
    ({"kernel_size": 4}, "model.g.kernel_size must be odd"),
])  # fmt: skip
def test_bad_options_name_the_key(g, match):
    with pytest.raises(ConfigError, match=match):
        build_models(ModelConfig(name="r3gan", g=g), (3, 32, 32), "image")


def test_d_options_are_checked_too():
    with pytest.raises(ConfigError, match="model.d: a stage of width 8 expands to 16 channels.*group_size=32"):
        build_discriminator((3, 32, 32), width=8, group_size=32)
