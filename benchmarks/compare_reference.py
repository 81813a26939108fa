"""ganforge's training step against the reference scripts people copy, at equal architecture, batch
and threads, on in-memory data (so the figure is the training step, not dataset decoding).

  python benchmarks/compare_reference.py --examples DIR --pytorch-gan DIR [--cyclegan DIR] [--threads 2] [--rounds 3]
                                        [--ours "--channels-last --compile"]

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
  cyclegan128  junyanz/pytorch-CycleGAN-and-pix2pix models/cycle_gan_model.py, 128x128 RGB, batch 1,
               resnet_6blocks + basic PatchGAN (parameter counts equal to ours), timed through its
               optimize_parameters (see CYCLEGAN_RUNNER)
Beside speed, the memory each side's training steps add to its process at their peak (peak resident
memory minus the resident memory once networks, optimizers and data are built: activations, gradients,
optimizer state) is printed: the issue asks DCGAN 64x64 batch 64 to train in less memory.
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
    "cyclegan128": ("cyclegan128", "cyclegan", "models/cycle_gan_model.py", (3, 128, 128), 1),
}

# CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix) has no single training script to patch: its train.py
# builds options, a dataset and a visualizer. This runner imports the checkout's models package and times
# what train.py calls per iteration, `model.set_input(data); model.optimize_parameters()`, with the
# options of its CycleGAN recipe (train options' defaults: resnet_6blocks at 128 px as ours, 70x70
# PatchGAN 'basic', instance norm, lsgan, pool 50, lambda 10 / identity 0.5, Adam 2e-4 / 0.5, batch 1)
# on random in-memory images. Left out on both sides: data loading, logging, checkpoints, lr schedules.
CYCLEGAN_RUNNER = r'''
import argparse, os, resource, sys, time, torch
root, iters, warm, size, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if threads: torch.set_num_threads(threads)
sys.path.insert(0, root)
from models.cycle_gan_model import CycleGANModel
def rss_mib():
    with open("/proc/self/statm") as f: return int(f.read().split()[1]) * resource.getpagesize() / 2**20
opt = argparse.Namespace(gpu_ids=[], isTrain=True, checkpoints_dir=os.environ.get("TMPDIR", "/tmp"), name="ganforge-refbench",
    preprocess="resize_and_crop", input_nc=3, output_nc=3, ngf=64, ndf=64, netG="resnet_6blocks", netD="basic", n_layers_D=3,
    norm="instance", no_dropout=True, init_type="normal", init_gain=0.02, pool_size=50, gan_mode="lsgan", lr=2e-4, beta1=0.5,
    lambda_A=10.0, lambda_B=10.0, lambda_identity=0.5, direction="AtoB", verbose=False)
model = CycleGANModel(opt)
batches = [{"A": torch.rand(1, 3, size, size) * 2 - 1, "B": torch.rand(1, 3, size, size) * 2 - 1, "A_paths": [""], "B_paths": [""]}
           for _ in range(warm + iters)]
rss0 = rss_mib()
for i, data in enumerate(batches):
    if i == warm: t0 = time.perf_counter()
    model.set_input(data)
    model.optimize_parameters()
t1 = time.perf_counter()
print(iters / (t1 - t0), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0)
'''

# Runs inside a fresh interpreter: time the reference script's own loop on in-memory batches.
REFERENCE_RUNNER = r'''
import contextlib, io, os, re, sys, time, torch
path, kind, iters, warm, n_critic, shape, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), tuple(map(int, sys.argv[6].split("x"))), int(sys.argv[7])
if threads: torch.set_num_threads(threads)
src = open(path).read()

import resource
def rss_mib():
    with open("/proc/self/statm") as f: return int(f.read().split()[1]) * resource.getpagesize() / 2**20

class TimedBatches:
    def __init__(self, batches): self.batches, self.t0, self.t1, self.rss0 = batches, None, None, None
    def __len__(self): return len(self.batches)
    def __iter__(self):
        for i, b in enumerate(self.batches):
            if i == 0: self.rss0 = rss_mib()  # networks, optimizers and batches built, nothing trained yet
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
print(iters * 64 / (BATCHES.t1 - BATCHES.t0), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - BATCHES.rss0)
'''


def run_reference(path, kind, iters, warmup, n_critic, shape, threads) -> tuple[float, float]:
    """(img/s, MiB its training steps added to the process's resident memory at their peak)."""
    argv = [sys.executable, "-c", REFERENCE_RUNNER, path, kind, str(iters), str(warmup), str(n_critic), "x".join(map(str, shape)), str(threads)]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"reference {path} failed:\n{out.stderr[-2000:]}")
    rate, peak = out.stdout.strip().splitlines()[-1].split()
    return float(rate), float(peak)


def run_cyclegan_reference(root, iters, warmup, size, threads) -> tuple[float, float]:
    """(img/s, MiB its steps added at their peak) of junyanz's CycleGANModel.optimize_parameters (batch 1)."""
    argv = [sys.executable, "-c", CYCLEGAN_RUNNER, root, str(iters), str(warmup), str(size), str(threads)]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"reference CycleGAN in {root} failed:\n{out.stderr[-2000:]}")
    rate, peak = out.stdout.strip().splitlines()[-1].split()
    return float(rate), float(peak)


def run_ours(case, iters, warmup, threads, options=()) -> tuple[float, float]:
    """(img/s, MiB the steps added to resident memory at their peak) of ganforge (benchmarks/step_speed.py,
    with `options` such as --channels-last or --compile)."""
    argv = [sys.executable, os.path.join(HERE, "step_speed.py"), "--cases", case, "--iters", str(iters), "--warmup", str(warmup), "--threads", str(threads), "--device", "cpu", *options]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    words = out.stdout.strip().splitlines()[-1].split()  # case N img/s N it/s peak N MiB steps N MiB
    return float(words[1]), float(words[9])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", help="checkout of pytorch/examples")
    p.add_argument("--pytorch-gan", help="checkout of eriklindernoren/PyTorch-GAN")
    p.add_argument("--cyclegan", help="checkout of junyanz/pytorch-CycleGAN-and-pix2pix (pair cyclegan128)")
    p.add_argument("--pairs", default="dcgan64,mlp28,wgangp28,dcgan32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=0, help="timed iterations (default: 6 for dcgan64, 60 otherwise)")
    p.add_argument("--ours", default="", metavar="OPTIONS",
                   help='step_speed.py options for ganforge\'s side, e.g. "--channels-last" or "--compile" (the reference runs as written)')
    args = p.parse_args()
    roots = {"examples": args.examples, "pytorch-gan": args.pytorch_gan, "cyclegan": args.cyclegan}
    print(f"threads {args.threads}, rounds {args.rounds}, img/s (median over rounds), ganforge options: {args.ours or 'none'}")
    for pair in args.pairs.split(","):
        ours_case, repo, rel, shape, n_critic = PAIRS[pair]
        if not roots[repo]:
            print(f"{pair:<10} skipped: pass --{repo} DIR")
            continue
        iters = args.iters or {"dcgan64": 6, "dcgan32": 20, "cyclegan128": 3}.get(pair, 60)
        warmup = {"dcgan64": 2, "cyclegan128": 1}.get(pair, 5)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(run_ours(ours_case, iters, warmup, args.threads, args.ours.split()))
            if repo == "cyclegan":
                theirs.append(run_cyclegan_reference(roots[repo], iters, warmup, shape[-1], args.threads))
            else:
                theirs.append(run_reference(os.path.join(roots[repo], rel), repo if repo == "examples" else "pg", iters, warmup, n_critic, shape, args.threads))
        o, t = statistics.median(r for r, _ in ours), statistics.median(r for r, _ in theirs)
        mo, mt = statistics.median(m for _, m in ours), statistics.median(m for _, m in theirs)
        print(f"{pair:<10} ganforge {o:8.4g}   reference {t:8.4g}   ratio {o / t:5.2f}x   "
              f"training memory {mo:6.0f} vs {mt:6.0f} MiB   ({repo}/{rel})", flush=True)


if __name__ == "__main__":
    main()
