"""`ganforge report RUN_DIR [-o report.html]`: one self-contained HTML page showing a run."""
from __future__ import annotations

import argparse
import os


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write a run's self-contained HTML report (curves, samples, metrics, diagnoses)",
        description="Write one HTML file that opens from disk with no network: config and paper, loss and "
        "D(x)/D(G(z)) curves, the sample grids over training, metrics with their protocol cards, diagnoses. "
        "It renders whatever the run has so far (a running or crashed run too).",
    )
    p.add_argument("run_dir")
    p.add_argument("-o", "--output", help="where to write it (default RUN_DIR/report.html)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report.html_report import write_report
    from ..report.run_info import load_run_info

    info = load_run_info(args.run_dir)  # refuses a folder that is not a run, with the reason
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    path = write_report(args.run_dir, args.output)
    missing = [what for what, have in (("statistics", info.stats), ("sample grids", info.samples), ("checkpoints", info.checkpoints)) if not have]
    if missing:
        print(f"note: {args.run_dir} has no {', '.join(missing)} yet; the report shows what exists")
    print(f"report: {path}")
    return 0
