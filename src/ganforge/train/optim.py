"""Optimizers by name, from an OptimConfig."""
from __future__ import annotations

import torch

from ..errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd")


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    if cfg.lr <= 0:
        raise ConfigError(f"learning rate must be positive, got {cfg.lr}")
    if cfg.name == "adam":
        if len(cfg.betas) != 2:
            raise ConfigError(f"adam betas must be two numbers, got {cfg.betas}")
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.alpha, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer '{cfg.name}'; valid: {', '.join(OPTIMIZERS)}")


class ConstantCourse:
    """One optimizer at its configured learning rate for the whole run (no schedule)."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer

    def prepare(self, step: int) -> torch.optim.Optimizer:
        return self.optimizer

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)


def build_course(opt_cfg, schedule_spec, params, steps: int, who: str):
    """The optimizer of one network over training: constant (opt_cfg) or phased (schedule_spec)."""
    if schedule_spec is None:
        return ConstantCourse(build_optimizer(opt_cfg, params))
    from .schedule import PhasedOptimizer, build_schedule

    schedule = build_schedule(schedule_spec)
    if schedule.total_steps < steps:
        raise ConfigError(
            f"schedule_{who} covers {schedule.total_steps} steps but training runs {steps}; "
            f"lengthen its phases or lower steps"
        )
    return PhasedOptimizer(schedule, params)
