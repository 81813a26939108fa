"""Two-domain data for translation, and CycleGAN's unpaired layouts.

    --data DIR                   DIR/trainA, DIR/trainB (and DIR/testA, DIR/testB when present),
                                 the layout of the CycleGAN datasets (horse2zebra, ...)
    --data A --data-b B          two domains, each a folder of images or a registered dataset
                                 (e.g. mnist-plain and mnist-styled, the offline demo)

`TranslationData` holds both domains for training (uint8 at the load size, for the jitter) and for
testing (at the training size): the sample triplets, `generate` and the evaluation use the test images.
A folder domain without a test split is tested on its own first images (said in the description).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch

from ..errors import DataError
from . import DATASETS
from .base import DataInfo, DataSpec, InMemoryImages
from .domains import Domain, folder_domain, load_domain, match_channels, resize_uint8, to_float


# Folders that presets name (downloaded by the user; --data PATH), by the layout this module reads.
UNPAIRED_FOLDERS = {
    "horse2zebra": "a folder you download (CycleGAN's horse2zebra, or any of its datasets): trainA/ trainB/ "
    "(testA/ testB/) (--preset cyclegan --data PATH).",
}


@dataclass
class TranslationData:
    name: str
    train_a: Domain  # uint8 at the load size
    train_b: Domain
    test_a: Domain  # uint8 at the training size
    test_b: Domain
    paired: bool
    size: int
    channels: int
    description: str = ""

    def spec(self) -> DataSpec:
        return DataSpec((self.channels, self.size, self.size), "image", 0)

    def target_info(self) -> DataInfo:
        """Domain B's test images as the engine's `data`: what the reals grid, the collapse check and
        TensorBoard compare A -> B translations and D_B's verdicts with."""
        b = self.test_b
        return DataInfo(self.name, InMemoryImages(to_float(b.images), b.labels), "image", self.size, self.channels,
                        b.num_classes, self.description)  # fmt: skip


def default_load_size(size: int) -> int:
    """CycleGAN/pix2pix resize 256-px training crops from 286 px: the same 286/256 ratio at any size."""
    return round(size * 286 / 256)


def finish(name: str, train_a: Domain, train_b: Domain, test_a: Domain, test_b: Domain, paired: bool,
           image_size: int | None, channels: int | None, load_size: int, description: str) -> TranslationData:  # fmt: skip
    """Common channels (cfg.channels, else the larger of the two: grey is repeated to RGB), the
    training size (image_size, else the domains' own side) and load size applied to all four parts."""
    for domain in (train_a, train_b):
        if len(domain) == 0:
            raise DataError(f"{domain.name} is empty: no images")
    size = image_size or train_a.images.shape[-1]
    load = load_size or default_load_size(size)
    if load < size:
        raise DataError(f"load_size {load} is smaller than the training size {size}: crops would not fit")
    c = channels or max(d.images.shape[1] for d in (train_a, train_b))
    # New Domain objects: a split without held-out images shares its images with the training one.
    parts = [replace(d, images=match_channels(resize_uint8(d.images, side), c))
             for d, side in ((train_a, load), (train_b, load), (test_a, size), (test_b, size))]
    return TranslationData(name, *parts, paired, size, c, description)


def load_unpaired(data: str, data_b: str, image_size=None, channels=None, load_size: int = 0, root=None,
                  n_test_fallback: int = 64) -> TranslationData:  # fmt: skip
    """CycleGAN's two domains (see the module docstring)."""
    if data_b:
        parts = []
        for source in (data, data_b):
            train = load_domain(source, "train", None, root)
            if source in DATASETS:
                test = load_domain(source, "test", None, root)
            else:  # a plain folder has no held-out images
                test = Domain(train.name, train.images[:n_test_fallback], train.names[:n_test_fallback], train.labels[:n_test_fallback])
            parts += [train, test]
        train_a, test_a, train_b, test_b = parts
        desc = f"A: {data}; B: {data_b}"
        return finish(f"{os.path.basename(os.path.normpath(data))}-to-{os.path.basename(os.path.normpath(data_b))}",
                      train_a, train_b, test_a, test_b, False, image_size, channels, load_size, desc)  # fmt: skip
    if not os.path.isdir(data):
        raise DataError(
            f"CycleGAN needs two domains: --data DIR with DIR/trainA and DIR/trainB, or --data A --data-b B "
            f"(folders or datasets such as mnist-plain and mnist-styled); got --data {data} alone"
        )
    missing = [d for d in ("trainA", "trainB") if not os.path.isdir(os.path.join(data, d))]
    if missing:
        raise DataError(f"{data} has no {' or '.join(missing)} folder: an unpaired dataset is laid out as trainA/, trainB/ (and testA/, testB/)")
    train_a = folder_domain(os.path.join(data, "trainA"), None)
    train_b = folder_domain(os.path.join(data, "trainB"), None)
    tests = []
    for train, sub in ((train_a, "testA"), (train_b, "testB")):
        path = os.path.join(data, sub)
        if os.path.isdir(path):
            tests.append(folder_domain(path, None))
        else:
            tests.append(Domain(train.name, train.images[:n_test_fallback], train.names[:n_test_fallback], train.labels[:n_test_fallback]))
    name = os.path.basename(os.path.normpath(data))
    desc = f"{len(train_a)} A / {len(train_b)} B training images in {data}"
    return finish(name, train_a, train_b, tests[0], tests[1], False, image_size, channels, load_size, desc)


def test_images(domain: Domain, n: int, device="cpu") -> torch.Tensor:
    """The first n test images of a domain as float in [-1, 1] (cycled when it has fewer)."""
    idx = torch.arange(n) % len(domain)
    return to_float(domain.images[idx]).to(device)
