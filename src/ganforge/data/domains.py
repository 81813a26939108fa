"""One image domain for translation (CycleGAN's A or B, pix2pix's inputs or targets), decoded once.

A domain is a registered dataset name (`ganforge datasets`, e.g. the demo domains mnist-plain and
mnist-styled) or a folder of images. Folder images must agree in size and mode: translation data are
photos of one kind, so a stray thumbnail or a greyscale file among RGB ones is a mistake worth naming
(pix2pix would otherwise pair crops of different scales). Images are kept as uint8 (N, C, L, L) at the
*load* size (CycleGAN/pix2pix jitter: resize to L, random crop to the training size), 4x less memory
than float; batches convert them.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from . import DATASETS, get_dataset
from .folder import list_images, read_image


@dataclass
class Domain:
    """Images of one domain: uint8 (N, C, S, S), their file names (or '{index}.png'), labels (-1: none)."""

    name: str
    images: torch.Tensor
    names: list[str]
    labels: torch.Tensor
    num_classes: int = 0

    def __len__(self) -> int:
        return len(self.images)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> [0, 255] uint8 (rounded)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """[0, 255] uint8 -> [-1, 1] float32."""
    return images.float() / 127.5 - 1.0


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, C, size, size), bicubic with antialiasing (PIL's resize in the papers'
    code), ignoring the aspect ratio as CycleGAN's resize_and_crop does."""
    if images.shape[-2:] == (size, size):
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 grey -> RGB by repetition; RGB -> grey by ITU-R 601 luma (PIL's 'L')."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1:
        return images.repeat(1, channels, 1, 1)
    if c == 3 and channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (images.float() * weights).sum(1, keepdim=True).round().to(torch.uint8)
    raise DataError(f"cannot convert {c}-channel images to {channels} channels")


def check_uniform(paths: list[str], what: str) -> tuple[tuple[int, int], str]:
    """(width, height), mode shared by every image in `paths`; a DataError naming the odd files if not."""
    info = {}
    for path in paths:
        try:
            with Image.open(path) as im:
                info[path] = (im.size, im.mode)
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"cannot read image {path}: {e}") from None
    for index, label in ((0, "sizes"), (1, "modes")):
        groups: dict = defaultdict(list)
        for path, facts in info.items():
            groups[facts[index]].append(path)
        if len(groups) > 1:
            common = max(groups, key=lambda k: len(groups[k]))
            odd = [p for k, ps in groups.items() if k != common for p in ps]
            fmt = (lambda k: f"{k[0]}x{k[1]}") if index == 0 else str
            listing = "; ".join(f"{fmt(k)}: {len(ps)} ({', '.join(os.path.basename(p) for p in ps[:3])}"
                                f"{', ...' if len(ps) > 3 else ''})" for k, ps in groups.items())  # fmt: skip
            raise DataError(
                f"{what} mixes image {label} ({listing}); convert or remove the odd files, e.g. "
                f"{', '.join(odd[:5])}"
            )
    (size, mode), = {facts for facts in info.values()} or {((0, 0), "")}
    return size, mode


def read_uint8(path: str, mode: str) -> torch.Tensor:
    """An image file as uint8 (C, H, W); mode 'L' or 'RGB', read as the image folders read it
    (data/folder.py: EXIF orientation, 16-bit scaled, transparency over the stated background)."""
    array = np.asarray(read_image(path, 1 if mode == "L" else 3))
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)


def folder_domain(root: str, load_size: int | None, what: str | None = None) -> Domain:
    """Every image under `root` (sorted), checked for one size and mode, resized to load_size."""
    what = what or root
    if not os.path.isdir(root):
        raise DataError(f"{what}: no such folder")
    try:
        paths = list_images(root)
    except DataError:
        raise DataError(f"{what} is empty: no images found in {root}") from None
    _, mode = check_uniform(paths, what)
    images = torch.stack([read_uint8(p, mode) for p in paths])
    if load_size:
        images = resize_uint8(images, load_size)
    names = [os.path.relpath(p, root) for p in paths]
    return Domain(what, images, names, torch.full((len(paths),), -1, dtype=torch.long))


def named_domain(name: str, split: str, load_size: int | None, root: str | None = None) -> Domain:
    """A registered dataset as a domain (its labels kept: label preservation scores them)."""
    info = get_dataset(name, split, None, None, root)
    if info.kind != "image":
        raise DataError(f"'{name}' holds {info.kind}, not images: it cannot be a translation domain")
    ds = info.dataset
    if hasattr(ds, "images"):
        images, labels = ds.images, ds.labels
    else:
        items = [ds[i] for i in range(len(ds))]
        images, labels = torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])
    images = to_uint8(images)
    if load_size:
        images = resize_uint8(images, load_size)
    names = [f"{i:05d}.png" for i in range(len(images))]
    return Domain(name, images, names, labels.long(), info.num_classes)


def load_domain(source: str, split: str, load_size: int | None, root: str | None = None) -> Domain:
    """A registered dataset name or a folder of images."""
    if source in DATASETS:
        return named_domain(source, split, load_size, root)
    if os.path.isdir(source):
        return folder_domain(source, load_size)
    raise DataError(f"domain '{source}' is neither a registered dataset (`ganforge datasets`) nor a folder of images")
