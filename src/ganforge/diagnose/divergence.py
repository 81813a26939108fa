"""Divergence: the rules (non-finite or exploding losses, finite checkpoints) and the rollback.
The monitor that applies them on every tick is ganforge.monitors.divergence.

A tick diverges when any logged number is NaN or infinite, or when |Loss/D| or |Loss/G| exceeds
`explode_factor` times the median of its earlier ticks (at least 1). Training cannot recover from
NaN weights, so the guard stops the run (StopTraining) and, with `rollback`, makes ckpt-latest.pt the
newest checkpoint that predates the trouble and holds finite weights; later checkpoints move to
checkpoints/diverged/ (kept for inspection, never deleted). `ganforge train --resume RUN` then
continues from the good state; a resumed run keeps its hyperparameters, so to change the learning rate
start a new run.
"""
from __future__ import annotations

import math
import os
import statistics

import torch

from ..runtime.checkpoint import atomic_link, list_checkpoints, load_checkpoint

LOSSES = ("Loss/D", "Loss/G")


def non_finite(record: dict) -> list[str]:
    """Keys of the record whose float values are NaN or infinite."""
    return [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]


def exploded(record: dict, history: dict[str, list[float]], factor: float) -> list[str]:
    """Losses whose magnitude exceeds `factor` x max(1, median of their earlier magnitudes)."""
    out = []
    for key in LOSSES:
        past = history.get(key, [])
        if key in record and past and abs(record[key]) > factor * max(1.0, statistics.median(past)):
            out.append(key)
    return out


def finite_weights(state: dict) -> bool:
    return all(
        torch.isfinite(t).all() for net in state["nets"].values() for t in net.values() if torch.is_floating_point(t)
    )


def roll_back(run_dir: str, last_good_step: int) -> int | None:
    """Point ckpt-latest.pt at the newest checkpoint at or before `last_good_step` with finite weights;
    move newer checkpoints to checkpoints/diverged/. Returns its step, or None when there is none."""
    folder = os.path.join(run_dir, "checkpoints")
    found = list_checkpoints(folder)
    good = None
    for step, path in reversed(found):
        if step <= last_good_step and finite_weights(load_checkpoint(path)):
            good = (step, path)
            break
    newer = [(s, p) for s, p in found if good is None or s > good[0]]
    if newer:
        os.makedirs(os.path.join(folder, "diverged"), exist_ok=True)
        for _, path in newer:
            os.replace(path, os.path.join(folder, "diverged", os.path.basename(path)))
    latest = os.path.join(folder, "ckpt-latest.pt")
    if good is None:
        if os.path.exists(latest):
            os.makedirs(os.path.join(folder, "diverged"), exist_ok=True)
            os.replace(latest, os.path.join(folder, "diverged", "ckpt-latest.pt"))
        return None
    atomic_link(good[1], latest)
    return good[0]
