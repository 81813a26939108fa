"""Images in and out for the companion tools: files or bundled names -> float tensors in [0, 1], and back.

An image argument is a file path, or the name of an image that ships inside scikit-image (works
offline): the photos astronaut, chelsea, coffee, rocket, motorcycle_left and the textures brick,
grass, gravel.
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from ..data.bundled import BUNDLED_PHOTOS, load_photo
from ..data.folder import read_image
from ..errors import DataError

BUNDLED_TEXTURES = ("brick", "grass", "gravel")
BUNDLED_NAMES = BUNDLED_PHOTOS + BUNDLED_TEXTURES


def check_image_name(name_or_path: str) -> None:
    """A DataError unless `name_or_path` is an existing file or a bundled image name (reads nothing)."""
    if os.path.isdir(name_or_path):
        raise DataError(f"{name_or_path} is a folder, not an image file")
    if not os.path.exists(name_or_path) and name_or_path not in BUNDLED_NAMES:
        raise DataError(
            f"no such image file: {name_or_path} (or name a bundled image: {', '.join(BUNDLED_NAMES)})"
        )


def load_image(name_or_path: str, channels: int = 3) -> torch.Tensor:
    """(C, H, W) float32 in [0, 1]; a missing or unreadable file is a DataError that names it."""
    check_image_name(name_or_path)
    if os.path.exists(name_or_path):
        array = np.asarray(read_image(name_or_path, channels))
    elif name_or_path in BUNDLED_TEXTURES:
        import skimage.data

        array = getattr(skimage.data, name_or_path)()  # (512, 512) uint8 grey
    else:
        array = load_photo(name_or_path)
    image = torch.from_numpy(np.array(array, dtype=np.float32) / 255.0)
    image = image.unsqueeze(0) if image.ndim == 2 else image.permute(2, 0, 1)
    return to_channels(image, channels)


def to_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """(C, H, W) or (N, C, H, W) to 1 or 3 channels (grey repeats; RGB -> grey with ITU-R 601 luma)."""
    c = image.shape[-3]
    if c == channels:
        return image
    if c == 1:
        return image.repeat_interleave(channels, dim=-3)
    if c == 3 and channels == 1:
        luma = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).view(3, 1, 1)
        return (image * luma).sum(-3, keepdim=True)
    raise DataError(f"cannot convert a {c}-channel image to {channels} channels")


def resize_short_side(image: torch.Tensor, size: int) -> torch.Tensor:
    """(..., C, H, W) scaled (antialiased bilinear) so its shorter side is `size`, aspect kept."""
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    new = (max(1, round(h * scale)), max(1, round(w * scale)))
    batch = image if image.ndim == 4 else image[None]
    out = F.interpolate(batch, size=new, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return out if image.ndim == 4 else out[0]


def center_crop(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    top, left = (h - height) // 2, (w - width) // 2
    return image[..., top : top + height, left : left + width]


def cover_and_crop(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Scale `image` to cover height x width (aspect kept), then centre-crop to exactly that size."""
    h, w = image.shape[-2:]
    if (h, w) == (height, width):
        return image
    scale = max(height / h, width / w)
    scaled = resize_short_side(image, max(1, round(min(h, w) * scale)))
    # Rounding can leave one pixel short on the long side; stretch the last pixel rather than fail.
    if scaled.shape[-2] < height or scaled.shape[-1] < width:
        batch = scaled if scaled.ndim == 4 else scaled[None]
        batch = F.interpolate(batch, size=(max(height, batch.shape[-2]), max(width, batch.shape[-1])), mode="bilinear")
        scaled = batch if scaled.ndim == 4 else batch[0]
    return center_crop(scaled, height, width)
