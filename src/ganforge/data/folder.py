"""Any folder of images: recursive, resized and centre-cropped to the model size, converted to its channels.

Each file is read as an image viewer shows it, and every bad input is either left out with one warning
or a one-line DataError that names the file and says what to do:

- Only regular files are images. A FIFO, socket, device or broken link named like an image is left out,
  with one warning listing them (opening a FIFO for reading waits for a writer: it would hang training).
- Each real folder is walked once and each file listed once, however many symbolic links lead to it (a
  link loop used to list every image about 40 times over).
- EXIF orientation is applied (`ImageOps.exif_transpose`): a phone photo stands as it was taken.
- 16-bit greyscale (PIL modes I;16, I;16B, I;16L, and I holding values over 255) is scaled to 8 bits,
  v -> round(v * 255 / 65535), where PIL's own conversion clips every value over 255 to white.
- Transparent pixels (RGBA, LA and PA images; palette, grey and RGB images with a transparent colour) are
  composited over TRANSPARENT_BACKGROUND, white. A transparent pixel means "nothing here: the page
  shows through", and the images that carry transparency (sprites, icons, emoji, logos, glyphs, line
  art, cut-out product photos) are made to be seen on a light page; over white they read as their
  authors saw them, half-transparent edges included. Black, what PIL gives when it drops the alpha of
  most such files, erases the dark outlines and ink they are drawn with; a mid grey is a colour none of
  them was shown on, which the generator would learn as part of every image.
- An unreadable file (not an image, damaged, truncated, over PIL's decompression-bomb limit) stops the
  run with its name, when the dataset is built (the first file) or when it is read. `skip_bad_images`
  (config `skip_bad_images: true`) instead checks every file once when the dataset is built (header,
  `verify()`, and a 1/8-scale decode for JPEGs, whose `verify()` checks nothing) and leaves the bad ones
  out, with one warning naming how many and the first few.
"""
from __future__ import annotations

import os
import stat
import struct
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms import v2 as T

from ..errors import DataError
from .base import DataInfo

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
TRANSPARENT_BACKGROUND = (255, 255, 255)  # RGB under transparent pixels: white (module docstring says why)
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
# What PIL raises on a damaged file: OSError (truncated, unidentified), SyntaxError (broken PNG chunks),
# struct.error and EOFError (short headers), ValueError (bad values), and the decompression-bomb guard.
READ_ERRORS = (OSError, SyntaxError, struct.error, EOFError, ValueError, Image.DecompressionBombError,
               Image.DecompressionBombWarning)  # fmt: skip
SKIP_HINT = "set skip_bad_images=true to leave unreadable images out"
SHOWN_PATHS = 5  # paths a warning lists before '...'


def _count(bad: list[str]) -> str:
    return f"{len(bad)} unreadable image{'' if len(bad) == 1 else 's'}"


def _some(paths: list[str]) -> str:
    return ", ".join(paths[:SHOWN_PATHS]) + (f", ... ({len(paths) - SHOWN_PATHS} more)" if len(paths) > SHOWN_PATHS else "")


def list_images(root: str) -> list[str]:
    """Image files under root, sorted, recursively; an error if there are none.

    Symbolic links are followed, but each real folder is walked once (by the first path to it in sorted
    top-down walk order) and each file listed once (by its own name where one of its paths is not a
    link). Paths that are not regular files are left out. Each kind of leaving out is one warning."""
    if not os.path.isdir(root):
        raise DataError(f"no such image folder: {root}")
    found, not_regular, repeated = {}, [], []  # found: real path -> the paths that reach it
    seen_dirs = {os.path.realpath(root)}
    for folder, dirnames, files in os.walk(root, followlinks=True):
        dirnames.sort()  # a fixed walk order: which path to a linked folder is kept does not vary
        kept = []
        for name in dirnames:
            real = os.path.realpath(os.path.join(folder, name))
            if real in seen_dirs:
                repeated.append(os.path.join(folder, name))
            else:
                seen_dirs.add(real)
                kept.append(name)
        dirnames[:] = kept  # os.walk descends only into these
        real_folder = os.path.realpath(folder)
        for name in sorted(files):
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
                is_link, real = stat.S_ISLNK(st.st_mode), os.path.join(real_folder, name)
                if is_link:  # one stat call for a plain file, more only for links
                    st, real = os.stat(path), os.path.realpath(path)
            except OSError:  # a broken link
                not_regular.append(path)
                continue
            if stat.S_ISREG(st.st_mode):
                found.setdefault(real, []).append((is_link, path))
            else:
                not_regular.append(path)
    paths = []
    for reaching in found.values():  # a file reached by many paths: keep its own name over a link's
        reaching.sort()
        paths.append(reaching[0][1])
        repeated += [path for _, path in reaching[1:]]
    if not_regular:
        warnings.warn(
            f"left out {len(not_regular)} paths under {root} that are not regular files (FIFOs, sockets, devices "
            f"or broken links; reading a FIFO would hang): {_some(not_regular)}", stacklevel=2,
        )  # fmt: skip
    if repeated:
        warnings.warn(
            f"{len(repeated)} paths under {root} lead to folders or images listed by another path (symbolic links; "
            f"a link loop?); each is read once, leaving out: {_some(sorted(repeated))}", stacklevel=2,
        )  # fmt: skip
    if not paths:
        raise DataError(f"no images in {root} (looked recursively for {', '.join(IMAGE_EXTENSIONS)})")
    return sorted(paths)


def _reason(error: BaseException) -> str:
    """PIL's complaint on one line (its 'cannot identify' message repeats the path: said without it)."""
    if isinstance(error, UnidentifiedImageError):
        return "not an image PIL recognises (damaged, or not what its extension says)"
    return " ".join(str(error).split()) or type(error).__name__


def unreadable(path: str, error: BaseException) -> DataError:
    """The one-line error for an image file PIL cannot read, with what to do about it."""
    reason = _reason(error)
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return DataError(
            f"cannot read image {path}: {reason} (PIL's decompression-bomb guard, PIL.Image.MAX_IMAGE_PIXELS = "
            f"{Image.MAX_IMAGE_PIXELS}); remove or downscale the file, or if you trust it raise "
            f"PIL.Image.MAX_IMAGE_PIXELS in Python before the dataset is built; or {SKIP_HINT}"
        )  # fmt: skip
    return DataError(f"cannot read image {path}: {reason}; replace or remove the file, or {SKIP_HINT}")


def check_regular_file(path: str) -> None:
    """An error unless `path` is a regular file (opening a FIFO to read it blocks until a writer comes)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise unreadable(path, e) from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path} is not a regular file (a FIFO, socket or device; reading it could hang): remove it")


def to_8bit(im: Image.Image, path: str) -> Image.Image:
    """16-bit greyscale (and 'I' holding values over 255) -> 'L', v -> round(v * 255 / 65535); a
    transparent grey value (PNG tRNS) becomes an alpha channel ('LA'). Other modes pass through."""
    if im.mode not in SIXTEEN_BIT_MODES and im.mode != "I":
        return im
    values = np.asarray(im).astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > 65535:
        raise DataError(
            f"{path} holds integer pixels from {low} to {high}, beyond 16 bits: rescale it to 0..65535 "
            f"(or 0..255) or remove it"
        )  # fmt: skip
    if im.mode == "I" and high <= 255:
        levels = values  # 8-bit values stored wide (as some TIFF writers do): already levels
    else:
        levels = (2 * values + 257) // 514  # round(v / 257); v / 257 is never exactly k + 1/2
    if isinstance(im.info.get("transparency"), int):  # compared with the 16-bit values, before scaling
        alpha = np.where(values == im.info["transparency"], 0, 255)
        return Image.fromarray(np.stack([levels, alpha], axis=-1).astype(np.uint8))  # 'LA'
    return Image.fromarray(levels.astype(np.uint8))  # 'L'


def flatten_transparency(im: Image.Image) -> Image.Image:
    """An image with transparency composited over TRANSPARENT_BACKGROUND ('RGB'); others as they are."""
    if im.mode not in ALPHA_MODES and "transparency" not in im.info:
        return im
    background = Image.new("RGBA", im.size, (*TRANSPARENT_BACKGROUND, 255))
    return Image.alpha_composite(background, im.convert("RGBA")).convert("RGB")


def read_image(path: str, channels: int) -> Image.Image:
    """Open an image file as 'L' or 'RGB', as a viewer shows it: turned by its EXIF orientation, 16-bit
    greyscale scaled to 8 bits, transparency over TRANSPARENT_BACKGROUND. A file that cannot be read
    is a one-line DataError naming it."""
    check_regular_file(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)  # a decoded copy, turned upright
    except READ_ERRORS as e:
        raise unreadable(path, e) from None
    im = flatten_transparency(to_8bit(im, path))
    try:
        return im.convert("L" if channels == 1 else "RGB")
    except ValueError as e:  # a mode PIL cannot convert (e.g. LAB)
        target = "L" if channels == 1 else "RGB"
        raise DataError(f"cannot convert {path} (PIL mode {im.mode}) to {target}: {e}; save it as RGB or greyscale") from None


def check_image(path: str) -> str | None:
    """Why `path` cannot be read, or None: its header, PIL's verify(), and for a JPEG (whose verify()
    checks nothing) a 1/8-scale decode, which still reads the whole file. Cheap: no full decode."""
    try:
        check_regular_file(path)
        with Image.open(path) as im:
            is_jpeg = im.format in ("JPEG", "MPO")
            im.verify()
        if is_jpeg:
            with Image.open(path) as im:
                im.draft(None, (1, 1))  # the smallest DCT scale
                im.load()
    except DataError:
        return "not a regular file, or gone"
    except READ_ERRORS as e:
        return _reason(e)
    return None


def readable_images(paths: list[str], root: str) -> tuple[list[str], list[str]]:
    """(the paths that pass check_image, the ones that do not); one warning names the bad ones."""
    reasons = {path: check_image(path) for path in paths}
    good = [path for path in paths if reasons[path] is None]
    bad = [path for path in paths if reasons[path] is not None]
    if not good:
        raise DataError(
            f"no readable images in {root}: skip_bad_images left out all {len(bad)} unreadable images "
            f"(first: {bad[0]}: {reasons[bad[0]]})"
        )  # fmt: skip
    if bad:
        warnings.warn(f"skip_bad_images: skipped {_count(bad)} in {root}: {_some(bad)}", stacklevel=3)
    return good, bad


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


def image_folder(
    root: str, split: str, image_size: int | None, channels: int | None, skip_bad_images: bool = False
) -> DataInfo:
    """Every image under `root` (both splits: a folder has no held-out part unless you make one).

    `skip_bad_images` checks every file now and leaves out the unreadable ones (one warning; the
    description counts them); without it the first unreadable file stops the run, naming it."""
    paths = list_images(root)
    size, channels = image_size or 64, channels or 3
    bad: list[str] = []
    if skip_bad_images:
        paths, bad = readable_images(paths, root)
    description = f"{len(paths)} images in {root}" + (f" ({_count(bad)} skipped)" if bad else "")
    read_image(paths[0], channels)  # fail now, naming the file, rather than mid-training
    return DataInfo(root, ImageFolder(paths, size, channels), "image", size, channels, 0, description)
