"""The learning-rate range test for a GAN: sweep one network's lr while the other trains at its own.

A GAN has two losses that pull against each other, so there is no single curve to read; the test
sweeps D's (or G's) learning rate over real training steps of the preset's algorithm (the loop's own
`train_step`) and records that network's own loss. Divergence of that loss marks the rate past which
the network cannot learn, as in Smith's test for classifiers; the other network keeps its configured rate.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..optim.lr_finder import LRFinderResult, lr_find

LOSS_OF = {"d": "Loss/D", "g": "Loss/G"}


def gan_lr_find(trainer, net: str = "d", start: float = 1e-6, end: float = 1.0, num: int = 100,
                mode: str = "exp", diverge: float = 4.0) -> LRFinderResult:  # fmt: skip
    """Sweep the lr of `net` ('d' or 'g') over `num` training steps of `trainer` (a train.loop.Trainer)."""
    if net not in LOSS_OF:
        raise ConfigError(f"unknown network '{net}' for lr-find; valid: d, g")
    if getattr(trainer.cfg, f"opt_{net}").schedule is not None:
        raise ConfigError(f"opt_{net}.schedule sets {net.upper()}'s lr itself; remove it for the range test (opt_{net}.schedule=null)")
    optimizer = trainer.courses[net.upper()].optimizer
    key = LOSS_OF[net]

    def one_iteration() -> float:
        return float(trainer.train_step()[key])

    return lr_find(one_iteration, optimizer, start, end, num, mode, diverge)
