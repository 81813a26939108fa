"""`ganforge traverse RUN_DIR [-o FILE.png] [--code N] [--steps K]`: what each latent code of an
InfoGAN run does, one code at a time.

Each grid varies one code down its rows (each value of a categorical code; K continuous values from
-2 to 2, past the [-1, 1] the codes were trained on, as the paper's Figure 2 does) while each column
keeps its own noise and other codes. `--purity` also scores the categorical code against the data's
offline evaluator (metrics/code_purity.py): the one-to-one category->class accuracy first, then purity
(which cannot see categories collapsing onto one class), and which class each category draws.
"""
from __future__ import annotations

import argparse
import json
import os
from collections import Counter

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
    p.add_argument("--purity", action="store_true", help="also score each categorical code with the data's offline evaluator: "
                   "one-to-one category->class accuracy, then purity (mean majority share per category)")
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


def purity_lines(code: int, result: dict, num_classes: int) -> list[str]:
    """The printout of one code's `code_purity` result: the one-to-one accuracy first (the score that
    sees collapse), then purity, each category's majority class, and a note when categories share one."""
    counts = result["counts"]
    k = len(counts)
    chance = min(k, num_classes) / (k * num_classes)
    majority = [max(range(len(row)), key=row.__getitem__) for row in counts]
    shares = [row[c] / max(1, sum(row)) for row, c in zip(counts, majority)]
    lines = [
        f"code {code}: one-to-one accuracy {result['accuracy']:.3f} (chance {chance:.3g}), purity {result['purity']:.3f}, "
        f"{result['n_per_value']} samples per category",
        "  majority class (share) per category: " + ", ".join(f"{v}->{c} ({s:.2f})" for v, (c, s) in enumerate(zip(majority, shares))),
        "  one-to-one assignment: " + ", ".join(f"{v}->{c}" for v, c in sorted(result["assignment"].items())),
    ]
    shared = {c: n for c, n in Counter(majority).items() if n > 1}
    if shared:
        what = (f"all {k} categories read mostly as class {majority[0]}" if len(shared) == 1 and shared[majority[0]] == k
                else "several categories read mostly as the same class (" + ", ".join(f"{n} as {c}" for c, n in sorted(shared.items())) + ")")
        lines.append(f"  note: {what}; purity alone does not show categories collapsing onto one class, the one-to-one accuracy does")
    lines.append(f"  counts (category x class): {json.dumps(counts)}")
    return lines


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
            print("\n".join(purity_lines(code, result, evaluator.num_classes)))
    return 0
