"""Image folders decoded once into a cached tensor file (config `cache_images`).

Decoding and resizing JPEGs every epoch can cost more than the training step of a small GAN. With
`cache_images: true` the folder is decoded once into one uint8 tensor (N, C, H, W), saved as
<cache>/images/<key>.pt, and training indexes it in memory (no DataLoader, no workers). The key hashes
what the tensor depends on: every file's path, size and modification time, the image size and the
channels; change any image and the cache is rebuilt. <cache> is $GANFORGE_CACHE, else ~/.cache/ganforge.
Training caches the whole folder and cuts `data_limit` from the cached tensor afterwards (data/limit.py),
so every limit shares one entry; a folder cut before caching lists fewer paths, so it has its own key.

uint8 keeps the file 4x smaller than float32; pixels were 8-bit to begin with, but the antialiased resize
is rounded to the nearest 8-bit level, so cached images differ from the decoded-on-the-fly ones by at most
half a level (1/255 in [-1, 1]).
"""
from __future__ import annotations

import hashlib
import os

import torch

from ..errors import ConfigError, DataError
from .base import DataInfo, InMemoryImages
from .folder import ImageFolder

# 2: folders read as data/folder.py now reads them (EXIF orientation, 16-bit scaling, transparency over
# white); entries written under 1 may hold other pixels for the same files, so they are not reused.
CACHE_FORMAT = "ganforge-image-cache-2"


def cache_root() -> str:
    return os.environ.get("GANFORGE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ganforge")


def cache_key(folder: ImageFolder, size: int) -> str:
    """A hash of the files (path, size, mtime), the image size, the channels and the cache format."""
    h = hashlib.sha256(f"{CACHE_FORMAT} {size} {folder.channels}\n".encode())
    for path in folder.paths:
        try:
            st = os.stat(path)
        except OSError as e:
            raise DataError(f"cannot read image {path}: {e.strerror} (the folder changed as it was read): start again") from None
        h.update(f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def cache_decoded_images(info: DataInfo) -> DataInfo:
    """`info` with its image folder replaced by the cached decoded tensor (decoding it on first use).
    In-memory datasets are returned as they are; other lazily read datasets are refused."""
    if info.in_memory:
        return info
    if not isinstance(info.dataset, ImageFolder):
        raise ConfigError(f"cache_images=true works on image folders; '{info.name}' is not one (set cache_images=false)")
    folder = info.dataset
    path = os.path.join(cache_root(), "images", f"{cache_key(folder, info.resolution)}.pt")
    if os.path.isfile(path):
        images = torch.load(path, weights_only=True)["images"]
    else:
        images = torch.stack([to_uint8(folder[i][0]) for i in range(len(folder))])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        from ..runtime.checkpoint import atomic_save  # a crash mid-write leaves no torn cache file

        atomic_save({"format": CACHE_FORMAT, "images": images}, path)
    dataset = InMemoryImages(images.float().div_(127.5).sub_(1.0))
    return DataInfo(info.name, dataset, info.kind, info.resolution, info.channels, info.num_classes,
                    f"{info.description} (decoded once: {path})")  # fmt: skip


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> 0..255 bytes, rounded to the nearest level."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
