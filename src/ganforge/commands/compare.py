"""`ganforge compare RUN RUN ...`: one table of the runs' scores, their curves together, their samples side by side."""
from __future__ import annotations

import argparse
import os

from ..errors import ConfigError, GanforgeError

# What `compare` writes into --out; an existing one is refused unless --force.
OUTPUTS = {"markdown": "compare.md", "csv": "compare.csv", "curves": "compare-curves.png", "samples": "compare-samples.png"}


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="compare runs' `ganforge eval` scores: one table, curves together, samples side by side",
        description="Print one table of the runs' `ganforge eval` scores (rows: runs; columns: metrics at each run's "
        "latest scored step, or --step), refusing runs of different datasets and scores measured under different "
        f"protocols (extractor and weights, resize, sample sizes, reference split). Writes {', '.join(OUTPUTS.values())} "
        "into --out.",
    )  # fmt: skip
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more run folders, each scored by `ganforge eval`")
    p.add_argument("--metrics", help="comma-separated scores to show (fid, precision, modes/covered, ...; pr stands for "
                   "precision and recall); default: every score the runs have")  # fmt: skip
    p.add_argument("--step", type=int, help="compare the scores of this step (default: each run's latest scored step)")
    p.add_argument("--out", default=".", metavar="DIR", help="folder for the table, curves and samples (default: here)")
    p.add_argument("--force", action="store_true", help="replace compare files already in --out (default: refuse)")
    p.add_argument("--allow-mismatch", action="store_true", help="compare scores measured under different protocols, "
                   "flagging them (*) in the table")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report.compare import compare_runs, load_runs, plot_curves, samples_side_by_side

    metrics = [m for m in args.metrics.split(",") if m] if args.metrics else None
    if args.metrics is not None and not metrics:
        raise ConfigError("--metrics names no score")
    paths = {what: os.path.join(args.out, name) for what, name in OUTPUTS.items()}
    existing = [p for p in paths.values() if os.path.exists(p)]
    if existing and not args.force:  # checked first: nothing is written unless all of it may be
        raise GanforgeError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                            "pick another --out, or pass --force to replace them")  # fmt: skip
    runs = load_runs(args.runs)
    comparison = compare_runs(runs, metrics, args.step, args.allow_mismatch)
    print(comparison.text())
    os.makedirs(args.out, exist_ok=True)
    for what, text in (("markdown", comparison.markdown()), ("csv", comparison.csv())):
        with open(paths[what], "w", newline="") as f:
            f.write(text)
    plot_curves(comparison, paths["curves"])
    written = [paths["markdown"], paths["csv"], paths["curves"]]
    if samples_side_by_side(runs, paths["samples"]):
        written.append(paths["samples"])
    else:
        print("no run has a sample grid yet: no samples picture")
    print("wrote " + ", ".join(written))
    return 0
