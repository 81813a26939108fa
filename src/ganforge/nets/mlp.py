"""The original GAN's multilayer perceptrons (Goodfellow et al. 2014), at the sizes of the classic
tutorials: G z -> 256 -> 256 -> C*H*W with tanh, D C*H*W -> 256 -> 256 -> 1 with LeakyReLU(0.2).
For 2D points G ends linear (points are not bounded to [-1, 1]).
G options: `hidden` sizes, `activation` (relu | leaky_relu, slope 0.2) and `norm` (none | batch: BatchNorm
after every hidden layer but the first, as in the widely copied PyTorch-GAN scripts).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..errors import ConfigError
from . import ModelFamily, register_family


ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True)}


def _layers(sizes: list[int], activation: str, batch_norm: bool = False) -> list[nn.Module]:
    if activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{activation}'; valid: {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if batch_norm and i > 0:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(ACTIVATIONS[activation]())
    return layers


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, shape, hidden: list[int], bounded: bool, activation: str = "relu", norm: str = "none"):
        super().__init__()
        if norm not in ("none", "batch"):
            raise ConfigError(f"unknown norm '{norm}' for the MLP generator; valid: none, batch")
        self.z_dim, self.shape = z_dim, tuple(shape)
        out = math.prod(shape)
        self.net = nn.Sequential(
            *_layers([z_dim, *hidden], activation, batch_norm=norm == "batch"),
            nn.Linear(hidden[-1] if hidden else z_dim, out),
            *([nn.Tanh()] if bounded else []),
        )

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        return self.net(z).view(len(z), *self.shape)  # (N, C, H, W) or (N, 2)


class MLPDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], hidden: list[int]):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            *_layers([math.prod(shape), *hidden], "leaky_relu"),
            nn.Linear(hidden[-1] if hidden else math.prod(shape), 1),
        )

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.net(x).view(-1)  # (N,) logits


def build_generator(
    z_dim: int, shape: tuple[int, ...], *, hidden: list[int] = (256, 256), activation: str = "relu", norm: str = "none"
) -> MLPGenerator:
    return MLPGenerator(z_dim, shape, list(hidden), bounded=len(shape) == 3, activation=activation, norm=norm)


def build_discriminator(shape: tuple[int, ...], *, hidden: list[int] = (256, 256)) -> MLPDiscriminator:
    return MLPDiscriminator(shape, list(hidden))


register_family(
    ModelFamily(
        name="mlp",
        description="Goodfellow et al. 2014 MLPs: G z-256-256-out (ReLU, tanh), D in-256-256-1 (LeakyReLU 0.2); any size, 2D points too",
        kinds=("image", "points"),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=lambda shape: None,
    )
)
