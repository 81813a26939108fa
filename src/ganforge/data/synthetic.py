"""Synthetic data whose purpose is stated: 2D Gaussian mixtures for mode-collapse studies, and random
images for speed runs."""
from __future__ import annotations

import math

import torch

from . import DATASETS
from .base import DataInfo, InMemoryImages

N_POINTS = 50_000


def ring8_means() -> torch.Tensor:
    """8 modes evenly on the unit circle (PacGAN's 2D-ring; VEEGAN's ring layout)."""
    angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
    return torch.stack([angles.cos(), angles.sin()], 1)


def grid25_means() -> torch.Tensor:
    """25 modes on the grid {-4, -2, 0, 2, 4}^2 (PacGAN's and VEEGAN's 2D-grid)."""
    axis = torch.arange(-4, 5, 2, dtype=torch.float32)
    return torch.cartesian_prod(axis, axis)


MIXTURES = {"ring8": (ring8_means, 0.01), "grid25": (grid25_means, 0.05)}


def sample_mixture(name: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n points and their mode index from the named mixture, reproducible by seed."""
    means_fn, std = MIXTURES[name]
    means = means_fn()
    g = torch.Generator().manual_seed(seed)
    modes = torch.randint(0, len(means), (n,), generator=g)
    return means[modes] + std * torch.randn(n, 2, generator=g), modes


class Points(InMemoryImages):
    """2D points: the same fast batched indexing as in-memory images."""


def _mixture(name, split):
    points, modes = sample_mixture(name, N_POINTS, seed=0 if split == "train" else 1)
    means_fn, std = MIXTURES[name]
    return DataInfo(name, Points(points, modes), "points", None, None, len(means_fn()), f"{name} std {std}")


@DATASETS.register("ring8")
def ring8(split, image_size, channels, root):
    """2D mixture of 8 Gaussians on the unit circle, std 0.01 (PacGAN/VEEGAN protocol); 50,000 points."""
    return _mixture("ring8", split)


@DATASETS.register("grid25")
def grid25(split, image_size, channels, root):
    """2D mixture of 25 Gaussians on a 5x5 grid of spacing 2, std 0.05 (PacGAN/VEEGAN protocol); 50,000 points."""
    return _mixture("grid25", split)


@DATASETS.register("fake")
def fake(split, image_size, channels, root, n: int = 1024):
    """Random images for speed runs (no content to learn): 1,024 at 64x64 RGB by default, 10 classes."""
    size, c = image_size or 64, channels or 3
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    images = torch.rand(n, c, size, size, generator=g) * 2 - 1
    labels = torch.randint(0, 10, (n,), generator=g)
    return DataInfo("fake", InMemoryImages(images, labels), "image", size, c, 10, fake.__doc__)
