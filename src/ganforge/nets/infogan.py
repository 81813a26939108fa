"""InfoGAN's MNIST networks (Chen et al. 2016, arXiv:1606.03657, Appendix C, Table 1).

G: input (noise + codes) -> FC 1024, ReLU, BN -> FC 128 x S/4 x S/4, ReLU, BN
   -> 4x4 up-conv 64 stride 2, ReLU, BN -> 4x4 up-conv C stride 2 -> tanh
D: 4x4 conv 64 stride 2, lReLU -> 4x4 conv 128 stride 2, BN, lReLU -> FC 1024, BN, lReLU = the shared body
   -> FC 1: D's logit;  Q head: FC 128, BN, lReLU -> FC q_outputs (the code distributions' parameters)
Sides S divisible by 4 (28 for MNIST: a 7x7 base). The interface beyond `D(x) -> (N,) logits` (see
ganforge.nets): `D(x, with_q=True)` returns (logits, q_params) from ONE pass through the body, so Q
costs one small head (the paper's point: "Q shares all convolutional layers with D"). With
q_outputs = 0 the family is a plain GAN pair. The paper's G ends in a sigmoid (Bernoulli pixels); ours
ends in tanh, the toolkit's [-1, 1] images. lReLU slope 0.1.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError
from . import ModelFamily, register_family
from .init import dcgan_init

SLOPE = 0.1


class InfoGANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape, width: int, hidden: int):
        super().__init__()
        self.z_dim = z_dim
        channels, size, _ = shape
        base = size // 4
        self.main = nn.Sequential(
            nn.Linear(z_dim, hidden), nn.ReLU(True), nn.BatchNorm1d(hidden),
            nn.Linear(hidden, 2 * width * base * base), nn.ReLU(True), nn.BatchNorm1d(2 * width * base * base),
            nn.Unflatten(1, (2 * width, base, base)),  # (2 width) x S/4 x S/4
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(True), nn.BatchNorm2d(width),  # width x S/2 x S/2
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh(),  # C x S x S
        )  # fmt: skip
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(z.view(len(z), -1))


class InfoGANDiscriminator(nn.Module):
    def __init__(self, shape, width: int, hidden: int, q_outputs: int, q_hidden: int):
        super().__init__()
        channels, size, _ = shape
        base = size // 4
        self.q_outputs = q_outputs
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(SLOPE, True),  # width x S/2 x S/2
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(SLOPE, True),  # (2 width) x S/4
            nn.Flatten(),
            nn.Linear(2 * width * base * base, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(SLOPE, True),  # hidden
        )  # fmt: skip
        self.d_head = nn.Linear(hidden, 1)
        self.q_head = None
        if q_outputs:
            self.q_head = nn.Sequential(
                nn.Linear(hidden, q_hidden), nn.BatchNorm1d(q_hidden), nn.LeakyReLU(SLOPE, True),
                nn.Linear(q_hidden, q_outputs),
            )  # fmt: skip
        dcgan_init(self)

    def forward(self, x: torch.Tensor, c=None, with_q: bool = False):
        """(N,) logits; with with_q, (logits, (N, q_outputs) Q parameters) from the same features."""
        features = self.body(x)
        logits = self.d_head(features).view(-1)
        if not with_q:
            return logits
        if self.q_head is None:
            raise ConfigError("this discriminator has no Q head (built with q_outputs=0)")
        return logits, self.q_head(features)


def check_shape(shape) -> None:
    c, h, w = shape
    if h != w or h % 4 or h < 8:
        raise ConfigError(f"infogan makes square images with sides divisible by 4 (8, 16, 28, 32, 64); got {h}x{w}")


def build_generator(z_dim: int, shape, *, width: int = 64, hidden: int = 1024):
    return InfoGANGenerator(z_dim, shape, width, hidden)


def build_discriminator(shape, *, width: int = 64, hidden: int = 1024, q_outputs: int = 0, q_hidden: int = 128):
    return InfoGANDiscriminator(shape, width, hidden, q_outputs, q_hidden)


register_family(
    ModelFamily(
        name="infogan",
        description="Chen et al. 2016 Table 1 (MNIST): FC+up-conv G, conv D whose body a Q head shares "
        "(q_outputs, set by the infogan algorithm); sides divisible by 4; options width, hidden",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_shape,
    )
)
