"""Images/s of ganforge training steps (one D step + one G step = one iteration, as the reference
scripts count), on the current device, with peak memory.

  python benchmarks/step_speed.py [--threads N] [--iters N] [--cases dcgan64,mlp28,...]
                                  [--precision fp32|bf16|fp16] [--channels-last] [--compile] [--no-fused]
                                  [--set key=value ...]   (any config key, e.g. --set batch_size=32)

Cases (equal architecture and batch to the implementations people copy):
  dcgan64  DCGAN 64x64 RGB, batch 64, nz/ngf/ndf 100/64/64   (pytorch/examples dcgan/main.py)
  mlp28    MLP GAN 28x28, batch 64, 256-256 hidden            (the classic tutorials' sizes)
  dcgan28  DCGAN 28x28 grey, batch 64, width 64               (the dcgan preset on MNIST)
  mlp28-pg     PyTorch-GAN gan.py's MLPs, 28x28, batch 64
  wgangp28-pg  PyTorch-GAN wgan_gp.py: the same MLPs, GP lambda 10, 5 critic steps per G step
  dcgan32-pg   PyTorch-GAN dcgan.py's nets (benchmarks/pg_dcgan_nets.py), 32x32 grey, batch 64
  stylegan2-demo32, biggan-demo32, msggan-demo32, r3gan-demo32, began-demo32
               each -demo preset as shipped (its widths, batch, regularisers), 32x32 grey
  cyclegan128  CycleGAN 128x128 RGB, batch 1, ResNet G 6 blocks, PatchGAN, pools (junyanz/pytorch-CycleGAN-and-pix2pix)
  cyclegan256  the same at 256x256, 9 blocks
  pix2pix256   pix2pix 256x256, batch 1, U-Net 256 with batch norm, conditional PatchGAN
One iteration is one G step with its D steps (5 for WGAN-GP, as PyTorch-GAN's i % n_critic).
Data is an in-memory random tensor (`fake`), so the figure is the training step, not JPEG decoding.
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

from ganforge.config import merge, parse_override
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer

CASES = {
    "dcgan64": ("dcgan", {"data": "fake", "image_size": 64, "channels": 3, "batch_size": 64}),
    "mlp28": ("gan", {"data": "fake", "image_size": 28, "channels": 1, "batch_size": 64}),
    "dcgan28": ("dcgan", {"data": "fake", "image_size": 28, "channels": 1, "batch_size": 64}),
    # The MLP of PyTorch-GAN's gan.py / wgan_gp.py: G 128-256-512-1024 (BN, LeakyReLU), D 512-256.
    # reuse_fake as gan.py does (its D step reuses the batch its G step made).
    "mlp28-pg": ("gan", {"data": "fake", "image_size": 28, "channels": 1, "batch_size": 64, "reuse_fake": True, "model": {
        "g": {"hidden": [128, 256, 512, 1024], "norm": "batch", "activation": "leaky_relu"}, "d": {"hidden": [512, 256]}}}),
    "wgangp28-pg": ("gan", {"data": "fake", "image_size": 28, "channels": 1, "batch_size": 64, "model": {
        "g": {"hidden": [128, 256, 512, 1024], "norm": "batch", "activation": "leaky_relu"}, "d": {"hidden": [512, 256]}},
        "loss": "wasserstein", "gp_weight": 10.0, "n_critic": 5,
        "opt_g": {"lr": 1e-4, "betas": [0.0, 0.9]}, "opt_d": {"lr": 1e-4, "betas": [0.0, 0.9]}}),
    # As dcgan.py: Adam 2e-4 (0.5, 0.999), G's batch reused (detached) by D's step.
    "dcgan32-pg": ("dcgan", {"data": "fake", "image_size": 32, "channels": 1, "batch_size": 64, "reuse_fake": True,
                             "model": {"name": "pg-dcgan", "g": {}, "d": {}}}),
    # The newer families at their CPU-demo widths and batches, on 32x32 grey: each preset as shipped
    # (lazy regularisers included; time a multiple of 16 iterations so StyleGAN2's lazy R1 averages in).
    "stylegan2-demo32": ("stylegan2-demo", {"data": "fake", "image_size": 32, "channels": 1}),
    "biggan-demo32": ("biggan-demo", {"data": "fake", "image_size": 32, "channels": 1}),
    "msggan-demo32": ("msggan-demo", {"data": "fake", "image_size": 32, "channels": 1}),
    "r3gan-demo32": ("r3gan-demo", {"data": "fake", "image_size": 32, "channels": 1}),
    "began-demo32": ("began-demo", {"data": "fake", "image_size": 32, "channels": 1}),
    # The default demo (`ganforge train` with no arguments) as shipped, on its bundled mnist5k.
    "mnist-demo": ("mnist-demo", {}),
    # Image-to-image translation, the papers' settings (batch 1, instance norm; ResNet G with 6 blocks at
    # 128 px and 9 at 256, 70x70 PatchGAN, 50-image pools; pix2pix: U-Net 256, batch norm, conditional D).
    # Their data are two tiny folders of random images written to a temp dir (TWO_DOMAINS below):
    # batches are cropped and flipped from memory, so the figure is still the training step.
    "cyclegan128": ("cyclegan", {"data": "TWO_DOMAINS", "image_size": 128, "batch_size": 1}),
    "cyclegan256": ("cyclegan", {"data": "TWO_DOMAINS", "image_size": 256, "batch_size": 1}),
    "pix2pix256": ("pix2pix", {"data": "TWO_DOMAINS", "image_size": 256, "batch_size": 1}),
}


def two_domain_folder(root: str, size: int, n: int = 4) -> str:
    """root/trainA, trainB (unpaired) and root/train (side-by-side AB pairs) of n random RGB images at the
    jitter's load size (size x 286/256): the smallest data the translation algorithms accept."""
    import os

    import numpy as np
    from PIL import Image

    load = round(size * 286 / 256)
    rng = np.random.default_rng(0)
    for sub, width in (("trainA", load), ("trainB", load), ("train", 2 * load)):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (load, width, 3), dtype=np.uint8)).save(os.path.join(root, sub, f"{i}.png"))
    return root


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """Resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return 0.0


def measure(case: str, iters: int, warmup: int, device: str, options: dict | None = None, sets: list[dict] = ()) -> dict:
    """`options`: config keys of the speed options (precision, channels_last, compile, fused_optimizers);
    `sets`: more config overrides ({'batch_size': 32}), applied last."""
    preset, overrides = CASES[case]
    if overrides.get("data") == "TWO_DOMAINS":
        import tempfile

        folder = two_domain_folder(tempfile.mkdtemp(prefix="ganforge-bench-"), overrides["image_size"])
        overrides = {**overrides, "data": folder, "tensorboard": False}
    if case == "dcgan32-pg":
        import pg_dcgan_nets  # noqa: F401  (registers the benchmark-only model family)
    cfg = merge(resolve_config(preset, [overrides]), {"device": device, **(options or {})})
    for override in sets:
        cfg = merge(cfg, override)
    if case == "dcgan32-pg":  # the family takes no options: drop the dcgan preset's width/norm
        cfg.model.g, cfg.model.d = {}, {}
    trainer = build_trainer(cfg, progress=False)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    iteration = trainer.train_step  # the loop's own step: the one `ganforge train` runs

    before = current_rss_mib()  # networks, optimizers and data built, nothing trained yet
    for _ in range(warmup):
        iteration()
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        iteration()
    trainer.window.flush()
    sync()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if trainer.device.type == "cuda" else peak_rss_mib()
    # On a CPU: how much the training steps added to the resident memory at their peak (activations,
    # gradients, optimizer state), the part that differs between engines; the process peak includes
    # torch, the data and the weights.
    step_peak = peak - before if trainer.device.type != "cuda" else peak
    return {"case": case, "img/s": iters * cfg.batch_size / seconds, "it/s": iters / seconds, "peak_MiB": peak, "step_MiB": step_peak}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="dcgan64,mlp28,dcgan28")
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D (compiles during --warmup)")
    p.add_argument("--no-fused", action="store_true", help="torch's default (foreach) optimizers, not the fused ones")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config keys over each case's (e.g. batch_size=32)")
    args = p.parse_args()
    options = {"precision": args.precision, "channels_last": args.channels_last, "compile": args.compile,
               "fused_optimizers": not args.no_fused}  # fmt: skip
    sets = [parse_override(text) for text in args.set]
    if args.threads:
        torch.set_num_threads(args.threads)
    also = f", set {' '.join(args.set)}" if args.set else ""
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}, {options}{also}")
    for case in args.cases.split(","):
        r = measure(case, args.iters, args.warmup, args.device, options, sets)
        # ru_maxrss is the process's peak so far: on a CPU, cases run later include earlier peaks.
        print(f"{r['case']:<8} {r['img/s']:8.3f} img/s  {r['it/s']:6.2f} it/s  peak {r['peak_MiB']:7.0f} MiB  steps {r['step_MiB']:6.0f} MiB")


if __name__ == "__main__":
    main()
