"""Healthy-range hints for the BCE losses, after the PyTorch DCGAN tutorial.

The tutorial's healthy MNIST/CelebA runs keep D's loss (real + fake BCE) around 0.5-0.8 and G's
around 0.5-2 once training settles. Those bands are typical, not laws, so a hint fires only when the
loss sits outside the band widened by `SLACK` (x0.5 below, x2 above) for a whole window, and it is a
hint, not a warning. Only the BCE losses have these scales; other losses get no range hints.
"""
from __future__ import annotations

from .advice import advice_for_run
from .base import Diagnosis, Persistence

TYPICAL = {"Loss/D": (0.5, 0.8), "Loss/G": (0.5, 2.0)}  # the DCGAN tutorial's healthy bands
SLACK = 2.0
PROBABILISTIC = ("minimax", "nonsaturating")


def out_of_range(record: dict) -> str | None:
    """'d-loss-low', 'd-loss-high', 'g-loss-high' or None for one tick's record."""
    d, g = record.get("Loss/D"), record.get("Loss/G")
    (d_lo, d_hi), (_, g_hi) = TYPICAL["Loss/D"], TYPICAL["Loss/G"]
    if d is not None and d < d_lo / SLACK:
        return "d-loss-low"
    if g is not None and g > g_hi * SLACK:
        return "g-loss-high"
    if d is not None and d > d_hi * SLACK:
        return "d-loss-high"
    return None


class RangeCheck:
    """Hints when D's or G's loss stays far outside the tutorial's healthy bands."""

    name = "loss-range"

    def __init__(self, loss: str, window: int, warmup_steps: int):
        self.active = loss in PROBABILISTIC
        self.warmup_steps = warmup_steps
        self.window = window
        self.persistence: dict[str, Persistence] = {}

    def check(self, trainer, record: dict) -> Diagnosis | None:
        if not self.active or record["step"] < self.warmup_steps:
            return None
        which = out_of_range(record)
        fired = None
        for name in ("d-loss-low", "d-loss-high", "g-loss-high"):
            held = self.persistence.setdefault(name, Persistence(self.window)).update(which == name)
            fired = fired or (name if held else None)
        if fired is None:
            return None
        (d_lo, d_hi), (g_lo, g_hi) = TYPICAL["Loss/D"], TYPICAL["Loss/G"]
        return Diagnosis(
            fired, fired.replace("-loss-", " loss "), "hint", record["step"],
            f"Loss/D {record.get('Loss/D', float('nan')):.3g}, Loss/G {record.get('Loss/G', float('nan')):.3g}: "
            f"healthy DCGAN runs sit near D {d_lo}-{d_hi}, G {g_lo}-{g_hi}",
            advice_for_run(fired, trainer),
        )  # fmt: skip
