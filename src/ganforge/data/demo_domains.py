"""Offline two-domain data for the translation demos, built from the bundled MNIST digits (mnist5k).

    mnist-plain    domain A: grey digits as they are (1 channel), 32x32
    mnist-styled   domain B: the same kind of digits restyled: strokes thickened (3x3 max filter) and
                   painted orange on a dark-blue ground (3 channels), 32x32

The two domains take *disjoint* halves of mnist5k (train: 2,250 each; test: 250 each), so no digit
appears in both: what CycleGAN learns from them is the style, not pairs. The style is a fixed,
synthetic transformation, not a second real source; it is simple on purpose, so that a CPU learns it
in minutes and the true answer is known (`styled(a)`), which lets the demo report paired errors.
mnist-pairs (paired.py) is the pix2pix counterpart: each digit with its own styled version.
Labels (the digit classes) are kept, for the label-preservation score.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import DATASETS
from .base import DataInfo, InMemoryImages

SIZE = 32
INK = (1.0, 0.6, 0.1)  # orange strokes...
GROUND = (0.1, 0.15, 0.4)  # ...on dark blue, as fractions of full intensity


def plain(digits: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) in [-1, 1] -> (N, 1, 32, 32): zero-padded by 2 (as LeNet-5 did), no resampling."""
    return F.pad(digits, (2, 2, 2, 2), value=-1.0)


def styled(digits: torch.Tensor) -> torch.Tensor:
    """(N, 1, 32, 32) plain digits in [-1, 1] -> (N, 3, 32, 32): thicker strokes (3x3 max filter),
    coloured INK on GROUND, mixed by the ink's intensity."""
    ink = (F.max_pool2d(digits, 3, stride=1, padding=1) + 1) / 2  # (N, 1, 32, 32) in [0, 1]
    ink_rgb, ground_rgb = (torch.tensor(c).view(1, 3, 1, 1) for c in (INK, GROUND))
    return (ground_rgb * (1 - ink) + ink_rgb * ink) * 2 - 1


def _half(split: str, which: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Half `which` (0 or 1) of mnist5k's split: alternate items of its fixed shuffle (classes stay balanced)."""
    from . import get_dataset

    info = get_dataset("mnist5k", split)
    images, labels = info.dataset.images[which::2], info.dataset.labels[which::2]
    return plain(images), labels


def _info(name: str, images: torch.Tensor, labels: torch.Tensor, image_size, channels, doc: str) -> DataInfo:
    from .base import resize_images

    images = resize_images(images, image_size, channels)
    return DataInfo(name, InMemoryImages(images, labels), "image", images.shape[-1], images.shape[1], 10, doc)


@DATASETS.register("mnist-plain")
def mnist_plain(split, image_size, channels, root):
    """Translation demo domain A: plain grey MNIST digits at 32x32 (half of mnist5k: 2,250 train / 250 test). Offline."""
    images, labels = _half(split, 0)
    return _info("mnist-plain", images, labels, image_size, channels, mnist_plain.__doc__)


@DATASETS.register("mnist-styled")
def mnist_styled(split, image_size, channels, root):
    """Translation demo domain B: the other half of mnist5k, thick orange strokes on blue, 32x32 RGB (2,250 / 250). Offline."""
    images, labels = _half(split, 1)
    return _info("mnist-styled", styled(images), labels, image_size, channels, mnist_styled.__doc__)


def mnist_pairs(split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pix2pix demo pairs: (plain (N, 1, 32, 32), styled (N, 3, 32, 32), labels) of all of mnist5k's split."""
    from . import get_dataset

    info = get_dataset("mnist5k", split)
    a = plain(info.dataset.images)
    return a, styled(a), info.dataset.labels
