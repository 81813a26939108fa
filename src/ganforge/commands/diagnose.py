"""`ganforge diagnose RUN_DIR`: health over time, the diagnoses raised, the best checkpoint and why."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "diagnose", help="summarise a run's health: losses over time, diagnoses and advice, best checkpoint",
        description="Read a finished or running run's stats.jsonl, metrics/ and checkpoints/ and summarise them.",
    )  # fmt: skip
    p.add_argument("run_dir")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..diagnose.summary import summarize

    print(summarize(args.run_dir))
    return 0
