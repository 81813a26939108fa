"""The CycleGAN generator (Zhu et al. 2017, appendix 7.2; Johnson et al. 2016's transformation net).

    c7s1-w, d2w, d4w, R4w x n_blocks, u2w, uw, c7s1-C_out            (w = width, 64 in the paper)

c7s1-k: 7x7 conv stride 1 with reflection padding 3, norm, ReLU; dk: 3x3 conv stride 2, norm, ReLU;
Rk: residual block of two reflection-padded 3x3 convs (norm, ReLU between); uk: 3x3 fractionally
strided conv stride 1/2, norm, ReLU. The last layer ends in tanh. n_blocks: 6 at 128 px, 9 at 256 px
and above (the paper), fewer for tiny demo images. Fully convolutional: any side divisible by 4.
Interface (an exception to G(z)): G(x) maps an image batch (N, C_in, H, W) to (N, C_out, H, W) in [-1, 1].
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError
from .translation_layers import conv_bias, norm_layer, normal_init


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str, dropout: float):
        super().__init__()
        bias = conv_bias(norm)
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels), nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)  # no activation after the sum (Gross & Wilber 2016, as CycleGAN does)


class ResnetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, width: int = 64, n_blocks: int = 9,
                 norm: str = "instance", dropout: float = 0.0, n_down: int = 2):  # fmt: skip
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias), norm_layer(norm, width), nn.ReLU(True),
        ]  # (w) x H x W
        c = width
        for _ in range(n_down):  # (2w) x H/2, (4w) x H/4
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), norm_layer(norm, 2 * c), nn.ReLU(True)]
            c *= 2
        layers += [ResidualBlock(c, norm, dropout) for _ in range(n_blocks)]  # (4w) x H/4, unchanged
        for _ in range(n_down):  # (2w) x H/2, (w) x H
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                norm_layer(norm, c // 2), nn.ReLU(True),
            ]  # fmt: skip
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]  # (C_out) x H x W
        self.model = nn.Sequential(*layers)
        self.multiple = 2**n_down  # sides must be multiples of this
        normal_init(self)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.model(x)


def default_blocks(size: int) -> int:
    """The paper: 6 residual blocks for 128x128 training images, 9 for 256x256 and higher."""
    return 9 if size >= 256 else 6


def build_resnet_generator(in_channels: int, out_channels: int, size: int, *, width: int = 64, n_blocks: int = 0,
                           norm: str = "instance", dropout: float = 0.0) -> ResnetGenerator:  # fmt: skip
    """n_blocks 0: the paper's choice for `size` (default_blocks)."""
    if size % 4:
        raise ConfigError(f"the ResNet generator halves the image twice: the side must be a multiple of 4, got {size}")
    return ResnetGenerator(in_channels, out_channels, width, n_blocks or default_blocks(size), norm, dropout)
