"""The 28x28 DCGAN pair of the CS231N GAN assignment.

D: conv 5x5 32 -> LeakyReLU(0.01) -> maxpool 2 -> conv 5x5 64 -> LeakyReLU -> maxpool 2 -> FC 4*4*64 ->
   LeakyReLU -> FC 1.
G (the InfoGAN generator): FC 1024 -> ReLU -> BN -> FC 7*7*128 -> ReLU -> BN -> reshape ->
   ConvTranspose 64 4x4 stride 2 -> ReLU -> BN -> ConvTranspose C 4x4 stride 2 -> tanh.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError
from . import ModelFamily, register_family


class CS231nGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int):
        super().__init__()
        self.z_dim = z_dim
        self.main = nn.Sequential(
            nn.Linear(z_dim, 1024), nn.ReLU(True), nn.BatchNorm1d(1024),
            nn.Linear(1024, 7 * 7 * 128), nn.ReLU(True), nn.BatchNorm1d(7 * 7 * 128),
            nn.Unflatten(1, (128, 7, 7)),  # 128 x 7 x 7
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(True), nn.BatchNorm2d(64),  # 64 x 14 x 14
            nn.ConvTranspose2d(64, channels, 4, 2, 1), nn.Tanh(),  # C x 28 x 28
        )  # fmt: skip

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(z.view(len(z), -1))


class CS231nDiscriminator(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, 32, 5), nn.LeakyReLU(0.01, True), nn.MaxPool2d(2),  # 32 x 12 x 12
            nn.Conv2d(32, 64, 5), nn.LeakyReLU(0.01, True), nn.MaxPool2d(2),  # 64 x 4 x 4
            nn.Flatten(), nn.Linear(4 * 4 * 64, 4 * 4 * 64), nn.LeakyReLU(0.01, True),
            nn.Linear(4 * 4 * 64, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(x).view(-1)


def check_shape(shape) -> None:
    if tuple(shape[1:]) != (28, 28):
        raise ConfigError(f"cs231n makes 28x28 images only; got {shape[1]}x{shape[2]} (use image_size=28)")


register_family(
    ModelFamily(
        name="cs231n",
        description="CS231N assignment pair, 28x28 only: conv/max-pool D, InfoGAN-style FC+deconv G",
        kinds=("image",),
        build_generator=lambda z_dim, shape: CS231nGenerator(z_dim, shape[0]),
        build_discriminator=lambda shape: CS231nDiscriminator(shape[0]),
        check_shape=check_shape,
    )
)
