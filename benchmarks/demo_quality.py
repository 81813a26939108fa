"""The first picture, scored: the default preset (what `ganforge train` runs with no arguments) trained
for several seeds, each run then scored as `ganforge eval RUN -n 2000` scores it with the offline
evaluator, beside the same for dcgan-demo (the plain paper recipe).

    python benchmarks/demo_quality.py                      # the default preset and dcgan-demo, seeds 0-2
    python benchmarks/demo_quality.py dcgan-demo "dcgan-demo:steps=6000,ema_half_life=200" --seeds 0
    python benchmarks/demo_quality.py --keep runs/demo-quality    # keep the runs (grids, stats, metrics)

Columns: wall and process-CPU time of the training (the demo's budget is 5 minutes of wall time on 2
cores); domain FID against the held-out digits and its floor (real training digits against the same
held-out ones, at the same n: a perfect generator's score); precision and recall (k-NN manifolds in the
evaluator's features); KL(gen || data) over the evaluator's digit classes and the digits covered; the
near-copy share of generated digits (memorization) beside the real-vs-real baseline (held-out digits
that are as close to a training digit). The goal for the default preset: FID <= 2x the floor, precision
>= 0.9, recall >= 0.8, KL <= 0.02, 10/10 digits, near-copies at the baseline, on every seed.
Each entry is PRESET or PRESET:key=value,key=value (as benchmarks/zoo.py).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time


def parse_entry(entry: str) -> tuple[str, list[dict]]:
    from ganforge.config import parse_override

    name, _, rest = entry.partition(":")
    return name, [parse_override(kv) for kv in re.split(r",(?![^\[]*\])", rest) if kv.strip()]


def cards(run_dir: str) -> dict:
    """The newest `ganforge eval` card of each metric in the run's metrics/metrics.jsonl."""
    out = {}
    with open(os.path.join(run_dir, "metrics", "metrics.jsonl")) as f:
        for card in map(json.loads, f):
            if card.get("source") == "eval":
                out[card["metric"]] = card
    return out


def main() -> None:
    from ganforge.presets import DEFAULT_PRESET

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("entries", nargs="*", help=f"PRESET[:key=value,...] (default: {DEFAULT_PRESET} and dcgan-demo)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("-n", type=int, default=2000, help="generated samples scored (the issue's protocol: 2,000)")
    p.add_argument("--threads", type=int, default=0, help="torch threads for training (0: torch's default, as the demo)")
    p.add_argument("--keep", help="keep the runs in this folder")
    args = p.parse_args()

    import ganforge as gf
    from ganforge.cli import main as cli
    from ganforge.metrics.offline_evaluator import fit_evaluator

    entries = args.entries or list(dict.fromkeys([DEFAULT_PRESET, "dcgan-demo"]))
    fit_evaluator("mnist5k", progress=False)
    root = args.keep or tempfile.mkdtemp(prefix="demo-quality-")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; scoring {args.n} samples per run", flush=True)
    rows = []
    for entry in entries:
        name, overrides = parse_entry(entry)
        for seed in map(int, args.seeds.split(",")):
            run_dir = os.path.join(root, f"{re.sub(r'[^A-Za-z0-9_.=-]+', '_', entry)}-seed{seed}")
            cfg = gf.resolve_config(name, [*overrides, {"seed": seed, "threads": args.threads, "tensorboard": False}])
            wall0, cpu0 = time.perf_counter(), time.process_time()
            gf.train(cfg, out=run_dir, progress=False)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            if cli(["eval", run_dir, "-n", str(args.n), "--metrics", "fid,pr,modes,memorization"]) != 0:
                raise SystemExit(f"ganforge eval {run_dir} failed")
            c = cards(run_dir)
            fid, floor = c["fid"]["value"], c["fid"]["extra"]["real_vs_real"]
            row = (entry, seed, cfg.steps, wall, cpu, fid, floor, c["precision"]["value"], c["recall"]["value"],
                   c["modes/kl"]["value"], c["modes/covered"]["value"], c["memorization"]["value"],
                   c["memorization"]["extra"]["baseline_share"])  # fmt: skip
            rows.append(row)
            print("  " + " | ".join(map(str, row)), flush=True)
    print("\n| preset | seed | steps | wall s | CPU s | domain FID | floor | FID/floor | precision | recall | KL | digits | near-copies (real baseline) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for entry, seed, steps, wall, cpu, fid, floor, prec, rec, kl, modes, mem, base in rows:
        print(f"| {entry} | {seed} | {steps} | {wall:.0f} | {cpu:.0f} | {fid:.2f} | {floor:.2f} | {fid / floor:.2f} | {prec:.3f} | "
              f"{rec:.3f} | {kl:.4f} | {modes:.0f}/10 | {mem:.3f} ({base:.3f}) |")
    if args.keep:
        print(f"runs kept in {root}")


if __name__ == "__main__":
    main()
