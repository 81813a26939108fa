"""`ganforge generate RUN_DIR -n N -o FILE`: a PNG grid, or an .npz array for outside tools."""
from __future__ import annotations

import argparse
import os

import numpy as np

from ..errors import ConfigError
from ..runs import generate, load_run
from ..train.samples import save_samples


def register(sub) -> None:
    p = sub.add_parser("generate", help="sample a trained run into a PNG grid or an .npz array")
    p.add_argument("run_dir")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("-o", "--output", required=True, help="FILE.png (grid) or FILE.npz (array 'samples')")
    p.add_argument("--seed", type=int, default=0, help="same seed, same samples")
    p.add_argument("--ckpt", default="latest", help="checkpoint: latest or a step number")
    p.add_argument("--device", default="cpu")
    p.add_argument("--class", dest="class_", type=int, metavar="K", help="class-conditional runs: every sample of class K")
    p.add_argument("--truncation", type=float, metavar="PSI",
                   help="the truncation trick, PSI in [0, 1] (1 = off, the same samples as without it): stylegan2 runs "
                   "w = w_avg + PSI (w - w_avg) (0: the average w's image); biggan runs z from N(0, I) with every "
                   "component beyond 2 drawn again, times PSI (0: z = 0, one image per class)")  # fmt: skip
    p.add_argument("--no-drs", dest="drs", action="store_false",
                   help="G's own samples, where the run's config asks for discriminator rejection sampling (drs_percentile)")
    p.set_defaults(func=run)


def to_uint8_nhwc(images) -> np.ndarray:
    """[-1, 1] (N, C, H, W) float -> [0, 255] (N, H, W, C) uint8, rounded as torchvision's save_image."""
    return ((images.clamp(-1, 1) + 1) * 127.5 + 0.5).clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def run(args: argparse.Namespace) -> int:
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".png", ".npz"):
        raise ConfigError(f"output must end in .png or .npz, got '{args.output}'")
    if args.n < 1:
        raise ConfigError(f"-n must be at least 1, got {args.n}")
    psi = getattr(args, "truncation", None)
    if psi is not None and not 0.0 <= psi <= 1.0:
        raise ConfigError(f"--truncation must be in [0, 1] (1 = off, 0 = the average w or z of 0), got {psi:g}")
    loaded = load_run(args.run_dir, args.ckpt, args.device)
    options = {} if getattr(args, "class_", None) is None else {"class_": args.class_}
    if psi is not None:
        options["truncation"] = psi
    if not getattr(args, "drs", True):
        loaded.sampling(drs=False)  # refused for a run without rejection sampling
        options["rejection"] = False
    samples = generate(loaded, args.n, seed=args.seed, **options)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    # Class-conditional runs: the npz keeps each sample's class (`labels`), as generate drew them.
    extra = {}
    if loaded.config.model.conditional_g:
        labels = loaded.algorithm.latent_labels(loaded.config, loaded.num_classes, args.n, options.get("class_"))
        extra["labels"] = labels.numpy()
    if ext == ".png":
        save_samples(samples, args.output)
    elif loaded.kind == "points":
        np.savez(args.output, samples=samples.numpy().astype(np.float32), **extra)
    else:
        np.savez(args.output, samples=to_uint8_nhwc(samples), **extra)
    print(f"wrote {args.n} samples from {args.run_dir} (step {loaded.step}) to {args.output}")
    return 0
