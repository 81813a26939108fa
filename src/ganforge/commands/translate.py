"""`ganforge translate RUN_DIR INPUT -o OUT [--direction AtoB|BtoA]`: images through a translation run.

INPUT is an image file or a folder (read recursively). Each image is converted to the run's channels,
resized to the run's training size (the resolution its generators learned), translated, resized back
to its own size and written under OUT with its own relative name, so a folder comes out as a folder
of the same files. OUT is a folder (or, for a single INPUT file, a file name ending in an image extension).
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser(
        "translate", help="translate images with a CycleGAN or pix2pix run (keeps file names and sizes)",
        description="Translate an image or a folder of images with a trained translation run.",
    )  # fmt: skip
    p.add_argument("run_dir")
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("-o", "--output", required=True, help="output folder (or file, for one input image)")
    p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"), help="AtoB (default) or BtoA (CycleGAN only)")
    p.add_argument("--ckpt", default="latest", help="checkpoint: latest or a step number")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def translate_files(run, pairs: list[tuple[str, str]], direction: str = "AtoB") -> None:
    """Translate each (input path, output path) with a loaded run."""
    from ..data.domains import read_uint8, resize_uint8, to_float, to_uint8
    from ..train.sampling import evaluating

    if not hasattr(run.algorithm, "translator"):
        raise ConfigError(f"{run.run_dir} is a {run.algorithm.name} run, not a translation run (cyclegan, pix2pix)")
    net = run.algorithm.translator(run.nets, direction)
    channels, size = run.shape[0], run.shape[1]
    device = next(net.parameters()).device
    for src, dst in pairs:
        image = read_uint8(src, "L" if channels == 1 else "RGB")  # (C, H, W) uint8
        h, w = image.shape[-2:]
        x = to_float(resize_uint8(image[None], size)).to(device)
        with torch.no_grad(), evaluating(net) as G:
            y = G(x).float().cpu()
        y = F.interpolate(y, size=(h, w), mode="bicubic", align_corners=False, antialias=True) if (h, w) != (size, size) else y
        array = to_uint8(y)[0].permute(1, 2, 0).numpy()
        os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        Image.fromarray(array[..., 0] if array.shape[-1] == 1 else np.ascontiguousarray(array)).save(dst)


def run(args: argparse.Namespace) -> int:
    from ..data.folder import IMAGE_EXTENSIONS, list_images
    from ..runs import load_run

    if os.path.isdir(args.input):
        sources = list_images(args.input)
        pairs = [(p, os.path.join(args.output, os.path.relpath(p, args.input))) for p in sources]
    elif os.path.isfile(args.input):
        out = args.output
        if not out.lower().endswith(IMAGE_EXTENSIONS):
            out = os.path.join(out, os.path.basename(args.input))
        pairs = [(args.input, out)]
    else:
        raise ConfigError(f"no such image file or folder: {args.input}")
    run = load_run(args.run_dir, args.ckpt, args.device)
    translate_files(run, pairs, args.direction)
    print(f"translated {len(pairs)} image(s) {args.direction} with {args.run_dir} (step {run.step}) into {args.output}")
    return 0
