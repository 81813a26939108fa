"""`ganforge interpolate RUN_DIR -o walk.gif|png`: latent walks between the noise of fixed seeds."""
from __future__ import annotations

import argparse
import os

from ..errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser(
        "interpolate",
        help="draw latent walks between seeds (linear or spherical) as a PNG grid or a GIF",
        description="Walk G's noise from seed to seed. Each walk's ends are exactly the images "
        "`ganforge generate -n 1 --seed S` gives. A PNG holds one walk per row; a GIF animates them.",
    )
    p.add_argument("run_dir")
    p.add_argument("-o", "--output", required=True, help="walk.png (grid, a row per pair of seeds) or walk.gif (animation)")
    p.add_argument("--steps", type=int, default=8, help="images per walk, both ends included (default 8)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="walk from each seed to the next (default 0 1)")
    p.add_argument("--slerp", action="store_true", help="spherical interpolation (stays where Gaussian noise lives)")
    p.add_argument("--class", dest="class_", type=int, metavar="K", help="class-conditional runs: walk within class K")
    p.add_argument("--ckpt", default="latest", help="checkpoint: latest or a step number")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report.latent_walk import latent_walk, save_walk
    from ..runs import load_run

    if not args.output.lower().endswith((".png", ".gif")):
        raise ConfigError(f"output must end in .png or .gif, got '{args.output}'")
    if args.steps < 2:
        raise ConfigError(f"--steps must be at least 2 (the two ends), got {args.steps}")
    if len(args.seeds) < 2:
        raise ConfigError(f"--seeds needs at least two seeds, got {args.seeds}")
    loaded = load_run(args.run_dir, args.ckpt, args.device)
    walk = latent_walk(loaded, args.seeds, args.steps, args.slerp, args.class_)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    save_walk(walk, args.output)
    kind = "spherical" if args.slerp else "linear"
    print(f"wrote {len(args.seeds) - 1} {kind} walk(s) of {args.steps} images from {args.run_dir} (step {loaded.step}) to {args.output}")
    return 0
