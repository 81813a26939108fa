"""Live diagnosis while training: convergence failure, mode collapse, divergence, loss-range hints.

Each check is a module (convergence.py, collapse.py, divergence.py, ranges.py) with its rule as a
plain function and a small class that applies it on logging ticks; advice.py names the levers. The
monitors that `ganforge train` (and `ganforge.train()`) attach are built here, in one place:

    monitors = default_monitors(cfg)      # divergence guard, health checks, in-training evaluation
"""
from __future__ import annotations

from .base import Diagnosis
from .divergence import DivergenceGuard
from .health import HealthMonitor

__all__ = ["Diagnosis", "DivergenceGuard", "HealthMonitor", "default_monitors"]


def default_monitors(cfg) -> list:
    """The monitors a config asks for, in the order they must run on a tick: the divergence guard
    first (nothing else should score NaN weights), then the health checks, then evaluation (which may
    save ckpt-best.pt)."""
    monitors = [DivergenceGuard(cfg.diagnose.explode_factor, cfg.diagnose.rollback)]
    if cfg.diagnose.enabled:
        monitors.append(HealthMonitor.from_config(cfg))
    if cfg.eval_every > 0 or cfg.best_metric:
        from ..metrics.in_training import EvalMonitor

        monitors.append(EvalMonitor(cfg))
    return monitors
