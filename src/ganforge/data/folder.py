"""Any folder of images: recursive, resized and centre-cropped to the model size, converted to its channels."""
from __future__ import annotations

import os

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms import v2 as T

from ..errors import DataError
from .base import DataInfo

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def list_images(root: str) -> list[str]:
    """Image files under root, sorted, recursively; an error if there are none."""
    if not os.path.isdir(root):
        raise DataError(f"no such image folder: {root}")
    paths = sorted(
        os.path.join(d, f)
        for d, _, files in os.walk(root, followlinks=True)
        for f in files
        if f.lower().endswith(IMAGE_EXTENSIONS)
    )
    if not paths:
        raise DataError(f"no images in {root} (looked recursively for {', '.join(IMAGE_EXTENSIONS)})")
    return paths


def read_image(path: str, channels: int) -> Image.Image:
    """Open an image file as 'L' or 'RGB'; an unreadable file is named in the error."""
    try:
        with Image.open(path) as im:
            return im.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"cannot read image {path}: {e}") from None


def image_transform(size: int) -> T.Compose:
    """PIL image -> float tensor in [-1, 1], short side resized to `size`, centre-cropped square."""
    return T.Compose(
        [
            T.PILToTensor(),
            T.Resize(size, antialias=True),
            T.CenterCrop(size),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize([0.5], [0.5]),
        ]
    )


class ImageFolder(Dataset):
    """Unlabelled images from a list of paths, decoded on access (in DataLoader workers)."""

    def __init__(self, paths: list[str], size: int, channels: int):
        self.paths, self.channels = paths, channels
        self.transform = image_transform(size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        return self.transform(read_image(self.paths[i], self.channels)), -1


def image_folder(root: str, split: str, image_size: int | None, channels: int | None) -> DataInfo:
    """Every image under `root` (both splits: a folder has no held-out part unless you make one)."""
    paths = list_images(root)
    size, channels = image_size or 64, channels or 3
    read_image(paths[0], channels)  # fail now, naming the file, rather than mid-training
    return DataInfo(root, ImageFolder(paths, size, channels), "image", size, channels, 0, f"{len(paths)} images in {root}")
