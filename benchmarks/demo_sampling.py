"""Three ways to sample a trained run differently, scored as `ganforge eval RUN -n 2000` scores it (offline
evaluator, FID / precision / recall / KL): the question is whether either buys the default demo the
precision or FID it lacks without retraining.

  - truncation PSI: z drawn from N(0, I) with every component beyond 2 drawn again, times PSI (BigGAN's
    trick, Brock et al. 2019 sec. 3.1: `truncate_latent` of nets/biggan.py), fed to any G that takes
    z ~ N(0, I); PSI 1 is the run as trained.
  - standing statistics (Brock et al. 2019, appendix C): G's BatchNorm running statistics recomputed for
    the EMA weights, as a cumulative average over --standing-batches batches drawn in training mode,
    instead of the EMA of the training G's own statistics that the checkpoint holds.
  - discriminator rejection sampling (Azadi et al. 2019; train/rejection.py) with gamma at each --drs
    percentile, as `ganforge generate` and `ganforge eval` sample a run with that drs_percentile
    (0: G's own samples); the table gives the draws of G per sample kept.

    python benchmarks/demo_sampling.py RUN --truncation 1,0.9,0.8 --standing-batches 100
    python benchmarks/demo_sampling.py RUN --truncation 1 --standing-batches 0 --drs 0,50,80,90,95
"""
from __future__ import annotations

import argparse


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--truncation", default="1,0.9,0.8", help="comma-separated PSI values")
    p.add_argument("--standing-batches", type=int, default=100, help="batches of 64 for the standing statistics (0: skip)")
    p.add_argument("--drs", default="", help="comma-separated drs_percentile values, with truncation PSI 1 (0: off)")
    p.add_argument("-n", type=int, default=2000)
    args = p.parse_args()

    import torch

    import ganforge as gf
    from ganforge.metrics.evaluate import prepare_reference, score
    from ganforge.metrics.evaluator import load_offline_evaluator
    from ganforge.metrics.offline_evaluator import fit_evaluator
    from ganforge.nets.biggan import truncate_latent
    from ganforge.train.sampling import sample_in_chunks

    fit_evaluator("mnist5k", progress=False)
    ev = load_offline_evaluator("mnist5k")
    ref = prepare_reference("mnist5k", ev, ["fid", "pr", "modes"], n_ref=args.n, n_train=args.n, seed=0)
    run = gf.load_run(args.run_dir)
    cfg, G = run.config, run.G

    def draw(n: int, seed: int, psi: float) -> torch.Tensor:
        """n samples as `ganforge generate` draws them (same classes, same z for a seed), z truncated at psi."""
        draws = torch.Generator().manual_seed(seed)
        z = truncate_latent(run.algorithm.latent(cfg, n, generator=draws), psi, draws)
        return sample_in_chunks(G, z, run.algorithm.latent_labels(cfg, run.num_classes, n), "cpu", 256)

    def report(label: str) -> None:
        for psi in map(float, args.truncation.split(",")):
            cards = {c.metric: c for c in score(draw(args.n, 0, psi), ref, ev, ["fid", "pr", "modes"], seed=0)}
            print(f"| {label} | {psi:g} | {cards['fid'].value:.3f} ({cards['fid'].extra['real_vs_real']:.2f}) | "
                  f"{cards['precision'].value:.3f} | {cards['recall'].value:.3f} | {cards['modes/kl'].value:.4f} |", flush=True)

    header = "| G's BatchNorm statistics | truncation PSI | domain FID (floor) | precision | recall | KL |\n|---|---|---|---|---|---|"
    print(header)
    report("as trained (EMA of the training G's)")
    if args.drs:
        print("\n| drs_percentile | draws per sample | domain FID (floor) | precision | recall | KL |\n|---|---|---|---|---|---|")
        for percentile in map(float, args.drs.split(",")):
            cfg.drs_percentile = percentile
            drawn = []  # every batch G draws for the n samples, the calibration's included
            hook = run.G.register_forward_hook(lambda module, inputs, output: drawn.append(len(output)))
            samples = gf.generate(run, args.n, seed=0)
            hook.remove()
            cards = {c.metric: c for c in score(samples, ref, ev, ["fid", "pr", "modes"], seed=0)}
            calibration = run.algorithm.CALIBRATION_N if percentile else 0  # mnist5k has more training digits
            print(f"| {percentile:g} | {(sum(drawn) - calibration) / args.n:.2f} | {cards['fid'].value:.3f} "
                  f"({cards['fid'].extra['real_vs_real']:.2f}) | {cards['precision'].value:.3f} | {cards['recall'].value:.3f} | "
                  f"{cards['modes/kl'].value:.4f} |", flush=True)
    norms = [m for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if args.standing_batches and norms:
        if args.drs:  # the first table again
            print("\n" + header)
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
        G.train()
        with torch.no_grad():
            for i in range(args.standing_batches):
                draw(64, 1000 + i, 1.0)
        G.eval()
        report(f"standing, {args.standing_batches} batches of 64")


if __name__ == "__main__":
    main()
