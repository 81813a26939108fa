"""What every dataset hands the rest of ganforge: the data and the shape a model must make."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


class InMemoryImages(Dataset):
    """Images already decoded into one tensor: training indexes whole batches at once (fast on a CPU)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        self.images = images.contiguous()
        self.labels = labels if labels is not None else torch.full((len(images),), -1, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


@dataclass(frozen=True)
class DataSpec:
    """What networks are built for: the data's shape, kind and number of classes. Checkpoints keep it,
    so a run's networks can be rebuilt without its data."""

    shape: tuple[int, ...]
    kind: str  # "image" or "points"
    num_classes: int = 0

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "kind": self.kind, "num_classes": self.num_classes}

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        return cls(tuple(d["shape"]), d["kind"], d.get("num_classes", 0))


@dataclass
class DataInfo:
    """A dataset and the shape arguments it gives the model."""

    name: str
    dataset: Dataset
    kind: str  # "image" or "points"
    resolution: int | None  # square side in pixels (None for points)
    channels: int | None
    num_classes: int  # 0 when unlabelled
    description: str = ""

    @property
    def in_memory(self) -> bool:
        return isinstance(self.dataset, InMemoryImages)

    def shape(self) -> tuple[int, ...]:
        return (2,) if self.kind == "points" else (self.channels, self.resolution, self.resolution)

    def spec(self) -> DataSpec:
        return DataSpec(self.shape(), self.kind, self.num_classes)


def resize_images(images: torch.Tensor, size: int | None, channels: int | None) -> torch.Tensor:
    """Resize (antialiased bilinear) a (N, C, H, W) batch in [-1, 1] to size×size and convert channels.

    Grey to RGB repeats the channel; RGB to grey uses the ITU-R 601 luma weights (as PIL's 'L').
    """
    if channels is not None and channels != images.shape[1]:
        if images.shape[1] == 1:
            images = images.repeat(1, channels, 1, 1)
        elif images.shape[1] == 3 and channels == 1:
            weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype).view(1, 3, 1, 1)
            images = (images * weights).sum(1, keepdim=True)
        else:
            raise ValueError(f"cannot convert {images.shape[1]} channels to {channels}")
    if size is not None and (images.shape[-1] != size or images.shape[-2] != size):
        h, w = images.shape[-2:]
        if h != w:  # centre-crop to square first, as for photos
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            images = images[..., top : top + side, left : left + side]
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        images = images.clamp(-1, 1)
    return images.contiguous()


def random_items(info: "DataInfo", n: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(samples, labels) of n items of `info`'s dataset (all of them for None) picked at random with `seed`:
    in-memory sets (points, decoded images) by indexing their tensors, others item by item."""
    ds = info.dataset
    count = len(ds) if n is None else min(n, len(ds))
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:count]
    if hasattr(ds, "images"):
        return ds.images[idx], ds.labels[idx]
    items = [ds[int(i)] for i in idx]
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])


def split_indices(n: int, n_test: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed shuffled train/test split (bundled sets are often sorted by class)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_test:], perm[:n_test]
