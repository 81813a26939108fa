"""The first picture, scored: the default preset (what `ganforge train` runs with no arguments) trained
for several seeds, each run then scored as `ganforge eval RUN -n 2000` scores it with the offline
evaluator, beside the same for dcgan-demo (the plain paper recipe).

    python benchmarks/demo_quality.py                      # the default preset and dcgan-demo, seeds 0-2
    python benchmarks/demo_quality.py dcgan-demo "dcgan-demo:steps=6000,ema_half_life=200" --seeds 0
    python benchmarks/demo_quality.py --keep runs/demo-quality    # keep the runs (grids, stats, metrics)
    python benchmarks/demo_quality.py mnist-demo --seeds 0 --picture docs/img/demo-vs-real.png   # the README's picture

Columns: wall and process-CPU time of the training (the demo's budget is 5 minutes of wall time on 2
cores); domain FID against the held-out digits and its floor (real training digits against the same
held-out ones, at the same n: a perfect generator's score); precision and recall (k-NN manifolds in the
evaluator's features), each beside real training digits' own score against the held-out ones (real
precision is about 0.9, not 1); KL(gen || data) over the evaluator's digit classes and the digits
covered; the near-copy share of generated digits (memorization) beside the real-vs-real baseline (held-out digits
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


def write_picture(run_dir: str, cfg, path: str) -> None:
    """[real training digits | the run's samples as `ganforge generate RUN -n 64` draws them (the sampler
    `ganforge eval` scores: discriminator rejection sampling where the preset asks for it)], the reals laid
    out as the samples are (a conditional run's rows: row r of class r mod 10)."""
    import torch
    from torchvision.io import read_image, write_png

    import ganforge as gf
    from ganforge.data import get_dataset
    from ganforge.train.samples import save_samples

    data = get_dataset(cfg.data, image_size=cfg.image_size, channels=cfg.channels)
    n = cfg.n_samples
    run = gf.load_run(run_dir)
    classes = run.algorithm.latent_labels(cfg, run.num_classes, n)
    if classes is not None:  # each slot a real digit of the class G was asked for there
        labels = torch.tensor([data.dataset[i][1] for i in range(len(data.dataset))])
        pools = {k: iter((labels == k).nonzero().flatten().tolist()) for k in classes.unique().tolist()}
        order = [next(pools[k]) for k in classes.tolist()]
    else:
        order = list(range(n))
    real_png, fake_png = os.path.join(run_dir, "reals-as-grid.png"), os.path.join(run_dir, "generated-grid.png")
    save_samples(torch.stack([data.dataset[i][0] for i in order]), real_png)
    save_samples(gf.generate(run, n, seed=0), fake_png)
    real, fake = read_image(real_png), read_image(fake_png)
    gap = torch.full((fake.shape[0], fake.shape[1], 24), 255, dtype=torch.uint8)  # a white strip between
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_png(torch.cat([real, gap, fake], dim=2), path, compression_level=9)
    print(f"picture: {path} (left: real training digits, right: `ganforge generate {run_dir} -n {n}`)", flush=True)


def main() -> None:
    from ganforge.presets import DEFAULT_PRESET

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("entries", nargs="*", help=f"PRESET[:key=value,...] (default: {DEFAULT_PRESET} and dcgan-demo)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("-n", type=int, default=2000, help="generated samples scored (the issue's protocol: 2,000)")
    p.add_argument("--threads", type=int, default=0, help="torch threads for training (0: torch's default, as the demo)")
    p.add_argument("--keep", help="keep the runs in this folder")
    p.add_argument("--picture", help="write the first run's final grid beside real training digits (same layout) to this PNG")
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
            real = [c[m]["extra"].get("real_vs_real", float("nan")) for m in ("precision", "recall")]
            row = (entry, seed, cfg.steps, wall, cpu, fid, floor, c["precision"]["value"], real[0], c["recall"]["value"],
                   real[1], c["modes/kl"]["value"], c["modes/covered"]["value"], c["memorization"]["value"],
                   c["memorization"]["extra"]["baseline_share"])  # fmt: skip
            rows.append(row)
            if args.picture and len(rows) == 1:
                write_picture(run_dir, cfg, args.picture)
            print("  " + " | ".join(map(str, row)), flush=True)
    print("\n| preset | seed | steps | wall s | CPU s | domain FID | floor | FID/floor | precision (real) | recall (real) | KL | digits "
          "| near-copies (real) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for entry, seed, steps, wall, cpu, fid, floor, prec, real_prec, rec, real_rec, kl, modes, mem, base in rows:
        print(f"| {entry} | {seed} | {steps} | {wall:.0f} | {cpu:.0f} | {fid:.2f} | {floor:.2f} | {fid / floor:.2f} | {prec:.3f} ({real_prec:.3f}) | "
              f"{rec:.3f} ({real_rec:.3f}) | {kl:.4f} | {modes:.0f}/10 | {mem:.3f} ({base:.3f}) |")
    if args.keep:
        print(f"runs kept in {root}")


if __name__ == "__main__":
    main()
