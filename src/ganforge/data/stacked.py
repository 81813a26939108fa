"""Stacked MNIST (Metz et al., 2017; VEEGAN; PacGAN): three MNIST digits as the R, G and B channels.

Its 1,000 modes (every digit triple) make mode collapse countable: a digit classifier reads each channel
and `ganforge.metrics.modes` scores how many triples a generator produces. Built from the bundled
mnist5k set so it works offline: train triples draw only on mnist5k's train digits and test triples on
its test digits, so the two splits share no digit image. Triples are drawn uniformly with a fixed seed
per split; label = 100 d0 + 10 d1 + d2.
"""
from __future__ import annotations

import torch

from . import DATASETS
from .base import DataInfo, InMemoryImages, resize_images, split_indices
from .bundled import _mnist5k_arrays

MNIST5K_TEST = 500  # mnist5k's own test split size (see bundled.mnist5k)
N_TRIPLES = {"train": 25_000, "test": 5_000}


def stack_digits(images: torch.Tensor, labels: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n random triples of (M, 1, H, W) digits stacked as (n, 3, H, W), with labels 100 d0 + 10 d1 + d2."""
    g = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, len(images), (n, 3), generator=g)  # (n, 3): one digit per channel
    stacked = images[picks].squeeze(2)  # (n, 3, 1, H, W) -> (n, 3, H, W)
    digits = labels[picks]
    return stacked, 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]


@DATASETS.register("stacked-mnist")
def stacked_mnist(split, image_size, channels, root, n: int | None = None):
    """Stacked MNIST: three mnist5k digits as RGB, 1,000 classes, 28x28; 25,000 train / 5,000 test. Offline."""
    images, labels = _mnist5k_arrays()
    train_idx, test_idx = split_indices(len(images), MNIST5K_TEST)  # the same split as mnist5k
    idx = train_idx if split == "train" else test_idx
    seed = 0 if split == "train" else 1
    stacked, stacked_labels = stack_digits(images[idx], labels[idx], n or N_TRIPLES[split], seed)
    stacked = resize_images(stacked, image_size, channels)
    return DataInfo(
        name="stacked-mnist",
        dataset=InMemoryImages(stacked, stacked_labels),
        kind="image",
        resolution=stacked.shape[-1],
        channels=stacked.shape[1],
        num_classes=1000,
        description=stacked_mnist.__doc__,
    )
