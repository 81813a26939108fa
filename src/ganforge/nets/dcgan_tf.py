"""The DCGAN nets of carpedm20/DCGAN-tensorflow, which VEEGAN (Srivastava et al. 2017) and PacGAN's table 2
(Lin et al. 2018) train on Stacked MNIST, as in the PacGAN authors' code (fjxmlzn/PacGAN,
stacked_MNIST_experiments/VEEGAN_experiment/model.py):

G: z -> Linear to (8w) x S/16 x S/16, BN, ReLU -> four 5x5 stride-2 transposed convs, (4w, 2w, w) channels
   with BN + ReLU, the last to the image channels with tanh. Sides go up as TensorFlow's 'SAME' padding
   rounds them: 2 -> 4 -> 7 -> 14 -> 28 for MNIST.
D: four 5x5 stride-2 convs with (w, 2w, 4w, 8w) channels, BN on all but the first, LeakyReLU 0.2
   -> Linear to one logit.
The authors' width is 64 for both. This differs from the `dcgan` family (pytorch/examples' topology):
5x5 kernels, a linear projection of z, and four up/down-sampling layers at every size, so at 28x28
these nets have 4.5 M (G) and 4.3 M (D) weights where `dcgan` has two layers of each. Square sides of 16
or more. Biases are dropped where a BatchNorm follows (its shift makes them redundant).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..errors import ConfigError
from . import ModelFamily, register_family
from .init import dcgan_init

LAYERS = 4  # up/down-sampling layers in each net


def sides(size: int) -> list[int]:
    """The feature maps' sides from the image down, halved and rounded up as 'SAME' padding does:
    28 -> [28, 14, 7, 4, 2]."""
    out = [size]
    for _ in range(LAYERS):
        out.append(math.ceil(out[-1] / 2))
    return out


def check_size(shape: tuple[int, ...]) -> None:
    _, h, w = shape
    if h != w or h < 16:
        raise ConfigError(f"dcgan-tf makes square images of side 16 or more; got {h}x{w}: use image_size=28 (or another side >= 16)")


class DCGANTFGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, width: int):
        super().__init__()
        self.z_dim = z_dim
        s = sides(size)
        c = 8 * width
        self.start = (c, s[-1], s[-1])
        self.project = nn.Linear(z_dim, c * s[-1] ** 2, bias=False)  # BN's shift makes a bias redundant
        layers: list[nn.Module] = [nn.BatchNorm2d(c), nn.ReLU(True)]
        outs = [4 * width, 2 * width, width, channels]
        for i, c_out in enumerate(outs):
            side_in, side_out = s[LAYERS - i], s[LAYERS - i - 1]
            last = i == LAYERS - 1
            # kernel 5, stride 2, padding 2 gives 2 side - 1; output_padding adds the 1 where 'SAME' doubles
            layers.append(nn.ConvTranspose2d(c, c_out, 5, 2, 2, output_padding=side_out - (2 * side_in - 1), bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(c_out), nn.ReLU(True)]
            c = c_out
        self.main = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(self.project(z.view(len(z), -1)).view(len(z), *self.start))


class DCGANTFDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int, width: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 5, 2, 2), nn.LeakyReLU(0.2, True)]  # no BN on the first
        c = width
        for _ in range(LAYERS - 1):
            layers += [nn.Conv2d(c, 2 * c, 5, 2, 2, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True)]
            c *= 2
        self.main = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * sides(size)[-1] ** 2, 1))
        dcgan_init(self)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(x).view(-1)


def build_generator(z_dim: int, shape, *, width: int = 64):
    return DCGANTFGenerator(z_dim, shape[0], shape[1], width)


def build_discriminator(shape, *, width: int = 64):
    return DCGANTFDiscriminator(shape[0], shape[1], width)


register_family(
    ModelFamily(
        name="dcgan-tf",
        description="carpedm20/DCGAN-tensorflow's nets (5x5 kernels, linear z projection, 4 layers), as VEEGAN and "
        "PacGAN table 2 train on Stacked MNIST; square sides >= 16; option width (64)",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_size,
    )
)
