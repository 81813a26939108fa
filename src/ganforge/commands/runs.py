"""`ganforge runs [DIR]`: a table of the runs in a folder; --html writes an index page of their reports."""
from __future__ import annotations

import argparse
import os

from ..runs import DEFAULT_RUNS_ROOT


def register(sub) -> None:
    p = sub.add_parser(
        "runs",
        help="list runs: preset, dataset, steps, best metric, health, status",
        description="List the runs in DIR (default runs/). Status: finished (its newest checkpoint is at the "
        "config's steps), running (its training process is alive, or without status.json its stats changed in "
        "the last 10 minutes), interrupted (Ctrl-C or SIGTERM stopped it after saving a checkpoint: resume it), failed "
        "(training stopped on an error: its step and message), stopped (before its steps: a killed process; with when "
        "it was last heard of).",
    )
    p.add_argument("dir", nargs="?", default=DEFAULT_RUNS_ROOT, help=f"folder of runs (default {DEFAULT_RUNS_ROOT})")
    p.add_argument("--html", nargs="?", const="", metavar="INDEX", help="also write each run's report.html and an index page (default DIR/index.html)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report.runs_table import format_table, run_rows, write_index

    rows = run_rows(args.dir)
    print(format_table(rows))
    if args.html is not None:
        out = args.html or os.path.join(args.dir, "index.html")
        print(f"index: {write_index(rows, out)}")
    return 0
