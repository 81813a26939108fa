"""The networks of Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral Normalization for GANs" (SNGAN),
Appendix B: the "standard CNN" (Table 3) and the ResNet for 32x32 images (Table 4, Figure 8).

Spectral normalisation itself is not built in: it is the model switch `model.spectral_norm: [d]`
(nets/spectral.py), applied by build_models to whatever family is chosen, as the presets do.

sngan-cnn (Table 3; M = 32 for CIFAR-10, any side divisible by 8 here, M_g = M / 8):
  G: z (128) -> dense M_g x M_g x 8w -> 3 x [deconv 4x4 stride 2, BN, ReLU] (4w, 2w, w) -> conv 3x3 -> tanh
  D: [conv 3x3 s1 w, conv 4x4 s2 w, conv 3x3 s1 2w, conv 4x4 s2 2w, conv 3x3 s1 4w, conv 4x4 s2 4w,
      conv 3x3 s1 8w], each LeakyReLU(0.1) -> dense -> 1 logit            (w = 64 in the paper)
sngan-resnet (Table 4, M = 4 * 2^n, n >= 2; n = 3 for 32x32):
  G: z (128) -> dense 4 x 4 x w -> n x ResBlock up (w) -> BN, ReLU, conv 3x3 -> tanh      (w = 256)
  D: ResBlock down (w) -> (n - 2) x ResBlock down (w) -> 2 x ResBlock (w) -> ReLU -> global sum
     pooling -> dense -> 1 logit                                                          (w = 128)
  G's block: BN, ReLU, upsample x2 (nearest), conv 3x3, BN, ReLU, conv 3x3; shortcut: upsample, conv 1x1.
  D's block: ReLU, conv 3x3, ReLU, conv 3x3, (avg-pool 2x2); shortcut: conv 1x1, (avg-pool), only when
  the block changes channels or size. D's first block sees raw pixels: conv, ReLU, conv, avg-pool, with
  the shortcut avg-pool then conv 1x1 (no ReLU before the first conv).
  `attention_res: R` inserts a SAGAN self-attention block (nets/attention.py) after the block whose
  output is R x R, in G and in D (0 = none); the `sagan` family (nets/sagan.py) is this with R = 16.
Weights: Glorot-uniform (gain sqrt(2) on residual convs, 1 on shortcuts and dense layers), as in the
authors' released Chainer code; the paper's Appendix B does not state an initialisation.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from . import ModelFamily, register_family
from .attention import SelfAttention, check_attention_res


# ---------------------------------------------------------------------------------------------- blocks
def _glorot(module: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


class GBlock(nn.Module):
    """Generator residual block: doubles the side."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = _glorot(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2))
        self.conv2 = _glorot(nn.Conv2d(c_out, c_out, 3, 1, 1), math.sqrt(2))
        self.shortcut = _glorot(nn.Conv2d(c_in, c_out, 1), 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """Discriminator residual block; `down` halves the side; `first` is the block on raw pixels."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = _glorot(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2))
        self.conv2 = _glorot(nn.Conv2d(c_out, c_out, 3, 1, 1), math.sqrt(2))
        # A learned shortcut only where the identity does not fit (channels or size change).
        self.shortcut = _glorot(nn.Conv2d(c_in, c_out, 1), 1.0) if (c_in != c_out or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.shortcut is None:
            return h + x
        if self.first:  # pool, then 1x1 conv: the same maths at a quarter of the cost
            return h + self.shortcut(F.avg_pool2d(x, 2))
        s = self.shortcut(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


# ---------------------------------------------------------------------------------------------- CNN
class CNNGenerator(nn.Module):
    def __init__(self, z_dim: int, shape, width: int):
        super().__init__()
        channels, size, _ = shape
        self.base, self.top = size // 8, width * 8
        self.z_dim = z_dim
        self.dense = nn.Linear(z_dim, self.base * self.base * self.top)  # (8w) x M_g x M_g
        layers: list[nn.Module] = [nn.BatchNorm2d(self.top), nn.ReLU(True)]
        c = self.top
        for _ in range(3):  # (4w) x 2M_g, (2w) x 4M_g, (w) x M
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh()]  # (channels) x M x M
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        h = self.dense(z.view(len(z), -1)).view(len(z), self.top, self.base, self.base)
        return self.main(h)


class CNNDiscriminator(nn.Module):
    def __init__(self, shape, width: int, slope: float):
        super().__init__()
        channels, size, _ = shape
        layers: list[nn.Module] = []
        c_in = channels
        for i, c in enumerate((width, 2 * width, 4 * width)):  # (w) x M, (2w) x M/2, (4w) x M/4 ...
            layers += [nn.Conv2d(c_in, c, 3, 1, 1), nn.LeakyReLU(slope, True)]
            layers += [nn.Conv2d(c, c, 4, 2, 1), nn.LeakyReLU(slope, True)]  # ... halved
            c_in = c
        layers += [nn.Conv2d(c_in, 8 * width, 3, 1, 1), nn.LeakyReLU(slope, True)]  # (8w) x M/8 x M/8
        self.main = nn.Sequential(*layers)
        self.dense = nn.Linear(8 * width * (size // 8) ** 2, 1)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.dense(self.main(x).flatten(1)).view(-1)


def check_cnn_size(shape: tuple[int, ...]) -> None:
    c, h, w = shape
    if h != w or h % 8 or h < 8:
        raise ConfigError(
            f"sngan-cnn makes square images with sides divisible by 8 (8, 16, 32, 48, 64...); got {h}x{w}; "
            f"use image_size={max(8, 8 * round(h / 8))} to resize the data"
        )


def build_cnn_generator(z_dim: int, shape, *, width: int = 64):
    return CNNGenerator(z_dim, shape, width)


def build_cnn_discriminator(shape, *, width: int = 64, slope: float = 0.1):
    return CNNDiscriminator(shape, width, slope)


# ---------------------------------------------------------------------------------------------- ResNet
def resnet_doublings(size: int) -> int:
    """S -> n with S = 4 * 2**n; -1 when S is not of that form."""
    n = int(round(math.log2(size / 4))) if size >= 4 else -1
    return n if n >= 0 and 4 * 2**n == size else -1


def check_resnet_size(shape: tuple[int, ...], family: str = "sngan-resnet") -> None:
    c, h, w = shape
    if h != w or resnet_doublings(h) < 2:
        raise ConfigError(f"{family} makes square images of side 4*2^n, n >= 2 (16, 32, 64, 128...); got {h}x{w}; use image_size=32")


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, shape, width: int, attention_res: int):
        super().__init__()
        channels, size, _ = shape
        n = resnet_doublings(size)
        sides = [4 * 2 ** (i + 1) for i in range(n)]  # each block's output side: 8, 16, 32 for 32x32
        check_attention_res(attention_res, sides, "g")
        self.z_dim, self.width = z_dim, width
        self.dense = _glorot(nn.Linear(z_dim, 4 * 4 * width), 1.0)  # (w) x 4 x 4
        blocks: list[nn.Module] = []
        for side in sides:
            blocks.append(GBlock(width, width))  # (w) x side x side
            if side == attention_res:
                blocks.append(SelfAttention(width))
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(True), _glorot(nn.Conv2d(width, channels, 3, 1, 1), 1.0), nn.Tanh())

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        h = self.dense(z.view(len(z), -1)).view(len(z), self.width, 4, 4)
        return self.out(self.blocks(h))  # (channels) x S x S


class ResNetDiscriminator(nn.Module):
    def __init__(self, shape, width: int, attention_res: int):
        super().__init__()
        channels, size, _ = shape
        n = resnet_doublings(size)
        downs = n - 1  # 32x32: two halvings to 8x8, then two blocks at 8x8 (Table 4)
        sides = [size // 2 ** (i + 1) for i in range(downs)] + [size // 2**downs] * 2
        check_attention_res(attention_res, sorted(set(sides), reverse=True), "d")
        blocks: list[nn.Module] = []
        for i, side in enumerate(sides):
            blocks.append(DBlock(channels if i == 0 else width, width, down=i < downs, first=i == 0))
            if side == attention_res and (i + 1 == len(sides) or sides[i + 1] != side):
                blocks.append(SelfAttention(width))  # after the last block at that side
        self.blocks = nn.Sequential(*blocks)
        self.dense = _glorot(nn.Linear(width, 1), 1.0)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling: (N, w)
        return self.dense(h).view(-1)


def build_resnet_generator(z_dim: int, shape, *, width: int = 256, attention_res: int = 0):
    return ResNetGenerator(z_dim, shape, width, attention_res)


def build_resnet_discriminator(shape, *, width: int = 128, attention_res: int = 0):
    return ResNetDiscriminator(shape, width, attention_res)


# ---------------------------------------------------------------------------------------------- registered
register_family(
    ModelFamily(
        name="sngan-cnn",
        description="Miyato et al. 2018 Table 3 'standard CNN' (dense+deconv G, 7-conv LeakyReLU(0.1) D); sides divisible by 8; "
        "option width (64); use with model.spectral_norm=[d]",
        kinds=("image",),
        build_generator=build_cnn_generator,
        build_discriminator=build_cnn_discriminator,
        check_shape=check_cnn_size,
    )
)
register_family(
    ModelFamily(
        name="sngan-resnet",
        description="Miyato et al. 2018 Table 4 ResNet G/D (32x32: 3 up-blocks; 4 D blocks, global sum pooling); sides 4*2^n >= 16; "
        "options width (G 256, D 128), attention_res; use with model.spectral_norm=[d]",
        kinds=("image",),
        build_generator=build_resnet_generator,
        build_discriminator=build_resnet_discriminator,
        check_shape=check_resnet_size,
    )
)
