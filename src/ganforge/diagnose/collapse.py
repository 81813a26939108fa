"""Mode collapse: the fixed-noise samples are far less diverse than the real data.

Two ratios of the fixed-noise batch of the sample grids (G in eval mode, no RNG drawn, so watching
changes no training state) to real samples, each drawn once:
- 'Health/diversity': mean pairwise L2 distance (pixels, or 2D points) over the real data's. It falls
  when G piles everything into one region: a 2D generator on one mode of a ring.
- 'Health/nn-distance': median distance from each sample to its nearest other sample, over the same
  statistic of as many real samples (it depends on the count). It falls when many z give near-copies
  of a few images: the nz = 1 DCGAN on digits draws a handful of shapes at varying brightness, which
  keeps the mean distance at ~60 % of real's while its nearest-neighbour distance drops to ~3 %
  (a healthy run: ~60 %). Measured on mnist5k, 500 steps, 64 fixed samples.
Either below `collapse_ratio` on `window` consecutive ticks raises mode collapse.
"""
from __future__ import annotations

import torch

from .advice import advice_for_run
from .base import Diagnosis, Persistence

REAL_SAMPLES = 256  # real images whose diversity is the yardstick (fixed draw, own RNG)


def diversity(samples: torch.Tensor) -> float:
    """Mean L2 distance over all pairs of distinct samples (N >= 2) of any shape."""
    x = samples.detach().flatten(1).double().cpu()
    n = len(x)
    if n < 2:
        return 0.0
    return float(torch.pdist(x).sum() * 2 / (n * (n - 1)))


def nearest_neighbour_distance(samples: torch.Tensor) -> float:
    """Median over samples (N >= 2) of the L2 distance to the nearest other sample."""
    x = samples.detach().flatten(1).double().cpu()
    if len(x) < 2:
        return 0.0
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    return float(d.min(1).values.median())


def real_samples(dataset, n: int, seed: int = 0) -> torch.Tensor:
    """n real samples drawn with a private generator (touches no training RNG)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(dataset), generator=g)[: min(n, len(dataset))]
    images = getattr(dataset, "images", None)
    return images[idx] if images is not None else torch.stack([dataset[int(i)][0] for i in idx])


class CollapseCheck:
    """Raises 'mode-collapse' once either ratio (see the module) < `ratio` on `window` consecutive ticks."""

    name = "mode-collapse"

    def __init__(self, ratio: float, window: int, warmup_steps: int):
        self.ratio, self.warmup_steps = ratio, warmup_steps
        self.persistence = Persistence(window)
        self.real: float | None = None  # real mean pairwise distance
        self.real_nn: float | None = None  # real nearest-neighbour distance among as many samples as the grid's

    def start(self, trainer) -> None:
        n_fixed = trainer.n_fixed_samples
        # one draw serves both yardsticks: each takes a prefix of the same fixed permutation
        real = real_samples(trainer.data.dataset, max(REAL_SAMPLES, n_fixed), trainer.cfg.seed)
        self.real = diversity(real[:REAL_SAMPLES])
        self.real_nn = nearest_neighbour_distance(real[:n_fixed])

    def check(self, trainer, record: dict) -> Diagnosis | None:
        if self.real is None:
            self.start(trainer)
        if not self.real or trainer.n_fixed_samples < 2:
            return None
        fake = trainer.fixed_samples()  # the same samples the grids show
        share = diversity(fake) / self.real
        record["Health/diversity"] = round(share, 4)
        ratios = {"mean pairwise distance": share}
        if self.real_nn:
            ratios["nearest-neighbour distance"] = nearest_neighbour_distance(fake) / self.real_nn
            record["Health/nn-distance"] = round(ratios["nearest-neighbour distance"], 4)
        low = {k: v for k, v in ratios.items() if v < self.ratio}
        if record["step"] < self.warmup_steps or not self.persistence.update(bool(low)):
            return None
        what = ", ".join(f"{k} {v:.0%}" for k, v in low.items())
        return Diagnosis(
            self.name, "collapse", "warning", record["step"],
            f"mode collapse: the fixed-noise samples' {what} of real data's "
            f"(threshold {self.ratio:.0%}) for {len(self.persistence.history)} ticks",
            advice_for_run(self.name, trainer),
        )  # fmt: skip
