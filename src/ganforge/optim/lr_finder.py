"""The learning-rate range test (Smith 2017, "Cyclical learning rates"; the fast.ai lr_find).

Train for up to `num` steps while the lr grows from `start` to `end` (exponentially or linearly), record
the loss of each step, and stop once the smoothed loss diverges. Where the smoothed loss falls fastest
(per unit of log lr) is the suggested lr; the lr of the lowest loss / 10 is the common rule of thumb,
reported too. The sweep trains the model: callers that want it untouched restore its state afterwards.

`lr_find` takes a callable that does one whole training step (forward, backward, optimizer.step) at the
lr it finds in the optimizer, and returns the loss, so any trainer (classifier, GAN) can use it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import ConfigError

MODES = ("exp", "linear")


@dataclass
class LRFinderResult:
    lrs: list[float]  # the lr of each step taken
    losses: list[float]  # the raw loss of each step
    smoothed: list[float]  # exponential moving average of the losses, bias-corrected
    diverged: bool  # stopped because the loss blew up (rather than reaching `end`)
    suggestion: float | None  # lr of the steepest descent of the smoothed loss
    min_loss_lr: float | None  # lr of the lowest smoothed loss

    def plot(self, path: str, title: str = "") -> None:
        """Loss against lr (log axis for an exponential sweep), the suggestion marked."""
        from matplotlib.figure import Figure  # no pyplot state, no display backend

        fig = Figure(figsize=(7, 4), constrained_layout=True)
        ax = fig.subplots()
        ax.plot(self.lrs, self.losses, color="tab:blue", alpha=0.3, label="loss")
        ax.plot(self.lrs, self.smoothed, color="tab:blue", label="smoothed loss")
        if len(self.lrs) > 1 and self.lrs[-1] / self.lrs[0] > 50:
            ax.set_xscale("log")
        if self.suggestion is not None:
            ax.axvline(self.suggestion, color="tab:red", linestyle="--", label=f"suggested lr {self.suggestion:.2g}")
        if self.min_loss_lr is not None:
            ax.axvline(self.min_loss_lr / 10, color="tab:green", linestyle=":", label=f"min-loss lr / 10 = {self.min_loss_lr / 10:.2g}")
        # Keep the blow-up from squashing the interesting part of the curve.
        finite = [v for v in self.smoothed if math.isfinite(v)]
        if finite:
            low, first = min(finite), finite[0]
            ax.set_ylim(low - 0.1 * abs(first - low) - 1e-8, first + 0.5 * abs(first - low) + 1e-8)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_title(title or "learning-rate range test")
        fig.savefig(path, dpi=100)


def sweep_lrs(start: float, end: float, num: int, mode: str = "exp") -> np.ndarray:
    """The `num` learning rates of a sweep: geometric (exp) or evenly spaced (linear), both ends included."""
    if mode not in MODES:
        raise ConfigError(f"unknown sweep mode '{mode}'; valid: {', '.join(MODES)}")
    if not (isinstance(num, int) and num >= 2):
        raise ConfigError(f"a sweep needs at least 2 steps, got num={num!r}")
    if not (0 < start < end) or not math.isfinite(end):
        raise ConfigError(f"a sweep goes up from a start lr > 0 to a larger end lr, got start={start}, end={end}")
    return np.geomspace(start, end, num) if mode == "exp" else np.linspace(start, end, num)


def suggest_lr(lrs, smoothed, mode: str = "exp", skip_start: int | None = None) -> float | None:
    """The lr where the smoothed loss falls fastest (most negative slope against log lr, or against lr
    for a linear sweep), looking only between the first tenth of the sweep (`skip_start` points: the
    noise of an untrained model, as fast.ai skips) and the lowest loss (beyond it the loss only rises)."""
    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    ok = np.isfinite(losses)
    lrs, losses = lrs[ok], losses[ok]
    skip = max(1, len(lrs) // 10) if skip_start is None else skip_start
    lowest = int(np.argmin(losses)) if len(losses) else 0
    lrs, losses = lrs[skip : lowest + 1], losses[skip : lowest + 1]
    if len(lrs) < 3:
        return None
    x = np.log(lrs) if mode == "exp" else lrs
    slope = np.gradient(losses, x)
    return float(lrs[int(np.argmin(slope))])


def lr_find(
    step_fn: Callable[[], float | torch.Tensor],
    optimizer: torch.optim.Optimizer,
    start: float = 1e-7,
    end: float = 10.0,
    num: int = 100,
    mode: str = "exp",
    diverge: float = 4.0,
    beta: float = 0.98,
) -> LRFinderResult:
    """Sweep the lr of every param group of `optimizer` from `start` to `end` in `num` steps.

    `step_fn()` does one training step and returns its loss. The sweep stops early when the loss is
    not finite or the smoothed loss exceeds `diverge` x its lowest value so far (rises by more than
    (diverge - 1) x |lowest|, for losses that can be negative). Smoothing: an
    exponential moving average with factor `beta`, bias-corrected (avg / (1 - beta^i)) so the first
    points are not pulled toward zero. The optimizer's lrs are restored at the end (not its state).
    """
    lrs_planned = sweep_lrs(start, end, num, mode)
    if diverge <= 1:
        raise ConfigError(f"diverge must be > 1 (a multiple of the lowest loss), got {diverge}")
    saved_lrs = [group["lr"] for group in optimizer.param_groups]
    lrs, losses, smoothed = [], [], []
    avg, best, diverged = 0.0, math.inf, False
    try:
        for i, lr in enumerate(lrs_planned, start=1):
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
            loss = float(step_fn())
            lrs.append(float(lr))
            losses.append(loss)
            if not math.isfinite(loss):
                smoothed.append(math.nan)
                diverged = True
                break
            avg = beta * avg + (1 - beta) * loss
            value = avg / (1 - beta**i)
            smoothed.append(value)
            best = min(best, value)
            # value > diverge * best for positive losses; measured from |best| so a negative loss
            # (a Wasserstein critic's) diverges the same way.
            if i > 1 and value - best > (diverge - 1) * abs(best):
                diverged = True
                break
    finally:
        for group, lr in zip(optimizer.param_groups, saved_lrs):
            group["lr"] = lr
    finite = [(v, lr) for v, lr in zip(smoothed, lrs) if math.isfinite(v)]
    min_loss_lr = min(finite)[1] if finite else None
    return LRFinderResult(lrs, losses, smoothed, diverged, suggest_lr(lrs, smoothed, mode), min_loss_lr)
