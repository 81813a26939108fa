"""Mode collapse: the fixed-noise samples are far less diverse than the real data.

Diversity is the mean pairwise L2 distance between samples (pixels, or 2D points), measured on the
fixed-noise batch of the sample grids (G in eval mode, no RNG drawn, so watching changes no training
state) and once on the same number of real samples. A generator that has collapsed onto a few outputs
(the PyTorch DCGAN tutorial's nz = 1 run is the textbook case) gives a ratio far below 1; a healthy
one stays near it. The ratio goes into each tick's record as 'Health/diversity'.
"""
from __future__ import annotations

import torch

from .advice import advice_for
from .base import Diagnosis, Persistence

REAL_SAMPLES = 256  # real images whose diversity is the yardstick (fixed draw, own RNG)


def diversity(samples: torch.Tensor) -> float:
    """Mean L2 distance over all pairs of distinct samples (N >= 2) of any shape."""
    x = samples.detach().flatten(1).double().cpu()
    n = len(x)
    if n < 2:
        return 0.0
    return float(torch.pdist(x).sum() * 2 / (n * (n - 1)))


def real_diversity(dataset, n: int = REAL_SAMPLES, seed: int = 0) -> float:
    """Diversity of n real samples drawn with a private generator (touches no training RNG)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(dataset), generator=g)[: min(n, len(dataset))]
    images = getattr(dataset, "images", None)
    x = images[idx] if images is not None else torch.stack([dataset[int(i)][0] for i in idx])
    return diversity(x)


def fixed_noise_diversity(trainer) -> float:
    return diversity(trainer.fixed_samples())  # the same samples the grids show


class CollapseCheck:
    """Raises 'mode-collapse' once diversity / real diversity < ratio on `window` consecutive ticks."""

    name = "mode-collapse"

    def __init__(self, ratio: float, window: int, warmup_steps: int):
        self.ratio, self.warmup_steps = ratio, warmup_steps
        self.persistence = Persistence(window)
        self.real: float | None = None

    def start(self, trainer) -> None:
        self.real = real_diversity(trainer.data.dataset, seed=trainer.cfg.seed)

    def check(self, trainer, record: dict) -> Diagnosis | None:
        if self.real is None:
            self.start(trainer)
        if not self.real or len(trainer.fixed_z) < 2:
            return None
        share = fixed_noise_diversity(trainer) / self.real
        record["Health/diversity"] = round(share, 4)
        if record["step"] < self.warmup_steps or not self.persistence.update(share < self.ratio):
            return None
        return Diagnosis(
            self.name, "collapse", "warning", record["step"],
            f"mode collapse: the fixed-noise samples are {share:.0%} as diverse as real data "
            f"(threshold {self.ratio:.0%}) for {len(self.persistence.history)} ticks",
            advice_for(self.name),
        )  # fmt: skip
