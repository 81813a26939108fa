"""Labelled images for the classifier: whole tensors on the device, indexed a batch at a time.

On a CPU, indexing one tensor per batch is many times faster than a DataLoader collating samples; the
sets a classifier trains on here (MNIST, Fashion-MNIST, CIFAR-10, the bundled sets) fit in memory.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import get_dataset
from ..errors import DataError


@dataclass
class LabelledImages:
    images: torch.Tensor  # (N, C, H, W) in [-1, 1]
    labels: torch.Tensor  # (N,) int64
    num_classes: int

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def resolution(self) -> int:
        return self.images.shape[-1]


def load_labelled(name: str, split: str, image_size=None, channels=None, root=None, device="cpu") -> LabelledImages:
    """A labelled image dataset as tensors on `device`; unlabelled or point datasets are refused."""
    info = get_dataset(name, split=split, image_size=image_size, channels=channels, root=root)
    if info.kind != "image":
        raise DataError(f"'{name}' holds {info.kind}, not images; a classifier needs labelled images")
    if info.num_classes <= 0:
        raise DataError(
            f"'{name}' has no class labels; a classifier needs a labelled set (mnist5k, digits, mnist, "
            f"fashion-mnist, cifar10, or an image folder with one sub-folder per class)"
        )
    if info.in_memory:
        images, labels = info.dataset.images, info.dataset.labels
    else:  # decode once (image folders): after this, training indexes tensors as for the rest
        loader = torch.utils.data.DataLoader(info.dataset, batch_size=256)
        batches = list(loader)
        images = torch.cat([b[0] for b in batches])
        labels = torch.cat([torch.as_tensor(b[1]) for b in batches])
    if (labels < 0).any():
        raise DataError(f"'{name}' ({split}) has unlabelled items; a classifier needs every image labelled")
    return LabelledImages(images.to(device), labels.long().to(device), info.num_classes)


def flip_and_crop(images: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Random horizontal flips and random crops of the images padded by `pad` pixels (reflected).

    The standard CIFAR-10 augmentation, done on the whole batch at once; draws from torch's global RNG
    (on the CPU, so the same seed gives the same crops on any device).
    """
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (n,)).to(images.device)
    dx = torch.randint(0, 2 * pad + 1, (n,)).to(images.device)
    flip = (torch.rand(n) < 0.5).to(images.device)
    rows = dy[:, None] + torch.arange(h, device=images.device)  # (n, h)
    cols = dx[:, None] + torch.arange(w, device=images.device)  # (n, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # reading the columns backwards flips
    batch = torch.arange(n, device=images.device)[:, None, None]
    # padded (n, c, H', W') -> (n, H', W', c), gather (n, h, w, c), back to (n, c, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()
