"""Optimizers by name, from an OptimConfig."""
from __future__ import annotations

import torch

from ..errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd")
# torch's fused (single-kernel) implementations: Adam/AdamW/SGD on CPU and CUDA (RMSprop has none).
# On this project's 2-core CPU a fused Adam step over DCGAN's 3.6M weights took 6 ms against 18 ms
# for the default (foreach) one, with weights equal to 1.5e-8 after 5 steps, so it is on by default.
FUSED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
FUSED_DEVICES = ("cpu", "cuda")


def fused_kwargs(cls: type, fused: bool, device_type: str = "cpu") -> dict:
    """{'fused': True} where `fused` is asked for and torch has a fused `cls` for the device; else {}."""
    return {"fused": True} if fused and issubclass(cls, FUSED_OPTIMIZERS) and device_type in FUSED_DEVICES else {}


def build_optimizer(cfg, params, fused: bool = False, device_type: str = "cpu") -> torch.optim.Optimizer:
    if cfg.lr <= 0:
        raise ConfigError(f"learning rate must be positive, got {cfg.lr}")
    if cfg.name == "adam":
        if len(cfg.betas) != 2:
            raise ConfigError(f"adam betas must be two numbers, got {cfg.betas}")
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay,
                                **fused_kwargs(torch.optim.Adam, fused, device_type))
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.alpha, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               **fused_kwargs(torch.optim.SGD, fused, device_type))
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


def build_course(opt_cfg, schedule_spec, params, steps: int, who: str, fused: bool = False, device_type: str = "cpu"):
    """The optimizer of one network over training: constant (opt_cfg) or phased (schedule_spec);
    `fused` picks torch's fused kernels where they exist for the optimizer and device."""
    if schedule_spec is None:
        return ConstantCourse(build_optimizer(opt_cfg, params, fused, device_type))
    from .schedule import PhasedOptimizer, build_schedule

    if isinstance(schedule_spec, dict) and "kind" in schedule_spec and not {"steps", "epochs"} & set(schedule_spec):
        # A course that names no length spans the whole run: `--steps N` stretches it with the training.
        schedule_spec = {**schedule_spec, "steps": steps}
    schedule = build_schedule(schedule_spec)
    if schedule.total_steps < steps:
        raise ConfigError(
            f"schedule_{who} covers {schedule.total_steps} steps but training runs {steps}; "
            f"lengthen its phases or lower steps"
        )
    return PhasedOptimizer(schedule, params, extra_kwargs=lambda cls: fused_kwargs(cls, fused, device_type))
