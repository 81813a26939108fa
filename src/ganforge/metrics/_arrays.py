"""Input checks shared by the metric modules: feature sets are 2D, finite, and agree in width."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import DataError


def as_float64(x, name: str) -> np.ndarray:
    """A (N, D) feature set as a float64 numpy array, or a DataError saying what is wrong with it."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"{name} must be a (samples, features) array, got shape {tuple(x.shape)}")
    if not np.isfinite(x).all():
        raise DataError(f"{name} contains NaN or infinite values")
    return x


def as_float64_tensor(x, name: str) -> torch.Tensor:
    """As `as_float64`, as a CPU torch tensor."""
    return torch.from_numpy(as_float64(x, name))


def check_same_width(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise DataError(f"{names} have different feature sizes: {a.shape[1]} and {b.shape[1]}")


def check_min_samples(x: np.ndarray | torch.Tensor, needed: int, name: str, why: str) -> None:
    if x.shape[0] < needed:
        raise DataError(f"{name} has {x.shape[0]} samples; at least {needed} are needed ({why})")
