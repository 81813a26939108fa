"""The standard datasets through torchvision. They download where a network exists; offline, the error
says how to point --data-root at files fetched elsewhere."""
from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import DataError
from . import DATASETS
from .base import DataInfo, InMemoryImages, resize_images
from .folder import image_transform

DEFAULT_ROOT = os.path.join(os.path.expanduser("~"), ".cache", "ganforge", "data")


def _open(name: str, make, root: str | None):
    root = root or DEFAULT_ROOT
    try:
        return make(root)
    except Exception as e:  # URLError, RuntimeError('Dataset not found'), lmdb errors...
        raise DataError(
            f"cannot load {name} from {root}: {type(e).__name__}: {e}\n"
            f"On a machine without a network, download {name} elsewhere (torchvision's layout) and pass "
            f"--data-root DIR; or train on a bundled set (ganforge datasets)."
        ) from None


def _small_set(name, cls, split, image_size, channels, root, num_classes, doc, **kw):
    """MNIST-like sets fit in memory: decode once into one tensor."""
    ds = _open(name, lambda r: cls(r, train=split == "train", download=True, **kw), root)
    data = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
    images = torch.from_numpy(data).float() / 127.5 - 1.0
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    images = resize_images(images, image_size, channels)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.long)
    return DataInfo(name, InMemoryImages(images, labels), "image", images.shape[-1], images.shape[1], num_classes, doc)


@DATASETS.register("mnist")
def mnist(split, image_size, channels, root):
    """MNIST, 60,000/10,000 digits 28x28 grey, 10 classes (torchvision; needs a network or --data-root)."""
    from torchvision.datasets import MNIST

    return _small_set("mnist", MNIST, split, image_size, channels, root, 10, mnist.__doc__)


@DATASETS.register("fashion-mnist")
def fashion_mnist(split, image_size, channels, root):
    """Fashion-MNIST, 60,000/10,000 clothes 28x28 grey, 10 classes (torchvision; needs a network or --data-root)."""
    from torchvision.datasets import FashionMNIST

    return _small_set("fashion-mnist", FashionMNIST, split, image_size, channels, root, 10, fashion_mnist.__doc__)


@DATASETS.register("cifar10")
def cifar10(split, image_size, channels, root):
    """CIFAR-10, 50,000/10,000 photos 32x32 RGB, 10 classes (torchvision; needs a network or --data-root)."""
    from torchvision.datasets import CIFAR10

    return _small_set("cifar10", CIFAR10, split, image_size, channels, root, 10, cifar10.__doc__)


class _Relabel(torch.utils.data.Dataset):
    """Wraps a torchvision set whose targets we do not use: (image, -1)."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i][0], -1


@DATASETS.register("lsun-bedroom")
def lsun_bedroom(split, image_size, channels, root):
    """LSUN bedrooms (LMDB, 3M photos), 64x64 RGB by default (torchvision + lmdb; needs --data-root)."""
    from torchvision.datasets import LSUN

    size = image_size or 64
    cls = "bedroom_train" if split == "train" else "bedroom_val"
    ds = _open("lsun-bedroom", lambda r: LSUN(r, classes=[cls], transform=image_transform(size)), root)
    return DataInfo("lsun-bedroom", _Relabel(ds), "image", size, 3, 0, lsun_bedroom.__doc__)


@DATASETS.register("celeba")
def celeba(split, image_size, channels, root):
    """CelebA faces, 202,599 photos, 64x64 RGB by default (torchvision; needs a network or --data-root)."""
    from torchvision.datasets import CelebA

    size = image_size or 64
    tv_split = "train" if split == "train" else "test"
    ds = _open("celeba", lambda r: CelebA(r, split=tv_split, download=True, transform=image_transform(size)), root)
    return DataInfo("celeba", _Relabel(ds), "image", size, 3, 0, celeba.__doc__)
