"""Stacked MNIST: modes out of 1,000 and KL to uniform for a DCGAN trained on a CPU budget.

The generator makes 3-channel 28x28 images; the mnist5k evaluator reads each channel as a digit
(mode = 100 d0 + 10 d1 + d2), PacGAN's protocol (26,000 samples, a mode counts with >= 1 sample).
The nets are the dcgan preset at width 32 (as dcgan-demo). D judges 64 items a step: 64 images, or with
--pack m 64 packs of m images (batch_size 64 m, as the PacGAN authors' code); batch_size=N overrides it.

    python benchmarks/stacked_mnist.py --steps 1000
    python benchmarks/stacked_mnist.py --steps 1000 --pack 2    # PacGAN (Lin et al. 2018): D judges 64 pairs a step
    python benchmarks/stacked_mnist.py --steps 2500 model.d.width=8   # a D of a quarter of G's width
    python benchmarks/stacked_mnist.py --steps 10000 --small-nets --pack 2   # PacGAN table 3's tiny nets
    python benchmarks/stacked_mnist.py --steps 10000 --unrolled-nets --pack 2   # the same with the authors' own nets
    python benchmarks/stacked_mnist.py --steps 200000 --unrolled-nets --eval-every 20000 device=cuda   # modes as it trains
    python benchmarks/stacked_mnist.py --steps 100000 --veegan-nets --pack 2 --eval-every 2000 device=cuda   # PacGAN table 2

--small-nets is PacGAN's table 3 setting (from Unrolled GAN, Metz et al. 2017) on the dcgan family: a
tiny G (width 8: 16 and 8 channels) and a D of a quarter of that (width 2: 2 and 4 channels), z of 256,
D judging 128 items a step, Adam G 1e-4 / D 2e-4 with betas (0.5, 0.99), as the authors' D=0.25G config.
Deviation: the dcgan family's 4x4 kernels and layer count rather than their 3x3 nets.
--unrolled-nets is the same setting with the authors' nets themselves (the unrolled-mnist family: 3x3
kernels, BN on every D layer, LeakyReLU 0.3, 28x28).
--veegan-nets is PacGAN's table 2 setting, the pacgan preset (VEEGAN's experiment, as the authors'
VEEGAN_experiment code): DCGAN-tensorflow's nets at width 64 (the dcgan-tf family), z of 100, Adam 2e-4 /
0.5, D judging 64 items a step, two G updates per D update (n_gen 2); its header lists the deviations.
model.g.width=16 model.d.width=16 is the pacgan-demo preset's CPU size.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

# PacGAN table 3 (see the module text): overrides on dcgan-demo
SMALL_NETS = {"model": {"g": {"width": 8}, "d": {"width": 2}, "z_dim": 256},
              "opt_g": {"lr": 1e-4, "betas": [0.5, 0.99]}, "opt_d": {"lr": 2e-4, "betas": [0.5, 0.99]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("-n", type=int, default=26_000, help="samples scored (PacGAN: 26,000)")
    parser.add_argument("--cache-dir")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--pack", type=int, default=1, help="PacGAN packing m (1: the DCGAN baseline; the pacgan preset is 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small-nets", action="store_true", help="PacGAN table 3's tiny G and quarter-size D (see above)")
    parser.add_argument("--unrolled-nets", action="store_true", help="--small-nets with the authors' own nets (unrolled-mnist)")
    parser.add_argument("--veegan-nets", action="store_true", help="PacGAN table 2's DCGAN-tensorflow nets and settings (see above)")
    parser.add_argument("--eval-every", type=int, default=0, help="also score modes/KL every N steps (-n samples each) and print the curve")
    parser.add_argument("--out", help="keep the run here (stats.jsonl, sample grids) instead of a temporary folder")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. model.d.width=8")
    args = parser.parse_intermixed_args()

    import ganforge as gf
    from ganforge.config import ModelConfig, merge, parse_override
    from ganforge.metrics.modes import stacked_mnist_coverage
    from ganforge.metrics.evaluator import load_offline_evaluator
    from ganforge.metrics.offline_evaluator import fit_evaluator
    from ganforge.report.run_info import read_jsonl_tolerant

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine slows every figure)")
    fit_evaluator("stacked-mnist", args.cache_dir, progress=False)  # the mnist5k digit classifier
    ev = load_offline_evaluator("stacked-mnist", args.cache_dir)
    small = args.small_nets or args.unrolled_nets
    overrides = {"data": "stacked-mnist", "steps": args.steps, "threads": args.threads, "pack": args.pack, "seed": args.seed,
                 "batch_size": (128 if small else 64) * args.pack}
    base = "pacgan" if args.veegan_nets else "dcgan-demo"  # pacgan is table 2's setting; --pack sets its m
    cfg = gf.resolve_config(base, [overrides, *([SMALL_NETS] if small else [])])
    if args.unrolled_nets:  # a different family: its own keys and defaults (G width 8, D width 2), z as SMALL_NETS
        cfg.model = ModelConfig(name="unrolled-mnist", z_dim=cfg.model.z_dim)  # stacked-mnist is 28x28 already
    if args.eval_every:  # the in-training evaluator, on the modes metric alone
        merge(cfg, {"eval_every": args.eval_every, "eval_n": args.n, "eval_metrics": ["modes"]})
    for override in map(parse_override, args.overrides):
        merge(cfg, override)
    with tempfile.TemporaryDirectory() as tmp:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = gf.train(cfg, out=args.out or os.path.join(tmp, "run"), progress=False)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        gen = gf.generate(gf.load_run(result.run_dir), args.n, seed=0)
        curve = [r for r in read_jsonl_tolerant(os.path.join(result.run_dir, "stats.jsonl")) if "Eval/modes/covered" in r]
    cov = stacked_mnist_coverage(ev.labels(gen))
    for r in curve:
        print(f"  step {r['step']}: modes {r['Eval/modes/covered']:.0f}/1000, KL {r['Eval/modes/kl']:.3f}")
    nets = ("unrolled-mnist nets" if args.unrolled_nets else "small nets (G width 8, D width 2)" if small
            else f"dcgan-tf nets (widths {cfg.model.g.get('width', 64)}/{cfg.model.d.get('width', 64)}, n_gen {cfg.n_gen})" if args.veegan_nets else "dcgan (width 32)")
    print(f"{nets} pack {args.pack}, batch {cfg.batch_size} {' '.join(args.overrides)} on stacked-mnist, {args.steps} steps, seed {args.seed}: modes {cov.modes_covered}/1000, "
          f"KL(gen || uniform) {cov.kl_gen_data:.3f} nats from {args.n:,} samples; "
          f"wall {wall / 60:.2f} min, CPU {cpu / 60:.2f} min ({ev.note})")


if __name__ == "__main__":
    main()
