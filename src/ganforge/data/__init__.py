"""Datasets by name.

Every dataset yields `(x, y)`: `x` a float tensor in [-1, 1] shaped (C, H, W) for images or (2,) for
2D points, `y` an int class (or -1 when unlabelled). `get_dataset` wraps it in a `DataInfo` that tells
the model the shape it must make (resolution, channels, classes), so presets name no sizes.

Bundled sets ship inside registry packages and work offline (see docs/data.md); torchvision sets download
where a network exists; any other name that is a folder is read as an image folder.
"""
from __future__ import annotations

import os

from ..errors import DataError
from ..registry import Registry, unknown_name_message
from .base import DataInfo, DataSpec, InMemoryImages, random_items, resize_images
from .limit import limit_dataset

DATASETS: Registry = Registry("dataset")

# Importing the modules registers their datasets.
from . import bundled, demo_domains, folder, stacked, synthetic, torchvision_sets  # noqa: E402,F401

__all__ = ["DATASETS", "DataInfo", "DataSpec", "InMemoryImages", "get_dataset", "limit_dataset", "list_datasets", "random_items", "resize_images"]


def list_datasets(translation: bool = False) -> list[tuple[str, str]]:
    """(name, one-line description) of every registered dataset: what `get_dataset` loads by name.

    translation=True adds what only CycleGAN/pix2pix read, which DATASETS cannot hold (its loaders return
    one domain): the paired demo sets (data/paired.py) and the downloaded folders their presets name.
    """
    rows = [(name, DATASETS.get(name).__doc__.strip().splitlines()[0]) for name in DATASETS.list()]
    if translation:
        from .paired import PAIRED_FOLDERS, PAIRED_SETS
        from .unpaired import UNPAIRED_FOLDERS

        rows += [*PAIRED_SETS.items(), *PAIRED_FOLDERS.items(), *UNPAIRED_FOLDERS.items()]
    return rows


def get_dataset(
    name: str,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    root: str | None = None,
    skip_bad_images: bool = False,
    data_limit: int = 0,
) -> DataInfo:
    """Load dataset `name` (a registered name or an image-folder path) for `split` ('train' or 'test').

    `image_size`/`channels` resize and convert images (None keeps the dataset's own); `root` is where
    torchvision sets are (or will be downloaded), or the photo for `single-image`. `skip_bad_images`
    (image folders only; config `skip_bad_images`) checks every file once and leaves out unreadable
    ones with a warning, where by default the first unreadable file stops the run. `data_limit` (config
    `data_limit`; 0 = all) keeps a fixed subset of that many training images (data/limit.py); the test
    split is never cut.
    """
    info = _load(name, split, image_size, channels, root, skip_bad_images)
    return limit_dataset(info, data_limit) if split == "train" else info


def _load(name, split, image_size, channels, root, skip_bad_images) -> DataInfo:
    if split not in ("train", "test"):
        raise DataError(f"unknown split '{split}'; valid: train, test")
    from .paired import PAIRED_SETS

    if name in PAIRED_SETS:
        raise DataError(
            f"{name} is paired data (A, B) for pix2pix (--preset pix2pix-demo); one domain of it is "
            "mnist-plain (A) or mnist-styled (B)"
        )
    if name in DATASETS:
        loader = DATASETS.get(name)
        return loader(split=split, image_size=image_size, channels=channels, root=root)
    if os.path.isdir(name):
        return folder.image_folder(name, split=split, image_size=image_size, channels=channels, skip_bad_images=skip_bad_images)
    if os.sep in name or name.startswith("."):
        raise DataError(f"no such image folder: {name}")
    raise DataError(unknown_name_message("dataset", name, DATASETS.list()) + ", or a path to an image folder")
