"""Style-transfer speed: seconds per L-BFGS step, total time and peak memory at 288 and 512 pixels.

Runs `ganforge.tools.stylize.stylize` (VGG19, the default layers, L-BFGS, content chelsea + style
coffee, both bundled) on the current device. Speed does not depend on the weights, so without
--weights the VGG is random (offline machines have no pretrained file). Each size runs in a fresh
process so its peak memory is its own: CUDA's max_memory_allocated on a GPU, the peak resident set
size (RSS) of the process on a CPU.

    python benchmarks/stylize.py                       # 288 and 512 px, 10 steps each
    python benchmarks/stylize.py --sizes 288 --steps 20 --weights ~/vgg19-dcbb9e9d.pth
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process's resident memory (Linux >= 4.0), so the
    peak measured is the run's own and not the moment the full torchvision VGG was built."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def one_size(size: int, steps: int, network: str, weights: str | None, device_name: str) -> dict:
    import torch

    from ganforge.commands.stylize import resolve_device
    from ganforge.tools.feature_nets import vgg_feature_net
    from ganforge.tools.image_io import load_image, resize_short_side

    device = resolve_device(device_name)
    start = time.perf_counter()
    feature_net = vgg_feature_net(network, weights).to(device)
    content = resize_short_side(load_image("chelsea"), size)[None]
    style = resize_short_side(load_image("coffee"), size)[None]
    build_seconds = time.perf_counter() - start

    from ganforge.tools.stylize import stylize

    if device.type == "cuda":  # warm up kernels (cuDNN picks algorithms on first use) off the clock
        stylize(feature_net, content, style, steps=1, progress=False)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    rss_reset = reset_peak_rss()
    run_start = time.perf_counter()
    result = stylize(feature_net, content, style, steps=steps, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    total = time.perf_counter() - run_start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        peak_kind = "CUDA max allocated"
    else:
        peak = peak_rss_mib()
        peak_kind = "peak RSS during the run" if rss_reset else "process peak RSS (network build included)"
    return {
        "size": size,
        "image": f"{result.images.shape[-1]}x{result.images.shape[-2]}",
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "steps": steps,
        "iterations": result.iterations,
        "evaluations": result.evaluations,
        "s_per_step": result.seconds_per_step,
        "total_s": total,
        "build_s": build_seconds,
        "peak_mib": peak,
        "peak_kind": peak_kind,
        "loss_first": result.history[0]["objective"],
        "loss_final": result.final["objective"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[288, 512], help="short side of the content image")
    parser.add_argument("--steps", type=int, default=10, help="L-BFGS steps per size (default 10)")
    parser.add_argument("--network", default="vgg19", choices=["vgg16", "vgg19"])
    parser.add_argument("--weights", default=None, help="a local VGG state dict (default: random weights)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # internal: run one size
    args = parser.parse_args()

    if args.one is not None:
        print(json.dumps(one_size(args.one, args.steps, args.network, args.weights, args.device)))
        return 0

    print(f"{args.network}, {'weights ' + args.weights if args.weights else 'random weights'}, L-BFGS, "
          f"{args.steps} steps per size; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'size':>5} {'image':>9} {'device':>12} {'steps':>6} {'evals':>6} {'s/step':>8} {'total s':>8} {'peak MiB':>9}  loss first -> final")
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(size), "--steps", str(args.steps), "--network", args.network,
               "--device", args.device] + (["--weights", args.weights] if args.weights else [])  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"size {size} failed", file=sys.stderr)
            return 1
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{r['size']:>5} {r['image']:>9} {r['device'][:12]:>12} {r['iterations']:>6} {r['evaluations']:>6} {r['s_per_step']:>8.3f} "
              f"{r['total_s']:>8.1f} {r['peak_mib']:>9.0f}  {r['loss_first']:.4g} -> {r['loss_final']:.4g}")
    print("s/step: wall time of the optimisation / L-BFGS iterations (evals: forward + backward passes, the line "
          "search's included); total: the whole call, targets included; peak: resident memory during the call "
          "on a CPU (" + r["peak_kind"] + "), CUDA max allocated on a GPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
