"""`ganforge traverse RUN_DIR [-o FILE.png] [--code N] [--steps K]`: what each latent code of an
InfoGAN run does, one code at a time.

Each grid varies one code down its rows (each value of a categorical code; K continuous values from
-2 to 2, past the [-1, 1] the codes were trained on, as the paper's Figure 2 does) while each column
keeps its own noise and other codes. `--purity` also scores the categorical code against the data's
offline evaluator (metrics/code_purity.py): which digit each category draws.
"""
from __future__ import annotations

import argparse
import json
import os

from ..errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser(
        "traverse",
        help="draw grids that vary one latent code at a time (InfoGAN runs)",
        description="Vary each latent code of an InfoGAN run down the rows of a grid (categorical: every "
        "value; continuous: --steps values over --span), one column per fixed noise. Without --code, one "
        "grid per code (FILE-code<N>.png).",
    )
    p.add_argument("run_dir")
    p.add_argument("-o", "--output", help="PNG file (default RUN_DIR/traversals/code-<N>.png)")
    p.add_argument("--code", type=int, help="the code to vary (0 = the first categorical code; default: every code)")
    p.add_argument("--steps", type=int, default=9, help="rows for a continuous code (default 9: -2, -1.5, ..., 2)")
    p.add_argument("--span", type=float, nargs=2, default=[-2.0, 2.0], metavar=("LO", "HI"), help="continuous values (default -2 2)")
    p.add_argument("--columns", type=int, default=10, help="fixed noise vectors, one per column (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the columns' noise")
    p.add_argument("--purity", action="store_true", help="also score each categorical code with the data's offline evaluator")
    p.add_argument("--purity-n", type=int, default=500, help="samples per category for --purity (default 500)")
    p.add_argument("--cache-dir", help="offline evaluator cache (default $GANFORGE_CACHE or ~/.cache/ganforge)")
    p.add_argument("--ckpt", default="latest", help="checkpoint: latest or a step number")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def output_paths(run_dir: str, output: str | None, codes: list[int], one: bool) -> dict[int, str]:
    """code -> PNG path: -o as given for one code, FILE-code<N>.png for several; else RUN_DIR/traversals/."""
    if output is None:
        return {c: os.path.join(run_dir, "traversals", f"code-{c}.png") for c in codes}
    if not output.lower().endswith(".png"):
        raise ConfigError(f"output must end in .png, got '{output}'")
    if one:
        return {codes[0]: output}
    stem = output[: -len(".png")]
    return {c: f"{stem}-code{c}.png" for c in codes}


def run(args: argparse.Namespace) -> int:
    from torchvision.utils import save_image

    from ..runs import load_run

    if args.columns < 1:
        raise ConfigError(f"--columns must be at least 1, got {args.columns}")
    loaded = load_run(args.run_dir, args.ckpt, args.device)
    algorithm = loaded.algorithm
    if not hasattr(algorithm, "traversal"):
        raise ConfigError(f"{args.run_dir} was trained with the '{algorithm.name}' algorithm, which has no latent codes to traverse (train with --preset infogan)")
    n_codes = algorithm.layout_for(loaded.config).n_codes
    codes = [args.code] if args.code is not None else list(range(n_codes))
    paths = output_paths(args.run_dir, args.output, codes, args.code is not None)
    for code in codes:
        images, values = algorithm.traversal(loaded, code, steps=args.steps, columns=args.columns, seed=args.seed, span=tuple(args.span))
        path = paths[code]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        save_image(images.flatten(0, 1), path, nrow=args.columns, normalize=True, value_range=(-1, 1), padding=2)
        rows = ", ".join(f"{v:g}" for v in values)
        print(f"code {code}: {len(values)} rows ({rows}) x {args.columns} columns -> {path}")
    if args.purity:
        from ..metrics.code_purity import code_purity
        from ..metrics.evaluator import load_offline_evaluator

        c = loaded.config
        evaluator = load_offline_evaluator(c.data, args.cache_dir, c.data_root, args.device)
        for code in range(len(algorithm.categorical_codes(c))):
            result = code_purity(loaded, code, evaluator.labels, evaluator.num_classes, args.purity_n, seed=args.seed)
            print(f"code {code} purity: {json.dumps(result)}")
    return 0
