"""Feature extraction speed per feature space (`ganforge eval --features`) on this machine: images/s.

Each space reads the same random images (default 256 of 32x32 RGB, as a CIFAR-sized run generates)
through its whole path: quantisation, resizing to the network's input (299 for Inception, 224 for
DINOv2), the network, features to the CPU. Weights do not change the speed, so a network without a
weights file runs with random weights and the table says so: these runs time the networks, their
features rank nothing.

    python benchmarks/feature_throughput.py                       # one thread, all four default spaces
    python benchmarks/feature_throughput.py --n 8 --batch 4       # a quick look
    python benchmarks/feature_throughput.py --spaces pixels dinov2-vits14 dinov2-vitb14 --threads 2
    python benchmarks/feature_throughput.py --inception-weights pt_inception-2015-12-05.pth \\
        --dinov2-weights dinov2_vits14_pretrain.pth               # the real networks (same speed)

The evaluator is a randomly initialised darknet-small at the images' own size (what `ganforge
fit-evaluator` trains by default). Scoring n generated images costs about n / rate seconds, plus as
much again for the reference and training images the first time.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import ExitStack
from unittest import mock

DEFAULT_SPACES = ["pixels", "evaluator", "inception", "dinov2-vits14"]


def build(space: str, args):
    """(extractor, weights in words) for one space."""
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    from ganforge.classify import build_classifier
    from ganforge.metrics.dinov2 import DINOv2
    from ganforge.metrics.features import InceptionV3, ModuleFeatures, PixelFeatures

    if space == "pixels":
        return PixelFeatures(native_size=args.size), "none (no network)"
    if space == "evaluator":
        net = build_classifier("darknet-small", args.channels, args.size, 10)
        return ModuleFeatures(net, "darknet-small", image_size=args.size, channels=args.channels), "random"
    if space == "inception":
        if args.inception_weights:
            return InceptionV3(args.inception_weights), args.inception_weights
        with ExitStack() as stack:  # torch-fidelity's network without its download: random weights
            stack.enter_context(mock.patch.object(tf_inception, "load_state_dict_from_url", lambda *a, **k: {}))
            stack.enter_context(mock.patch.object(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, s: None))
            return InceptionV3(), "random (no --inception-weights)"
    if space.startswith("dinov2-"):
        if args.dinov2_weights and space == args.dinov2_space:
            return DINOv2(space, args.dinov2_weights), args.dinov2_weights
        return DINOv2(space, random_weights=True), "random (no --dinov2-weights)"
    raise SystemExit(f"unknown space '{space}'")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=DEFAULT_SPACES,
                        help="pixels, evaluator, inception, dinov2-vits14, dinov2-vitb14, dinov2-vitl14")  # fmt: skip
    parser.add_argument("--n", type=int, default=256, help="images timed per space (after one warm-up batch)")
    parser.add_argument("--batch", type=int, default=64, help="images per forward pass")
    parser.add_argument("--size", type=int, default=32, help="side of the images, in pixels")
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--inception-weights", metavar="PATH")
    parser.add_argument("--dinov2-weights", metavar="PATH", help="weights of the first DINOv2 space asked for")
    args = parser.parse_args()
    args.dinov2_space = next((s for s in args.spaces if s.startswith("dinov2-")), None)

    import torch

    from ganforge.metrics.features import extract

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.rand(args.n, args.channels, args.size, args.size) * 2 - 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; {args.n} images of {args.channels}x{args.size}x{args.size}, batches of {args.batch}")  # fmt: skip
    rows = []
    for space in args.spaces:
        t0 = time.perf_counter()
        ex, weights = build(space, args)
        build_s = time.perf_counter() - t0
        extract(ex, images[: min(args.batch, args.n)], batch_size=args.batch)  # warm-up: allocations, lazy inits
        t0 = time.perf_counter()
        feats, _ = extract(ex, images, batch_size=args.batch)
        seconds = time.perf_counter() - t0
        size = f"{ex.input_size}x{ex.input_size}" if ex.input_size else "-"
        rows.append((space, feats.shape[1], size, args.n / seconds, seconds, build_s, weights))
        del ex
    print(f"{'space':<15}{'dim':>6}{'input':>9}{'images/s':>11}{'seconds':>9}{'build s':>9}  weights")
    for space, dim, size, rate, seconds, build_s, weights in rows:
        print(f"{space:<15}{dim:>6}{size:>9}{rate:>11.1f}{seconds:>9.2f}{build_s:>9.2f}  {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
