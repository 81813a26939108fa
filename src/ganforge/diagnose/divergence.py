"""Divergence: non-finite or exploding losses. Stop, roll back to the last good checkpoint, say what
to change.

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

from ..train.checkpoint import atomic_link, list_checkpoints, load_checkpoint
from ..train.monitors import Monitor, StopTraining
from .advice import advice_for
from .base import Diagnosis

LOSSES = ("Loss/D", "Loss/G")


def non_finite(record: dict) -> list[str]:
    """Keys of the record whose float values are NaN or infinite."""
    return [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]


def exploded(record: dict, history: dict[str, list[float]], factor: float) -> list[str]:
    """Losses whose magnitude exceeds `factor` x max(1, median of their earlier magnitudes)."""
    out = []
    for key in LOSSES:
        past = history.get(key, [])
        if key in record and len(past) >= 3 and abs(record[key]) > factor * max(1.0, statistics.median(past)):
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


class DivergenceGuard(Monitor):
    """Stops training on divergence (always on: NaN weights cannot train on), rolling back first."""

    name = "divergence"

    def __init__(self, explode_factor: float = 1000.0, rollback: bool = True):
        self.explode_factor, self.rollback = explode_factor, rollback
        self.history: dict[str, list[float]] = {}
        self.last_good_step = -1

    def on_start(self, trainer) -> None:
        self.last_good_step = trainer.step  # a resumed run starts from a checkpoint that loaded fine

    def on_tick(self, trainer, record: dict) -> None:
        bad = non_finite(record)
        why = f"non-finite {', '.join(bad)}" if bad else ""
        if not bad:
            bad = exploded(record, self.history, self.explode_factor)
            why = "exploding " + ", ".join(f"{k} = {record[k]:.3g}" for k in bad) if bad else ""
        if not bad:
            for key in LOSSES:
                if key in record:
                    self.history.setdefault(key, []).append(abs(record[key]))
            self.last_good_step = record["step"]
            return
        back = roll_back(trainer.run_dir, self.last_good_step) if self.rollback and trainer.run_dir else None
        if back is not None:
            where = (f"rolled back: checkpoints/ckpt-latest.pt is now step {back} (later checkpoints moved to "
                     f"checkpoints/diverged/); `ganforge train --resume {trainer.run_dir}` continues from it")
        elif self.rollback:
            where = "no checkpoint predates it: start a new run"
        else:
            where = "no rollback (diagnose.rollback=false)"
        diagnosis = Diagnosis(
            self.name, "DIVERGED", "error", record["step"],
            f"training diverged at step {record['step']} ({why}); {where}. Start a new run with one of the "
            "changes below (a resumed run keeps its hyperparameters)",
            advice_for(self.name),
        )  # fmt: skip
        record["health"] = diagnosis.label
        record.setdefault("diagnoses", []).append(diagnosis.to_dict())
        if back is not None:
            record["rolled_back_to"] = back
        raise StopTraining(diagnosis.text())
