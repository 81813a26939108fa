"""DCGAN (Radford, Metz & Chintala 2015) with the topology of pytorch/examples' dcgan/main.py.

G: z (N, z_dim, 1, 1) -> ConvTranspose to a base of b x b -> n x [ConvTranspose 4x4 stride 2, BN, ReLU]
   halving channels each time -> tanh image.  D mirrors it: n x [Conv 4x4 stride 2, BN, LeakyReLU(0.2)]
   (no BN on the first layer) -> Conv b x b -> one logit.
Sizes: any even side S = b * 2**n with b >= 4 and n >= 1 (so 64 = 4*2**4 as in the paper; every
multiple of 16; 28 = 7*2**2 for MNIST; 8 for the digits).
Options: `extra_layers` 3x3 stride-1 conv blocks at the top resolution (the WGAN reference code and the
fast.ai WGAN notebook); `upsample: nearest` replaces each strided transposed conv by nearest-neighbour
upsampling + 3x3 conv, which avoids checkerboard artefacts (Odena et al. 2016, distill.pub);
`attention_res: R` (G and D separately) inserts a SAGAN self-attention block (nets/attention.py) after
the layer whose output side is R, so SAGAN's method can run on these nets; 0 (the default) for none.
`norm` chooses D's normalisation ('layer' for WGAN-GP, whose penalty is per-sample: no batch norm).
D's convolutions have no bias, as in pytorch/examples, except with `norm: none`: a D of bias-free convs and
LeakyReLUs is positively homogeneous, D(a*x) = a*D(x), so D(0) = 0 whatever it learns, and a G that is
scored below zero escapes by shrinking its images to flat mid-grey (x = 0), where D cannot follow (this
trapped cgan-projection, spectral norm and no BatchNorm, in faint grey). Spectral-norm Ds keep biases in
the SNGAN paper's own networks.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError
from . import ModelFamily, register_family
from .attention import SelfAttention, check_attention_res
from .init import dcgan_init


def base_and_doublings(size: int) -> tuple[int, int]:
    """S -> (b, n) with S = b * 2**n, halving while the result stays an integer >= 4."""
    base, n = size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base //= 2
        n += 1
    return base, n


def check_size(shape: tuple[int, ...], family: str = "dcgan") -> None:
    """Square sides S = b*2^n with a base b >= 4 and n >= 1 doublings (any family that grows so)."""
    c, h, w = shape
    if h != w:
        raise ConfigError(f"{family} makes square images; got {h}x{w}")
    base, n = base_and_doublings(h)
    if n < 1:
        raise ConfigError(
            f"{family} cannot make {h}x{h} images: it makes even sides S = b*2^n (b >= 4, n >= 1), e.g. "
            f"8, 12, 16, 20, 24, 28, 32, 48, 64, 128; use image_size={max(8, h + (h % 2))} to resize the data"
        )


def _norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # LayerNorm over (C, H, W) of each sample
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"unknown norm '{kind}'; valid: batch, layer, instance, none")


def _up(c_in: int, c_out: int, upsample: str) -> list[nn.Module]:
    if upsample == "deconv":
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
    if upsample == "nearest":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]
    raise ConfigError(f"unknown upsample '{upsample}'; valid: deconv, nearest")


def _attention(channels: int, side: int, attention_res: int) -> list[nn.Module]:
    """A self-attention block for a feature map of this side when it is the one asked for, else nothing."""
    return [SelfAttention(channels)] if side == attention_res else []


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape, width: int, extra_layers: int, upsample: str, attention_res: int):
        super().__init__()
        self.z_dim = z_dim
        channels, size, _ = shape
        base, n = base_and_doublings(size)
        sides = [base * 2**i for i in range(n)]  # the feature maps below the image: base ... S/2
        check_attention_res(attention_res, sides, "g")
        c = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, c, base, 1, 0, bias=False),  # (c) x base x base
            nn.BatchNorm2d(c),
            nn.ReLU(True),
        ]
        layers += _attention(c, sides[0], attention_res)
        for side in sides[1:]:  # each doubles the side and halves the channels, ending at (width) x S/2
            layers += [*_up(c, c // 2, upsample), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
            layers += _attention(c, side, attention_res)
        for _ in range(extra_layers):  # (width) x S/2 x S/2, unchanged
            layers += [nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
        layers += [*_up(c, channels, upsample), nn.Tanh()]  # (channels) x S x S
        self.main = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(z.view(len(z), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, shape, width: int, extra_layers: int, norm: str, attention_res: int):
        super().__init__()
        channels, size, _ = shape
        base, n = base_and_doublings(size)
        sides = [size // 2**i for i in range(1, n + 1)]  # each conv's output side: S/2 ... base
        check_attention_res(attention_res, sides, "d")
        c, bias = width, norm == "none"  # biases only where no normalisation shifts the features (docstring)
        layers: list[nn.Module] = [nn.Conv2d(channels, c, 4, 2, 1, bias=bias), nn.LeakyReLU(0.2, True)]  # (width) x S/2
        for _ in range(extra_layers):
            layers += [nn.Conv2d(c, c, 3, 1, 1, bias=bias), _norm2d(norm, c), nn.LeakyReLU(0.2, True)]
        layers += _attention(c, sides[0], attention_res)
        for side in sides[1:]:  # each halves the side and doubles the channels, down to base x base
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=bias), _norm2d(norm, c * 2), nn.LeakyReLU(0.2, True)]
            c *= 2
            layers += _attention(c, side, attention_res)
        layers += [nn.Conv2d(c, 1, base, 1, 0, bias=bias)]  # 1 x 1 x 1: the logit
        self.main = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(x).view(-1)


def build_generator(z_dim: int, shape, *, width: int = 64, extra_layers: int = 0, upsample: str = "deconv", attention_res: int = 0):
    return DCGANGenerator(z_dim, shape, width, extra_layers, upsample, attention_res)


def build_discriminator(shape, *, width: int = 64, extra_layers: int = 0, norm: str = "batch", attention_res: int = 0):
    return DCGANDiscriminator(shape, width, extra_layers, norm, attention_res)


register_family(
    ModelFamily(
        name="dcgan",
        description="Radford et al. 2015 strided-conv G/D (pytorch/examples topology); sides b*2^n: 8, 16, 28, 32, 64, 128...; "
        "options width, extra_layers, upsample=deconv|nearest, norm, attention_res",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_size,
    )
)
