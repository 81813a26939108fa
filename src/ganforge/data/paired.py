"""Paired data for pix2pix (Isola et al. 2017): each input image with its target.

    --data DIR   DIR/train (else DIR itself) and DIR/test or DIR/val (else the training images), each
                 holding either side-by-side AB images (A on the left half, B on the right: the
                 pix2pix datasets' format) or two folders A/ and B/ whose files pair by name
    --data mnist-pairs   the offline demo: each mnist5k digit (A, grey) with its styled version (B;
                 see demo_domains.py)

Pairs must match: names present in only one of A/ and B/ are listed in the error, as are images whose
halves cannot be split (odd widths) or differ in size or mode.
"""
from __future__ import annotations

import os

import torch

from ..errors import DataError
from .domains import Domain, check_uniform, read_uint8, to_uint8
from .folder import list_images
from .unpaired import TranslationData, finish

# Paired sets by name, for `ganforge datasets`: not in DATASETS, whose loaders return one domain.
PAIRED_SETS = {
    "mnist-pairs": "pix2pix demo pairs: each mnist5k digit (A, grey) with its styled version (B, thick orange on "
    "blue), 32x32; 4,500 train / 500 test pairs. Offline (--preset pix2pix-demo).",
}
# Folders that presets name (downloaded by the user; --data PATH), by the layout this module reads.
PAIRED_FOLDERS = {
    "facades": "a folder you download (pix2pix's CMP Facades): train/ and test/ or val/ of side-by-side AB "
    "images, or A/ and B/ paired by file name (--preset pix2pix --data PATH).",
}


def _pairs_from_folders(root: str) -> tuple[Domain, Domain]:
    dirs = {side: os.path.join(root, side) for side in ("A", "B")}
    lists = {}
    for side, path in dirs.items():
        try:
            lists[side] = {os.path.relpath(p, path): p for p in list_images(path)}
        except DataError:
            raise DataError(f"{path} is empty: no images found (pix2pix pairs A/NAME with B/NAME)") from None
    only_a, only_b = sorted(set(lists["A"]) - set(lists["B"])), sorted(set(lists["B"]) - set(lists["A"]))
    if only_a or only_b:
        show = lambda names: ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")  # noqa: E731
        raise DataError(
            f"pix2pix pairs files by name, and {root}'s A/ and B/ differ: "
            + "; ".join(s for s in (only_a and f"only in A/: {show(only_a)}", only_b and f"only in B/: {show(only_b)}") if s)
        )
    names = sorted(lists["A"])
    domains = []
    for side in ("A", "B"):
        paths = [lists[side][n] for n in names]
        _, mode = check_uniform(paths, dirs[side])
        images = torch.stack([read_uint8(p, mode) for p in paths])
        domains.append(Domain(dirs[side], images, names, torch.full((len(names),), -1, dtype=torch.long)))
    a, b = domains
    if a.images.shape[-2:] != b.images.shape[-2:]:
        raise DataError(f"A/ and B/ in {root} hold images of different sizes ({tuple(a.images.shape[-2:])} vs {tuple(b.images.shape[-2:])})")
    return a, b


def _pairs_from_ab(root: str) -> tuple[Domain, Domain]:
    paths = list_images(root)
    (width, height), mode = check_uniform(paths, root)
    if width % 2:
        raise DataError(f"{root}: side-by-side AB images need an even width (A | B halves), got {width}x{height}, e.g. {paths[0]}")
    images = torch.stack([read_uint8(p, mode) for p in paths])
    names = [os.path.relpath(p, root) for p in paths]
    none = torch.full((len(paths),), -1, dtype=torch.long)
    half = width // 2
    return Domain(f"{root} (left)", images[..., :half].contiguous(), names, none), Domain(f"{root} (right)", images[..., half:].contiguous(), names, none)


def _split(root: str) -> tuple[Domain, Domain]:
    if not os.path.isdir(root):
        raise DataError(f"no such folder: {root}")
    if os.path.isdir(os.path.join(root, "A")) or os.path.isdir(os.path.join(root, "B")):
        return _pairs_from_folders(root)
    try:
        return _pairs_from_ab(root)
    except DataError as e:
        if "no images" in str(e):
            raise DataError(f"{root} is empty: pix2pix wants side-by-side AB images or A/ and B/ folders") from None
        raise


def load_paired(data: str, image_size=None, channels=None, load_size: int = 0) -> TranslationData:
    if data == "mnist-pairs":
        from .demo_domains import mnist_pairs

        parts = []
        for split in ("train", "test"):
            a, b, labels = mnist_pairs(split)
            names = [f"{i:05d}.png" for i in range(len(a))]
            parts += [Domain("mnist-pairs A", to_uint8(a), names, labels, 10), Domain("mnist-pairs B", to_uint8(b), names, labels, 10)]
        train_a, train_b, test_a, test_b = parts
        desc = "mnist5k digits (A, grey) paired with their styled versions (B: thick orange on blue)"
    else:
        if not os.path.isdir(data):
            raise DataError(f"pix2pix data '{data}' is neither a folder nor one of {', '.join(PAIRED_SETS)}")
        train_root = os.path.join(data, "train") if os.path.isdir(os.path.join(data, "train")) else data
        train_a, train_b = _split(train_root)
        test_root = next((os.path.join(data, s) for s in ("test", "val") if os.path.isdir(os.path.join(data, s))), None)
        test_a, test_b = _split(test_root) if test_root else (train_a, train_b)
        desc = f"{len(train_a)} pairs in {train_root}" + (f", test pairs in {test_root}" if test_root else "")
    name = os.path.basename(os.path.normpath(data))
    return finish(name, train_a, train_b, test_a, test_b, True, image_size, channels, load_size, desc)
