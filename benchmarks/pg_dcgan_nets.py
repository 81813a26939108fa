"""The networks of PyTorch-GAN's implementations/dcgan/dcgan.py, written as a ganforge model family
(benchmark only), so `compare_reference.py` times ganforge's engine on the same architecture.

Architecture (32x32, z 100): G = Linear(z, 128*8*8) -> BN(128) -> [up x2, conv3x3 128->128, BN(eps 0.8),
LeakyReLU 0.2] -> [up x2, conv3x3 128->64, BN(eps 0.8), LeakyReLU 0.2] -> conv3x3 64->C -> tanh.
D = 4 x [conv3x3 stride 2, LeakyReLU 0.2, Dropout2d 0.25, BN(eps 0.8) except the first] (16, 32, 64,
128 channels) -> Linear(128*2*2, 1). The reference's eps=0.8 (BatchNorm2d's second positional argument)
is kept, as is its D ending in a sigmoid + BCELoss, which here is one logit + BCE-with-logits (the same
maths). Not a ganforge model: it is registered only when this module is imported.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ganforge.nets import MODELS, ModelFamily, register_family
from ganforge.nets.init import dcgan_init


class PGGenerator(nn.Module):
    def __init__(self, z_dim: int, shape):
        super().__init__()
        channels, size, _ = shape
        self.init_size = size // 4
        self.project = nn.Linear(z_dim, 128 * self.init_size**2)
        self.blocks = nn.Sequential(
            nn.BatchNorm2d(128),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 128, 3, 1, 1), nn.BatchNorm2d(128, eps=0.8), nn.LeakyReLU(0.2, True),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 64, 3, 1, 1), nn.BatchNorm2d(64, eps=0.8), nn.LeakyReLU(0.2, True),
            nn.Conv2d(64, channels, 3, 1, 1), nn.Tanh(),
        )  # fmt: skip
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        return self.blocks(self.project(z.view(len(z), -1)).view(len(z), 128, self.init_size, self.init_size))


class PGDiscriminator(nn.Module):
    def __init__(self, shape):
        super().__init__()
        channels, size, _ = shape
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip((channels, 16, 32, 64), (16, 32, 64, 128))):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.LeakyReLU(0.2, True), nn.Dropout2d(0.25)]
            if i:
                layers.append(nn.BatchNorm2d(c_out, eps=0.8))
        self.features = nn.Sequential(*layers)
        self.logit = nn.Linear(128 * (size // 16) ** 2, 1)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.logit(self.features(x).flatten(1)).view(-1)


def _check(shape) -> None:
    if shape[1] % 16:
        raise ValueError("pg-dcgan makes sides divisible by 16")


if "pg-dcgan" not in MODELS:
    register_family(ModelFamily(
        name="pg-dcgan", description="PyTorch-GAN dcgan.py's nets (benchmark only)", kinds=("image",),
        build_generator=lambda z_dim, shape: PGGenerator(z_dim, shape),
        build_discriminator=lambda shape: PGDiscriminator(shape), check_shape=_check,
    ))  # fmt: skip
