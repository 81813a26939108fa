"""The pix2pix generator: a U-Net (Isola et al. 2017, sec. 3.2.1 and appendix 6.1.1).

    encoder  C64 - C128 - C256 - C512 - C512 - C512 - C512 - C512       (4x4 stride-2 convs, LeakyReLU 0.2)
    decoder  CD512 - CD1024 - CD1024 - C1024 - C1024 - C512 - C256 - C128  (4x4 stride-1/2 convs, ReLU)

Decoder layer i takes the previous decoder output concatenated with encoder layer n-i (the skips: hence
its doubled input channels); "D" layers have 50 % dropout (the paper's only noise source), and the
last up-convolution maps to C_out with tanh. No norm on the first encoder layer nor on the innermost
(1x1) one. The number of halvings is log2(side): 8 at 256 px (down to 1x1), 5 at 32 px; sides must
be powers of two >= 8. Width doubles per layer up to 8 x width (512).
Interface (an exception to G(z)): G(x) maps (N, C_in, S, S) to (N, C_out, S, S) in [-1, 1].
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError
from .translation_layers import conv_bias, norm_layer, normal_init


class UNetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, n_down: int, width: int = 64, norm: str = "batch",
                 dropout: float = 0.5, n_dropout: int = 3):  # fmt: skip
        super().__init__()
        bias = conv_bias(norm)
        widths = [width * min(2**i, 8) for i in range(n_down)]  # encoder outputs: 64, 128, 256, 512, 512...
        self.down = nn.ModuleList()
        c = in_channels
        for i, w in enumerate(widths):  # encoder layer i: (w) x S / 2^(i+1)
            innermost = i == n_down - 1
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(c, w, 4, 2, 1, bias=bias if i else True))
            if 0 < i and not innermost:
                layers.append(norm_layer(norm, w))
            self.down.append(nn.Sequential(*layers))
            c = w
        self.up = nn.ModuleList()
        for i in reversed(range(n_down)):  # decoder layer back to encoder level i's input size
            c_in = widths[i] if i == n_down - 1 else 2 * widths[i]  # innermost takes no skip
            outermost = i == 0
            c_out = out_channels if outermost else widths[i - 1]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=True if outermost else bias)]
            if outermost:
                layers.append(nn.Tanh())
            else:
                layers.append(norm_layer(norm, c_out))
                # dropout on the n_dropout decoder layers after the innermost (the "CD" layers)
                depth_from_inner = n_down - 1 - i
                if dropout > 0 and 1 <= depth_from_inner <= n_dropout:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))
        normal_init(self)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = skips.pop()  # the innermost activation: (8w) x 1 x 1 at 256 px
        for k, layer in enumerate(self.up):
            if k > 0:  # every layer but the innermost concatenates its encoder twin
                x = torch.cat([x, skips.pop()], 1)
            x = layer(x)
        return x


def build_unet_generator(in_channels: int, out_channels: int, size: int, *, width: int = 64, norm: str = "batch",
                         dropout: float = 0.5, n_down: int = 0) -> UNetGenerator:  # fmt: skip
    """n_down 0: log2(size), down to a 1x1 bottleneck as in the paper."""
    if size < 8 or size & (size - 1):
        raise ConfigError(f"the U-Net halves the image down to 1x1: the side must be a power of two >= 8, got {size}")
    depth = n_down or size.bit_length() - 1
    if size % 2**depth:
        raise ConfigError(f"a U-Net of depth {depth} needs sides divisible by {2**depth}, got {size}")
    return UNetGenerator(in_channels, out_channels, depth, width, norm, dropout)
