"""The learning-rate range test for a GAN: sweep one network's lr while the other trains at its own.

A GAN has two losses that pull against each other, so there is no single curve to read; the test
sweeps D's (or G's) learning rate over real training iterations of the preset's algorithm and records
that network's own loss. Divergence of that loss marks the rate past which the network cannot learn,
as in Smith's test for classifiers; the other network keeps its configured rate.
"""
from __future__ import annotations

from ..config import Config
from ..errors import ConfigError
from ..optim.lr_finder import LRFinderResult, lr_find
from .engine import Trainer

LOSS_OF = {"d": "Loss/D", "g": "Loss/G"}


def gan_lr_find(cfg: Config, net: str = "d", start: float = 1e-6, end: float = 1.0, num: int = 100,
                mode: str = "exp", diverge: float = 4.0) -> LRFinderResult:  # fmt: skip
    """Sweep the lr of `net` ('d' or 'g') over `num` training iterations of cfg's algorithm."""
    if net not in LOSS_OF:
        raise ConfigError(f"unknown network '{net}' for lr-find; valid: d, g")
    if (cfg.schedule_d if net == "d" else cfg.schedule_g) is not None:
        raise ConfigError(f"schedule_{net} sets {net.upper()}'s lr itself; remove it for the range test")
    trainer = Trainer(cfg, progress=False)
    optimizer = (trainer.course_D if net == "d" else trainer.course_G).optimizer
    key = LOSS_OF[net]

    def one_iteration() -> float:
        losses = []
        for phase in trainer.phases:
            for _ in range(phase.repeat(trainer.step)):
                stats = phase.run()
                if key in stats:
                    losses.append(stats[key].detach())
        trainer.step += 1
        return float(sum(losses) / len(losses))

    return lr_find(one_iteration, optimizer, start, end, num, mode, diverge)
