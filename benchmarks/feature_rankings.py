"""Do feature spaces rank the same runs the same way? Scores trained runs in several spaces and prints,
per space, each run's FID, precision, recall, density and coverage with its rank, and the real-vs-real
floor of the space at the same n.

    python benchmarks/feature_rankings.py RUN RUN RUN [--spaces evaluator pixels] [-n 2000]

Each run is scored with `ganforge eval RUN --features SPACE --metrics fid,pr,dc -n N` (the cards go to the
run's metrics/metrics.jsonl as usual), then the latest card of each metric in each space is read back.
Spaces without pretrained weights on this machine (inception, dinov2-*) are left out by default: random
weights rank nothing.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from ganforge.metrics.features import feature_space_of
from ganforge.metrics.records import eval_lines, read_metrics, value_of

METRICS = [("fid", False), ("precision", True), ("recall", True), ("density", True), ("coverage", True)]  # (name, higher is better)


def latest(run_dir: str, metric: str, space: str, n: int) -> dict | None:
    lines = [line for line in eval_lines(read_metrics(run_dir))
             if line["metric"] == metric and line.get("n_gen") == n and feature_space_of(line) == space]  # fmt: skip
    return lines[-1] if lines else None


def ranks(values: list[float], higher_is_better: bool) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: -values[i] if higher_is_better else values[i])
    out = [0] * len(values)
    for rank, i in enumerate(order, 1):
        out[i] = rank
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--spaces", nargs="+", default=["evaluator", "pixels"])
    p.add_argument("-n", type=int, default=2000)
    args = p.parse_args()
    names = [os.path.basename(os.path.normpath(r)) for r in args.runs]
    for space in args.spaces:
        for run in args.runs:
            cmd = [sys.executable, "-m", "ganforge", "eval", run, "--features", space, "--metrics", "fid,pr,dc", "-n", str(args.n)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
        print(f"\n### space: {space} (n = {args.n})\n")
        print("| run | " + " | ".join(f"{m} (rank)" for m, _ in METRICS) + " |")
        print("|---|" + "---|" * len(METRICS))
        cards = {m: [latest(r, m, space, args.n) for r in args.runs] for m, _ in METRICS}
        table = {m: [value_of(c) for c in cards[m]] for m, _ in METRICS}
        rank = {m: ranks(table[m], hib) for m, hib in METRICS}
        for i, name in enumerate(names):
            print(f"| {name} | " + " | ".join(f"{table[m][i]:.4g} ({rank[m][i]})" for m, _ in METRICS) + " |")
        floors = {m: cards[m][0]["extra"].get("real_vs_real") for m, _ in METRICS}
        print("| real vs real (floor) | " + " | ".join("-" if f is None else f"{f:.4g}" for f in floors.values()) + " |")
        print(f"\nextractor: {cards['fid'][0].get('extractor')}")


if __name__ == "__main__":
    main()
