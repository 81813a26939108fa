"""ganforge's training step against the reference scripts people copy, at equal architecture, batch
and threads, on in-memory data (so the figure is the training step, not dataset decoding).

  python benchmarks/compare_reference.py --examples DIR --pytorch-gan DIR [--threads 2] [--rounds 3]

DIR are local checkouts of github.com/pytorch/examples and github.com/eriklindernoren/PyTorch-GAN;
nothing of theirs ships with ganforge. Each reference script runs unmodified except for three patched
lines: its argument parsing gets fixed arguments, its DataLoader is replaced by a list of random
batches, and its per-iteration prints go to a buffer. Ours and theirs alternate in fresh processes
`--rounds` times and the medians are compared, so load from other programs hits both alike.

Pairs (ours <-> theirs):
  dcgan64      pytorch/examples dcgan/main.py, 64x64 RGB, batch 64, nz/ngf/ndf 100/64/64
  mlp28        PyTorch-GAN implementations/gan/gan.py, 28x28, batch 64
  wgangp28     PyTorch-GAN implementations/wgan_gp/wgan_gp.py, 28x28, batch 64, 5 critic steps per G step
  dcgan32      PyTorch-GAN implementations/dcgan/dcgan.py, 32x32 grey, batch 64 (its nets rebuilt as a
               ganforge family in pg_dcgan_nets.py, so the engines differ and the networks do not)
Beside speed, each side's peak resident memory (ru_maxrss of its process: torch itself included, the
same on both sides) is printed: the issue asks DCGAN 64x64 batch 64 to train in less memory.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PAIRS = {
    "dcgan64": ("dcgan64", "examples", "dcgan/main.py", (3, 64, 64), 1),
    "mlp28": ("mlp28-pg", "pytorch-gan", "implementations/gan/gan.py", (1, 28, 28), 1),
    "wgangp28": ("wgangp28-pg", "pytorch-gan", "implementations/wgan_gp/wgan_gp.py", (1, 28, 28), 5),
    "dcgan32": ("dcgan32-pg", "pytorch-gan", "implementations/dcgan/dcgan.py", (1, 32, 32), 1),
}

# Runs inside a fresh interpreter: time the reference script's own loop on in-memory batches.
REFERENCE_RUNNER = r'''
import contextlib, io, os, re, sys, time, torch
path, kind, iters, warm, n_critic, shape, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), tuple(map(int, sys.argv[6].split("x"))), int(sys.argv[7])
if threads: torch.set_num_threads(threads)
src = open(path).read()

class TimedBatches:
    def __init__(self, batches): self.batches, self.t0, self.t1 = batches, None, None
    def __len__(self): return len(self.batches)
    def __iter__(self):
        for i, b in enumerate(self.batches):
            if i == warm * n_critic: self.t0 = time.perf_counter()
            yield b
        self.t1 = time.perf_counter()

if kind == "examples":
    src = src.replace("opt = parser.parse_args()", "opt = parser.parse_args(['--dataset', 'fake', '--batchSize', '64', '--niter', '1', '--outf', OUTF, '--workers', '0'])")
    src = src.replace("ngpu = int(opt.ngpu)", "dataloader = BATCHES\nngpu = int(opt.ngpu)")
else:
    src = src.replace("opt = parser.parse_args()", "opt = parser.parse_args(['--n_epochs', '1'])")
    src = re.sub(r"dataloader = torch\.utils\.data\.DataLoader\(.*?\n\)\n", "dataloader = BATCHES\n", src, flags=re.S)
assert "dataloader = BATCHES" in src, "the reference script changed: cannot patch its data loader"
BATCHES = TimedBatches([(torch.rand(64, *shape) * 2 - 1, torch.zeros(64, dtype=torch.long)) for _ in range((warm + iters) * n_critic)])
OUTF = os.path.join(os.environ.get("TMPDIR", "/tmp"), "ganforge-refbench")
os.makedirs(OUTF, exist_ok=True)
os.chdir(OUTF)
with contextlib.redirect_stdout(io.StringIO()):
    exec(compile(src, path, "exec"), {"__name__": "__main__", "BATCHES": BATCHES, "OUTF": OUTF})
import resource
print(iters * 64 / (BATCHES.t1 - BATCHES.t0), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
'''


def run_reference(path, kind, iters, warmup, n_critic, shape, threads) -> tuple[float, float]:
    """(img/s, peak MiB) of the reference script's loop."""
    argv = [sys.executable, "-c", REFERENCE_RUNNER, path, kind, str(iters), str(warmup), str(n_critic), "x".join(map(str, shape)), str(threads)]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"reference {path} failed:\n{out.stderr[-2000:]}")
    rate, peak = out.stdout.strip().splitlines()[-1].split()
    return float(rate), float(peak)


def run_ours(case, iters, warmup, threads) -> tuple[float, float]:
    """(img/s, peak MiB) of ganforge's steps (benchmarks/step_speed.py)."""
    argv = [sys.executable, os.path.join(HERE, "step_speed.py"), "--cases", case, "--iters", str(iters), "--warmup", str(warmup), "--threads", str(threads), "--device", "cpu"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    words = out.stdout.strip().splitlines()[-1].split()  # case, img/s, "img/s", it/s, "it/s", "peak", MiB, "MiB"
    return float(words[1]), float(words[6])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", help="checkout of pytorch/examples")
    p.add_argument("--pytorch-gan", help="checkout of eriklindernoren/PyTorch-GAN")
    p.add_argument("--pairs", default="dcgan64,mlp28,wgangp28,dcgan32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=0, help="timed iterations (default: 6 for dcgan64, 60 otherwise)")
    args = p.parse_args()
    roots = {"examples": args.examples, "pytorch-gan": args.pytorch_gan}
    print(f"threads {args.threads}, rounds {args.rounds}, img/s (median over rounds)")
    for pair in args.pairs.split(","):
        ours_case, repo, rel, shape, n_critic = PAIRS[pair]
        if not roots[repo]:
            print(f"{pair:<10} skipped: pass --{repo} DIR")
            continue
        iters = args.iters or {"dcgan64": 6, "dcgan32": 20}.get(pair, 60)
        warmup = 2 if pair == "dcgan64" else 5
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(run_ours(ours_case, iters, warmup, args.threads))
            theirs.append(run_reference(os.path.join(roots[repo], rel), repo if repo == "examples" else "pg", iters, warmup, n_critic, shape, args.threads))
        o, t = statistics.median(r for r, _ in ours), statistics.median(r for r, _ in theirs)
        mo, mt = statistics.median(m for _, m in ours), statistics.median(m for _, m in theirs)
        print(f"{pair:<10} ganforge {o:8.1f}   reference {t:8.1f}   ratio {o / t:5.2f}x   "
              f"peak memory {mo:6.0f} vs {mt:6.0f} MiB   ({repo}/{rel})", flush=True)


if __name__ == "__main__":
    main()
