"""The 70x70 PatchGAN discriminator (Isola et al. 2017, sec. 3.2.2 and appendix 6.1.2; CycleGAN's D).

    C64 - C128 - C256 - C512 - 1-channel conv       (Ck: 4x4 conv, norm, LeakyReLU 0.2; no norm on C64)

C64..C256 have stride 2, C512 and the last conv stride 1, so each output logit sees a 70x70 patch
(n_layers=3); n_layers sets the depth (1 = 16x16 patches, the "PixelGAN" is not offered).
Interface (an exception to D(x) -> (N,)): D(x) returns the map of patch logits (N, 1, h, w), 30x30
at 256 px; the losses average over it. pix2pix's conditional D takes the pair cat(input, output) on
the channel axis, so it is built with in_channels = C_in + C_out.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError
from .translation_layers import conv_bias, norm_layer, normal_init


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # (w) x H/2
        c = width
        for i in range(1, n_layers + 1):
            # strided halving for layers 1..n-1 (to (4w) x H/8 at n=3), then one stride-1 layer (8w)
            c_out = width * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(c, c_out, 4, stride, 1, bias=bias), norm_layer(norm, c_out), nn.LeakyReLU(0.2, True)]
            c = c_out
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))  # 1 x (H/8 - 2) x (W/8 - 2): one logit per patch
        self.model = nn.Sequential(*layers)
        normal_init(self)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.model(x)


def receptive_field(n_layers: int) -> int:
    """The side of the input patch one output logit sees: 70 for n_layers=3."""
    field = 1
    kernels_strides = [(4, 1)] + [(4, 1)] + [(4, 2)] * (n_layers - 1) + [(4, 2)]  # from the output back
    for k, s in kernels_strides:
        field = (field - 1) * s + k
    return field


def smallest_side(n_layers: int) -> int:
    """The smallest image side the PatchGAN takes: n_layers halvings leave side / 2^n, the two stride-1
    convs take 1 each, and the last normalized map needs more than one element (24 px at n_layers=3)."""
    return 3 * 2**n_layers


def build_patch_discriminator(in_channels: int, size: int, *, width: int = 64, n_layers: int = 3, norm: str = "instance"):
    if size < smallest_side(n_layers):
        raise ConfigError(f"image_size {size} is too small for a PatchGAN of model.d.n_layers={n_layers}: it needs at least "
                          f"{smallest_side(n_layers)} px; raise image_size or lower model.d.n_layers")  # fmt: skip
    return PatchDiscriminator(in_channels, width, n_layers, norm)
