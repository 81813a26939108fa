"""Classifier benchmark: the CNN and a Darknet with 1cycle on the bundled MNIST (mnist5k), on the CPU.

Target (issue #4): >= 98 % held-out accuracy (the 500 test digits never trained on) in <= 2 CPU-minutes
each. Prints, per model, the test accuracy, the training wall time and the process CPU time (all
threads), and whether the target was met; exit code 1 if one missed.

    python benchmarks/classify_mnist.py            # both, torch's default threads
    python benchmarks/classify_mnist.py --threads 1 --seed 3

The same runs from the command line:
    ganforge classify train --model cnn --schedule 1cycle --optimizer adam --lr 3e-3 --epochs 8
    ganforge classify train --model darknet-small --schedule 1cycle --lr 0.1 --epochs 5
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

RUNS = {
    # The tutorial CNN (two conv-BN-ReLU-maxpool layers) with Adam under a 1cycle course.
    "cnn": dict(model="cnn", schedule={"kind": "1cycle", "optimizer": "adam", "lr_max": 3e-3}, epochs=8),
    # The fast.ai Darknet family at CPU size (groups [1, 1, 2] from 8 channels), SGD + Nesterov 1cycle.
    "darknet-small": dict(model="darknet-small", schedule="1cycle", lr=0.1, epochs=5),
}
TARGET_ACCURACY, TARGET_CPU_SECONDS = 0.98, 120.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from ganforge.classify import ClassifyConfig, train

    print(f"torch {torch.__version__}, {torch.get_num_threads() if not args.threads else args.threads} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    ok = True
    for name in args.models:
        cfg = ClassifyConfig(data="mnist5k", device="cpu", seed=args.seed, threads=args.threads, **RUNS[name])
        with tempfile.TemporaryDirectory() as tmp:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            result = train(cfg, out=os.path.join(tmp, "run"), progress=False)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        met = result.test.accuracy >= TARGET_ACCURACY and cpu <= TARGET_CPU_SECONDS
        ok &= met
        print(f"{name:<14} held-out accuracy {100 * result.test.accuracy:.2f}%  "
              f"wall {wall:.1f} s  CPU {cpu:.1f} s  ({len(result.epochs)} epochs)  "
              f"target >= {100 * TARGET_ACCURACY:.0f}% in <= {TARGET_CPU_SECONDS:.0f} CPU-s: {'met' if met else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
