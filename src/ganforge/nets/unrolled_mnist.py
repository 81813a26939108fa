"""The small Stacked MNIST nets of Unrolled GAN (Metz et al. 2017, appendix), the ones PacGAN's table 3
(Lin et al. 2018) trains, as in the PacGAN authors' code (fjxmlzn/PacGAN, unrolled_GAN_experiment):

G: z -> Linear to (8w) x 4 x 4, BN, ReLU -> three 3x3 stride-2 transposed convs 4 -> 7 -> 14 -> 28
   with (4w, 2w, w) channels, each BN + ReLU -> 3x3 stride-1 conv to the image channels, tanh.
D: three 3x3 stride-2 convs 28 -> 14 -> 7 -> 4 with (w, 2w, 4w) channels, each BN + LeakyReLU 0.3
   (BN on the first layer too, unlike DCGAN) -> Linear to one logit.
The authors' widths: G w = 8 (64, 32, 16, 8 channels); D w = 2 ("D = 0.25 G": 2, 4, 8) or 4 ("0.5 G").
So small a D is the point of the benchmark: against it a plain DCGAN loses most of the 1,000 modes.
28 x 28 only (the layer sizes are the paper's). Weights N(0, 0.02), as the authors' code (it truncates the convs' draws).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError
from . import ModelFamily, register_family
from .init import dcgan_init

SIDE = 28


def check_size(shape: tuple[int, ...]) -> None:
    _, h, w = shape
    if (h, w) != (SIDE, SIDE):
        raise ConfigError(f"unrolled-mnist makes {SIDE}x{SIDE} images only (Metz et al.'s layer sizes); got {h}x{w}: use image_size={SIDE}")


class UnrolledMNISTGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, width: int):
        super().__init__()
        self.z_dim = z_dim
        self.project = nn.Sequential(nn.Linear(z_dim, 8 * width * 4 * 4, bias=False), nn.BatchNorm1d(8 * width * 4 * 4), nn.ReLU(True))

        def up(c_in: int, c_out: int, output_padding: int) -> list[nn.Module]:
            return [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]

        self.main = nn.Sequential(
            *up(8 * width, 4 * width, 0),  # 4 -> 7
            *up(4 * width, 2 * width, 1),  # 7 -> 14
            *up(2 * width, width, 1),  # 14 -> 28
            nn.Conv2d(width, channels, 3, 1, 1),
            nn.Tanh(),
        )
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(self.project(z.view(len(z), -1)).view(len(z), -1, 4, 4))


class UnrolledMNISTDiscriminator(nn.Module):
    def __init__(self, channels: int, width: int, slope: float):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for c_out in (width, 2 * width, 4 * width):  # 28 -> 14 -> 7 -> 4
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(slope, True)]
            c_in = c_out
        self.main = nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * width * 4 * 4, 1))
        dcgan_init(self)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(x).view(-1)


def build_generator(z_dim: int, shape, *, width: int = 8):
    return UnrolledMNISTGenerator(z_dim, shape[0], width)


def build_discriminator(shape, *, width: int = 2, slope: float = 0.3):
    return UnrolledMNISTDiscriminator(shape[0], width, slope)


register_family(
    ModelFamily(
        name="unrolled-mnist",
        description="Metz et al. 2017's small Stacked MNIST nets (PacGAN table 3), 28x28 only; options width (G 8, D 2), D slope",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_size,
    )
)
