"""Monitors: code that watches training through one callback interface (ganforge.train.monitor.Monitor)
without living in the loop: the divergence guard, the health checks, in-training evaluation,
TensorBoard, status.json and the HTML report.

    monitors = default_monitors(cfg) + seeing_monitors(cfg)
"""
from __future__ import annotations

from ..config import evaluates_in_training
from .divergence import DivergenceGuard
from .health import HealthMonitor
from .seeing import SeeingMonitor, seeing_monitors

__all__ = ["DivergenceGuard", "HealthMonitor", "SeeingMonitor", "default_monitors", "seeing_monitors"]


def default_monitors(cfg) -> list:
    """The monitors a config asks for, in the order they must run on a tick: the divergence guard
    first (nothing else should score NaN weights), then the health checks, then evaluation (which may
    save ckpt-best.pt)."""
    monitors = [DivergenceGuard(cfg.diagnose.explode_factor, cfg.diagnose.rollback)]
    if cfg.diagnose.enabled:
        monitors.append(HealthMonitor.from_config(cfg))
    if evaluates_in_training(cfg):  # with neither, config.check_evaluation_keys refuses eval_* keys of a new run
        from .evaluation import EvalMonitor

        monitors.append(EvalMonitor(cfg))
    return monitors
