"""The R3GAN networks of Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN!
A Modern GAN Baseline" (NeurIPS 2024), read from the authors' code (github brownvc/R3GAN, commit 19a7ddf:
R3GAN/Networks.py, Resamplers.py, FusedOperators.py, train.py). /work/notes/r3gan.md has the line-by-line
reading and the training setup (RpGAN loss with R1 + R2, schedules) that goes with these nets.

A ResNet with no normalisation layers, whose residual branches are ConvNeXt-style inverted bottlenecks
with a grouped convolution, initialised so that every block starts as the identity:

  residual block (channels w, expansion e, groups of `group_size` channels):     (N, w, s, s) -> same
      conv 1x1  w -> e*w        bias + LeakyReLU(0.2)
      conv kxk  e*w -> e*w, grouped (e*w / group_size groups)   bias + LeakyReLU(0.2)
      conv 1x1  e*w -> w        (zero at init)
      out = x + branch(x)       identity shortcut, no activation on the trunk
  G: z (N, z_dim) -> basis: Linear(z_dim -> w_0) scales a learned w_0 x b x b pattern      (N, w_0, b, b)
     -> blocks -> [1x1 conv if the width changes, upsample x2, blocks] per stage        (N, w_n, S, S)
     -> conv 1x1 -> channels -> tanh (or clamp: see `output`)                          (N, C, S, S)
  D: x (N, C, S, S) -> conv 1x1 -> w_n -> [blocks, downsample x2, 1x1 conv if the width changes] per
     stage -> blocks at b x b -> depthwise b x b conv (the "discriminative basis")     (N, w_0, 1, 1)
     -> flatten -> Linear(w_0 -> 1) -> logit                                           (N,)
  Resampling is a fixed low-pass filter, [1, 2, 1] convolved with [1, 1] = [1, 3, 3, 1] (outer product,
  normalised): down = depthwise stride-2 conv with it, up = depthwise stride-2 transposed conv with 4x it
  (bilinear interpolation away from the zero-padded borders). The reference's CUDA upfirdn2d calls compute
  exactly these (its Resamplers.py "Reference" classes are the same convolutions).
  Convolutions and linear layers have no bias; each LeakyReLU carries a per-channel bias.

Initialisation (Networks.py:7-14, 25-35): every weight ~ N(0, (gain / sqrt(fan_in))^2) with fan_in =
in_channels / groups * k * k; gain 1 except inside residual branches, where the first two layers get
sqrt(2 / (1 + 0.2^2)) * L^(-1/4) (L = the net's number of residual blocks; the exponent is -1/(2m - 2) for
m = 3 layers per branch, fix-up style) and the last layer is zero. So at initialisation G is a linear
function of z (before its output squashing) and D a linear function of x.

Sizes: square S = b * 2^n with base b >= 4 and n >= 1 halvings (the reference: b = 4 only; we let the basis
be b x b so 28x28 works with b = 7): 8, 12, 16, 20, 24, 28, 32, 48, 64, ...; there are n + 1 stages.
Options (model.g / model.d): `width` for every stage, or `widths` per stage listed from the b x b stage up
to S x S for both G and D (D runs them in reverse, as the reference's train.py reverses G's lists),
`blocks` per stage, `expansion`, `group_size` (channels per group of the grouped conv), `kernel_size`;
G's `output`.

The paper's CIFAR-10 nets (train.py:178-183, 268-279): z_dim 64, width 768 at all four stages (4..32), 2 blocks
per stage, expansion 2, 96 groups = group_size 16, 3x3 kernels: 20,732,160 parameters in G and 20,683,776 in
D, the defaults here. (ImageNet presets use width 1536 and group_size 32.)

Deviations from the reference, and why:
  - Output: the reference's G ends in the 1x1 conv, unbounded (Networks.py:149), and D sees that raw output.
    Our interface promises images in [-1, 1]: `output: tanh` (default) squashes; `output: clamp` clamps in
    the forward pass but passes the gradient straight through, so within [-1, 1] it computes exactly the
    reference's G and its gradients.
  - Image channels come from the data shape (the reference hard-codes 3, Networks.py:138, 159).
  - The basis may be b x b with b = 4..7 and odd bases above (sizes the reference cannot make).
  - No bfloat16 stages (train.py:182, 279): precision is the trainer's choice, not the net's.
  - Class conditioning is not built in: ganforge's wrappers (nets/conditional.py) add it around any family.
    `model.conditional_d: projection` on this D projects the class embedding onto the w_0 basis features,
    as the reference's conditional D does (Networks.py:171), plus the unconditional Linear term, which the
    reference's conditional D lacks; `model.conditional_g: concat` feeds [z, onehot(y)] to the basis's
    Linear, the same family of maps as the reference's Linear(onehot -> 64) then concatenation.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from . import ModelFamily, register_family
from .dcgan import base_and_doublings
from .dcgan import check_size as dcgan_check_size

LRELU_SLOPE = 0.2  # FusedOperators.py:8 (and bias_act's lrelu default alpha)
LRELU_GAIN = math.sqrt(2 / (1 + LRELU_SLOPE**2))  # He gain of that LeakyReLU, FusedOperators.py:7
RESAMPLE_FILTER = (1, 2, 1)  # Networks.py:130, 152 (ResamplingFilter default)
LAYERS_PER_BRANCH = 3  # m in the branch gain L^(-1/(2m-2)), Networks.py:29-31
OUTPUTS = ("tanh", "clamp")


# ---------------------------------------------------------------------------------------------- blocks
def msr_init_(layer: nn.Module, gain: float) -> nn.Module:
    """W ~ N(0, (gain / sqrt(fan_in))^2), fan_in = in_features or in_channels / groups * kh * kw (Networks.py:7-14).
    gain 0 gives a zero layer."""
    fan_in = layer.weight[0].numel()
    if gain == 0:
        nn.init.zeros_(layer.weight)
    else:
        nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    return layer


def conv(c_in: int, c_out: int, kernel_size: int = 1, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    """A bias-free 'same' convolution with the reference's initialisation."""
    return msr_init_(nn.Conv2d(c_in, c_out, kernel_size, padding=(kernel_size - 1) // 2, groups=groups, bias=False), gain)


class BiasedLeakyReLU(nn.Module):
    """LeakyReLU(0.2)(x + b) with a per-channel bias b starting at 0: the only biases in the nets."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), LRELU_SLOPE)


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped convkxk(act(conv1x1(x))))): (N, w, s, s) -> (N, w, s, s), the identity at init."""

    def __init__(self, channels: int, expansion: int, group_size: int, kernel_size: int, total_blocks: int):
        super().__init__()
        hidden = channels * expansion
        # Fix-up scaling: with L blocks of m layers, scaling the branch's first m - 1 layers by L^(-1/(2m-2))
        # keeps the output variance bounded in L once the zero last layer has learned (Networks.py:29-31).
        gain = LRELU_GAIN * total_blocks ** (-1 / (2 * LAYERS_PER_BRANCH - 2))
        self.expand = conv(channels, hidden, 1, gain=gain)  # (N, e*w, s, s)
        self.act1 = BiasedLeakyReLU(hidden)
        self.grouped = conv(hidden, hidden, kernel_size, groups=hidden // group_size, gain=gain)  # (N, e*w, s, s)
        self.act2 = BiasedLeakyReLU(hidden)
        self.project = conv(hidden, channels, 1, gain=0.0)  # (N, w, s, s); zero: the block starts as x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.grouped(self.act1(self.expand(x)))))


def lowpass_kernel() -> torch.Tensor:
    """The 4x4 resampling kernel (Resamplers.py:6-9): [1, 2, 1] * [1, 1] = [1, 3, 3, 1], outer product, sum 1."""
    f = RESAMPLE_FILTER
    taps = torch.tensor([a + b for a, b in zip((0, *f), (*f, 0))], dtype=torch.float32)  # convolve with [1, 1]
    kernel = torch.outer(taps, taps)
    return kernel / kernel.sum()


class Resample(nn.Module):
    """Doubles (up) or halves (down) the side of every channel with the fixed low-pass kernel."""

    def __init__(self, up: bool):
        super().__init__()
        self.up = up
        # Up-sampling spreads each pixel over 4 outputs: 4x the kernel keeps a flat image flat.
        self.register_buffer("kernel", lowpass_kernel() * (4 if up else 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        weight = self.kernel.to(x.dtype).expand(c, 1, *self.kernel.shape)  # depthwise: (C, 1, 4, 4)
        if self.up:  # (N, C, s, s) -> (N, C, 2s, 2s): (s - 1) * 2 - 2 * 1 + 4
            return F.conv_transpose2d(x, weight, stride=2, padding=1, groups=c)
        return F.conv2d(x, weight, stride=2, padding=1, groups=c)  # (N, C, s, s) -> (N, C, s/2, s/2)


class GenerativeBasis(nn.Module):
    """z (N, z_dim) -> (N, w, b, b): each channel is a learned b x b pattern scaled by a linear function of z
    (Networks.py:77-85; no bias, no activation)."""

    def __init__(self, z_dim: int, channels: int, side: int):
        super().__init__()
        self.basis = nn.Parameter(torch.randn(channels, side, side))  # N(0, 1), as the reference
        self.linear = msr_init_(nn.Linear(z_dim, channels, bias=False), 1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.basis.unsqueeze(0) * self.linear(z.flatten(1))[:, :, None, None]


# ---------------------------------------------------------------------------------------------- nets
def stage_sides(size: int) -> list[int]:
    """Feature-map side of each stage, from the basis up: 32 -> [4, 8, 16, 32], 28 -> [7, 14, 28]."""
    base, n = base_and_doublings(size)
    return [base * 2**i for i in range(n + 1)]


def check_size(shape: tuple[int, ...]) -> None:
    dcgan_check_size(shape, "r3gan")


def _stage_widths(who: str, sides: list[int], width: int, widths: list[int], expansion: int, group_size: int) -> list[int]:
    """Per-stage widths from the basis up, checked so every grouped conv splits into whole groups."""
    if widths:
        if len(widths) != len(sides):
            raise ConfigError(
                f"{who}.widths has {len(widths)} entries but this image size has {len(sides)} stages "
                f"(sides {', '.join(map(str, sides))}, listed from the basis up)"
            )
        out = list(widths)
    else:
        out = [width] * len(sides)
    if min(out) < 1 or expansion < 1 or group_size < 1:
        raise ConfigError(f"{who}: widths, expansion and group_size must be positive; got widths {out}, expansion {expansion}, group_size {group_size}")
    for w in out:
        if (w * expansion) % group_size:
            raise ConfigError(
                f"{who}: a stage of width {w} expands to {w * expansion} channels, not a whole number of groups of "
                f"group_size={group_size}; pick widths with width * expansion divisible by group_size"
            )
    return out


def _check_common(who: str, blocks: int, kernel_size: int) -> None:
    if blocks < 1:
        raise ConfigError(f"{who}.blocks is the number of residual blocks per stage, at least 1; got {blocks}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(f"{who}.kernel_size must be odd (a 'same' convolution); got {kernel_size}")


class R3GANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape, widths: list[int], blocks: int, expansion: int, group_size: int, kernel_size: int, output: str):
        super().__init__()
        channels, size, _ = shape
        sides = stage_sides(size)
        self.z_dim, self.output = z_dim, output
        total_blocks = blocks * len(sides)  # L: the variance scaling counts every block of the net
        self.basis = GenerativeBasis(z_dim, widths[0], sides[0])  # (N, w_0, b, b)
        stages: list[nn.Module] = []
        for i, w in enumerate(widths):
            layers: list[nn.Module] = []
            if i > 0:  # change width at the lower resolution, then double the side: (N, w_i, 2s, 2s)
                if widths[i - 1] != w:
                    layers.append(conv(widths[i - 1], w))
                layers.append(Resample(up=True))
            layers += [ResidualBlock(w, expansion, group_size, kernel_size, total_blocks) for _ in range(blocks)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)  # (N, w_n, S, S)
        self.to_image = conv(widths[-1], channels)  # (N, C, S, S), unbounded as in the reference

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        img = self.to_image(self.stages(self.basis(z)))
        if self.output == "tanh":
            return torch.tanh(img)
        # Straight-through clamp: the forward value is clamped, the gradient is the identity's.
        return img + (img.clamp(-1, 1) - img).detach()


class R3GANDiscriminator(nn.Module):
    def __init__(self, shape, widths: list[int], blocks: int, expansion: int, group_size: int, kernel_size: int):
        super().__init__()
        channels, size, _ = shape
        sides = stage_sides(size)
        total_blocks = blocks * len(sides)
        down = widths[::-1]  # D's stages run from S x S down to the basis
        layers: list[nn.Module] = [conv(channels, down[0])]  # (N, w_n, S, S); no activation (Networks.py:159, 166)
        for i, w in enumerate(down):
            layers += [ResidualBlock(w, expansion, group_size, kernel_size, total_blocks) for _ in range(blocks)]
            if i + 1 < len(down):  # halve the side, then change width at the lower resolution: (N, w_{i+1}, s/2, s/2)
                layers.append(Resample(up=False))
                if down[i + 1] != w:
                    layers.append(conv(w, down[i + 1]))
        w0, b = down[-1], sides[0]
        layers += [
            msr_init_(nn.Conv2d(w0, w0, b, groups=w0, bias=False), 1.0),  # depthwise b x b: (N, w_0, 1, 1)
            nn.Flatten(),  # (N, w_0): the features a projection / ACGAN head reads (nets/heads.py)
            msr_init_(nn.Linear(w0, 1, bias=False), 1.0),  # (N, 1)
        ]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(x).view(-1)


# ---------------------------------------------------------------------------------------------- builders
def build_generator(
    z_dim: int,
    shape,
    *,
    width: int = 768,
    widths: list[int] = (),
    blocks: int = 2,
    expansion: int = 2,
    group_size: int = 16,
    kernel_size: int = 3,
    output: str = "tanh",
):
    _check_common("model.g", blocks, kernel_size)
    if output not in OUTPUTS:
        raise ConfigError(f"unknown model.g.output '{output}'; valid: {', '.join(OUTPUTS)}")
    stage_w = _stage_widths("model.g", stage_sides(shape[1]), width, widths, expansion, group_size)
    return R3GANGenerator(z_dim, shape, stage_w, blocks, expansion, group_size, kernel_size, output)


def build_discriminator(
    shape,
    *,
    width: int = 768,
    widths: list[int] = (),
    blocks: int = 2,
    expansion: int = 2,
    group_size: int = 16,
    kernel_size: int = 3,
):
    _check_common("model.d", blocks, kernel_size)
    stage_w = _stage_widths("model.d", stage_sides(shape[1]), width, widths, expansion, group_size)
    return R3GANDiscriminator(shape, stage_w, blocks, expansion, group_size, kernel_size)


# ---------------------------------------------------------------------------------------------- registered
register_family(
    ModelFamily(
        name="r3gan",
        description="Huang et al. 2024 R3GAN: normalisation-free ResNet of grouped inverted bottlenecks, fix-up init, "
        "filtered resampling, basis in/out; sides b*2^n: 8, 16, 28, 32, 64...; options width (768) or widths, blocks (2), "
        "expansion (2), group_size (16), kernel_size (3), G output=tanh|clamp; the paper's CIFAR-10 nets use model.z_dim=64",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_size,
    )
)
