"""Training throughput with 1 and K processes (DistributedDataParallel through torchrun), and the scaling.

  python benchmarks/scaling.py [--nprocs 1,2] [--case mlp28|dcgan28] [--batch-size 64] [--iters 20]
                               [--device cpu|cuda] [--cores N]

Each process count K is one torchrun launch of this script (--worker) training the case with the global
batch --batch-size split over K ranks (gloo on CPU, NCCL on CUDA). On CPU the machine's cores are shared:
each process gets cores / K torch threads, so K processes use the same hardware as one (strong scaling on
fixed hardware). Printed per K: images/s (global batch x iterations / seconds, timed between barriers
after warm-up), the speed-up over 1 process, and the efficiency speed-up / K (on GPUs, where each process
brings its own device, efficiency is the figure to watch; on one CPU, the speed-up is).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = {
    "mlp28": ("gan", {"data": "fake", "image_size": 28, "channels": 1}),
    "dcgan28": ("dcgan", {"data": "fake", "image_size": 28, "channels": 1}),
}


def worker(args) -> None:
    """One rank: train `iters` steps after `warmup`, timed between barriers; rank 0 prints a JSON line."""
    import torch
    import torch.distributed as dist

    from ganforge.config import merge
    from ganforge.presets import resolve_config
    from ganforge.runtime import distributed
    from ganforge.runs import build_trainer

    preset, overrides = CASES[args.case]
    cfg = merge(resolve_config(preset, [overrides]), {"batch_size": args.batch_size, "device": args.device})
    trainer = build_trainer(cfg, progress=False)

    iteration = trainer.train_step  # the loop's own step

    def wait():  # every rank (and the GPU) done with the work so far
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        if trainer.world.enabled:
            dist.barrier()

    for _ in range(args.warmup):
        iteration()
    wait()
    start = time.perf_counter()
    for _ in range(args.iters):
        iteration()
    wait()
    seconds = time.perf_counter() - start
    if trainer.world.is_main:
        print(json.dumps({"nproc": trainer.world.world_size, "threads": torch.get_num_threads(), "img_per_s": args.batch_size * args.iters / seconds}))
    distributed.teardown()


def launch(args, nproc: int) -> dict:
    cores = args.cores or os.cpu_count() or 1
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, cores // nproc)))
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", __file__, "--worker",
        "--case", args.case, "--batch-size", str(args.batch_size), "--iters", str(args.iters), "--warmup", str(args.warmup),
        "--device", args.device,
    ]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        sys.exit(f"{nproc} processes failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(lines[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--nprocs", default="1,2", help="process counts to compare")
    p.add_argument("--case", choices=sorted(CASES), default="mlp28")
    p.add_argument("--batch-size", type=int, default=64, help="global batch (split over the processes)")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--cores", type=int, help="CPU cores to share out (default: all)")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    results = [launch(args, int(k)) for k in args.nprocs.split(",")]
    base = results[0]["img_per_s"]
    print(f"{args.case}, global batch {args.batch_size}, {args.iters} iterations, device {args.device}")
    print(f"{'processes':>9} {'threads each':>12} {'img/s':>8} {'speed-up':>8} {'efficiency':>10}")
    for r in results:
        speedup = r["img_per_s"] / base  # over the first process count (1 by default)
        efficiency = speedup / (r["nproc"] / results[0]["nproc"])
        print(f"{r['nproc']:>9} {r['threads']:>12} {r['img_per_s']:>8.1f} {speedup:>8.2f} {efficiency:>10.2f}")


if __name__ == "__main__":
    main()
