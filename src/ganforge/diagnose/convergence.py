"""Convergence failure: the discriminator wins.

When D separates real from generated data perfectly, D's loss goes to 0 with D(x) -> 1 and
D(G(z)) -> 0, and G's gradient vanishes (Goodfellow et al. 2014 sec. 3; Arjovsky & Bottou 2017):
training has stalled, whatever the step count says. The record's D(x) and D(G(z)) are probabilities
for the BCE losses and raw outputs for the others, so each loss has its own "D wins" point:

    BCE (minimax, nonsaturating)   Loss/D < 0.1, D(x) > 0.9, D(G(z)) < 0.1   (probabilities)
    least-squares (a=0, b=1)       Loss/D < 0.05, D(x) > 0.9, D(G(z)) < 0.1  (D's targets are 1 and 0)
    hinge                          Loss/D < 0.1, D(x) > 1, D(G(z)) < -1       (both margins met)
    wasserstein                    no such point: the critic's loss estimates a distance, not a
                                   classification, so this check stays silent
"""
from __future__ import annotations

from .advice import advice_for_run
from .base import Diagnosis, Persistence

# loss name -> (max Loss/D, min D(x), max D(G(z)))
D_WINS = {
    "minimax": (0.1, 0.9, 0.1),
    "nonsaturating": (0.1, 0.9, 0.1),
    "least-squares": (0.05, 0.9, 0.1),
    "hinge": (0.1, 1.0, -1.0),
}


def d_wins(record: dict, loss: str) -> bool:
    """Whether one tick's record shows D winning under `loss` (False when the loss has no such point)."""
    if loss not in D_WINS or not all(k in record for k in ("Loss/D", "D(x)", "D(G(z))")):
        return False
    max_loss, min_real, max_fake = D_WINS[loss]
    return record["Loss/D"] < max_loss and record["D(x)"] > min_real and record["D(G(z))"] < max_fake


class ConvergenceCheck:
    """Raises 'convergence-failure' once D has won on `window` consecutive ticks."""

    name = "convergence-failure"

    def __init__(self, loss: str, window: int, warmup_steps: int):
        self.loss, self.warmup_steps = loss, warmup_steps
        self.persistence = Persistence(window)

    def check(self, trainer, record: dict) -> Diagnosis | None:
        if record["step"] < self.warmup_steps:
            return None
        if not self.persistence.update(d_wins(record, self.loss)):
            return None
        return Diagnosis(
            self.name, "D wins", "warning", record["step"],
            f"D wins: Loss/D {record['Loss/D']:.3g}, D(x) {record['D(x)']:.3g}, D(G(z)) {record['D(G(z))']:.3g} "
            f"for {len(self.persistence.history)} ticks; G's gradient vanishes and training has stalled",
            advice_for_run(self.name, trainer),
        )  # fmt: skip
