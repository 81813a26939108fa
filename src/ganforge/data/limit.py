"""A fixed, smaller training set (config `data_limit`), for limited-data studies (Karras et al. 2020, ADA).

The subset is the first N of one permutation drawn with LIMIT_SEED, not with the run's `seed`: runs that
differ only in `seed` train on the same N images, so a seed sweep measures the training's spread and not
the luck of the draw. With labels the subset is class-balanced: each image's rank is its position among
its own class in the permutation, and the N images of smallest (rank, class) are kept. Every class gets
N // K images and the first N % K classes one more; a class with too few images gives its share to the
others, in the same order. Subsets are nested: the 500 of data_limit=500 are among the 4,500 of 4,500.
"""
from __future__ import annotations

import copy

import torch
from torch.utils.data import Subset

from ..errors import ConfigError
from .base import DataInfo, InMemoryImages

LIMIT_SEED = 2020  # the permutation's seed, fixed: independent of the run's seed (ADA's paper year)


def _labels(info: DataInfo) -> torch.Tensor | None:
    """The training labels, when the data has classes (without decoding images where it can)."""
    if not info.num_classes:
        return None
    ds = info.dataset
    if isinstance(ds, InMemoryImages):
        labels = ds.labels
    elif hasattr(ds, "targets"):
        labels = torch.as_tensor(ds.targets)
    else:
        labels = torch.tensor([int(ds[i][1]) for i in range(len(ds))])
    return labels if bool((labels >= 0).all()) else None


def limit_indices(n_total: int, n: int, labels: torch.Tensor | None = None, seed: int = LIMIT_SEED) -> torch.Tensor:
    """Indices of the `n` kept of `n_total` items, in the permutation's order (class-balanced with `labels`)."""
    perm = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    if labels is None:
        return perm[:n]
    classes = labels[perm]  # the class of each item, in permutation order
    rank = torch.zeros(n_total, dtype=torch.long)  # rank[j]: how many of perm[j]'s class come before it
    for c in classes.unique():
        where = (classes == c).nonzero().squeeze(1)
        rank[where] = torch.arange(len(where))
    # Sort by (rank, class): round k takes the k-th item of every class that still has one, class 0 first.
    order = torch.argsort(rank * (int(labels.max()) + 1) + classes, stable=True)
    kept = order[:n].sort().values  # positions in the permutation, back in its order
    return perm[kept]


def limit_dataset(info: DataInfo, n: int) -> DataInfo:
    """`info` cut to its first `n` items as the module docstring says; n=0 keeps all. An `n` larger than
    the set is a ConfigError naming `data_limit` and the set's size."""
    if not n:
        return info
    size = len(info.dataset)
    if n > size:
        raise ConfigError(f"data_limit={n} is larger than {info.name}'s training split ({size} images); use at most {size}, or 0 for all")
    labels = _labels(info)
    idx = limit_indices(size, n, labels)
    ds = info.dataset
    if isinstance(ds, InMemoryImages):
        limited = copy.copy(ds)  # the same class (Points stay Points), holding the kept rows
        limited.images, limited.labels = ds.images[idx].contiguous(), ds.labels[idx]
    elif hasattr(ds, "paths"):  # an image folder: a smaller folder, which data/cache.py keys by its own paths
        limited = copy.copy(ds)
        limited.paths = [ds.paths[int(i)] for i in idx]
    else:
        limited = Subset(ds, idx.tolist())
    balanced = " class-balanced" if labels is not None else ""
    description = f"{info.description} (data_limit: a fixed{balanced} {n} of {size})"
    return DataInfo(info.name, limited, info.kind, info.resolution, info.channels, info.num_classes, description)
