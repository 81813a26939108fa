"""The default demo (preset dcgan-demo on mnist5k) scored by the offline evaluator.

Fits (or reuses) the mnist5k evaluator, trains the demo, then prints the domain FID of n generated
digits against the held-out real digits next to the real-vs-real baseline (n real *training* digits
against the same held-out ones: the score of a perfect generator at this sample size), KID, the
digit classes covered and KL(gen || data) over classes.

    python benchmarks/mnist_quality.py --steps 500      # shorter than the demo's 2,500 steps
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("-n", type=int, default=500, help="generated samples (mnist5k holds 500 test digits)")
    parser.add_argument("--cache-dir", help="evaluator cache (default $GANFORGE_CACHE or ~/.cache/ganforge)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    import torch

    import ganforge as gf
    from ganforge.commands.eval import format_table
    from ganforge.metrics.evaluate import prepare_reference, score
    from ganforge.metrics.evaluator import load_offline_evaluator
    from ganforge.metrics.offline_evaluator import fit_evaluator

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine slows every figure)")
    t0 = time.perf_counter()
    folder, facts = fit_evaluator("mnist5k", args.cache_dir, progress=False)
    print(f"evaluator {folder}: {facts['model']}, held-out accuracy {100 * facts['test_accuracy']:.2f}% "
          f"({time.perf_counter() - t0:.0f} s, cached after the first time)")  # fmt: skip
    cfg = gf.resolve_config("dcgan-demo", [{"steps": args.steps, "threads": args.threads}])
    with tempfile.TemporaryDirectory() as tmp:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = gf.train(cfg, out=os.path.join(tmp, "run"), progress=False)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        run = gf.load_run(result.run_dir)
        ev = load_offline_evaluator("mnist5k", args.cache_dir)
        metrics = ["fid", "kid", "modes"]
        ref = prepare_reference("mnist5k", ev, metrics, n_ref=args.n)
        cards = score(gf.generate(run, args.n, seed=0), ref, ev, metrics)
    print(f"dcgan-demo, {args.steps} steps: wall {wall / 60:.2f} min, CPU {cpu / 60:.2f} min")
    print(format_table(cards, run.step, ev.note))


if __name__ == "__main__":
    main()
