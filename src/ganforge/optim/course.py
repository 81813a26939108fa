"""One optimizer spec per network: what `opt_g` / `opt_d` (an OptimConfig) build for training.

An OptimConfig holds the optimizer's name, lr, betas (Adam; betas[0] is its momentum), momentum (SGD,
RMSprop), alpha, weight_decay and an optional `schedule` of the lr over training. Every key means
something whatever else is set:
  - no schedule: the optimizer at a constant lr (`ConstantCourse`);
  - a course (`schedule: {kind: cyclegan}`, `{kind: step, at: [0.5], gamma: 0.5}`...): the course shapes
    the lr over the run and takes the optimizer, its peak lr and momentum from the spec — `opt_g.lr`
    IS the course's lr. The course naming its own lr/optimizer/momentum is an error (two places for one
    number); so is a course that cycles the momentum (1cycle): give that as a list of phases;
  - a list of phases (optim/schedule.py): each phase names its own optimizer, lr and momentum, so the
    spec's other keys must stay at their defaults — setting one is an error naming it.
"""
from __future__ import annotations

import dataclasses

import torch

from ..config import OptimConfig
from ..errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd")
# torch's fused (single-kernel) implementations: Adam/AdamW/SGD on CPU and CUDA (RMSprop has none).
# On this project's 2-core CPU a fused Adam step over DCGAN's 3.6M weights took 6 ms against 18 ms
# for the default (foreach) one, with weights equal to 1.5e-8 after 5 steps, so it is on by default.
FUSED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
FUSED_DEVICES = ("cpu", "cuda")
# What a course may not name: the spec holds it.
SPEC_KEYS = ("lr", "lr_max", "optimizer", "momentum", "opt_args")


def fused_kwargs(cls: type, fused: bool, device_type: str = "cpu") -> dict:
    """{'fused': True} where `fused` is asked for and torch has a fused `cls` for the device; else {}."""
    return {"fused": True} if fused and issubclass(cls, FUSED_OPTIMIZERS) and device_type in FUSED_DEVICES else {}


def check_spec(opt: OptimConfig, who: str) -> None:
    """The spec's own values, checked: a known optimizer, a positive lr, two betas in [0, 1)."""
    if opt.name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer '{opt.name}' (opt_{who}.name); valid: {', '.join(OPTIMIZERS)}")
    if not opt.lr > 0:
        raise ConfigError(f"opt_{who}.lr must be positive, got {opt.lr}")
    if len(opt.betas) != 2 or not all(0.0 <= b < 1.0 for b in opt.betas):
        raise ConfigError(f"opt_{who}.betas must be two numbers in [0, 1), got {opt.betas}")
    if not 0.0 <= opt.momentum < 1.0:
        raise ConfigError(f"opt_{who}.momentum must be in [0, 1), got {opt.momentum}")
    if opt.weight_decay < 0:
        raise ConfigError(f"opt_{who}.weight_decay must be >= 0, got {opt.weight_decay}")


def build_optimizer(opt: OptimConfig, params, fused: bool = False, device_type: str = "cpu", who: str = "g") -> torch.optim.Optimizer:
    check_spec(opt, who)
    if opt.name == "adam":
        return torch.optim.Adam(params, lr=opt.lr, betas=tuple(opt.betas), weight_decay=opt.weight_decay,
                                **fused_kwargs(torch.optim.Adam, fused, device_type))  # fmt: skip
    if opt.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=opt.lr, alpha=opt.alpha, momentum=opt.momentum, weight_decay=opt.weight_decay)
    return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay,
                           **fused_kwargs(torch.optim.SGD, fused, device_type))  # fmt: skip


class ConstantCourse:
    """One optimizer at its configured learning rate for the whole run (no schedule)."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        # the spec's hyperparameters: a saved state brings its own, and the spec's win (a resume after
        # a divergence may lower the lr)
        self.hyperparameters = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]

    def prepare(self, step: int) -> torch.optim.Optimizer:
        return self.optimizer

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if "segment" in state:  # saved by a schedule (a resume after a divergence may drop it): its optimizer
            state = state["optimizer"]
        try:
            self.optimizer.load_state_dict(state)
        except (ValueError, KeyError) as e:
            from ..errors import CheckpointError

            raise CheckpointError(f"the saved optimizer does not fit this one ({type(self.optimizer).__name__}): {e}") from None
        for group, spec in zip(self.optimizer.param_groups, self.hyperparameters):
            group.update(spec)


def schedule_spec(opt: OptimConfig, steps: int, who: str):
    """The schedule of `opt` as optim.schedule reads it: a course filled in from the spec (and spanning
    `steps` when it names no length), or the list of phases as given; None without a schedule."""
    from .courses import course_arguments

    spec = opt.schedule
    if spec is None:
        return None
    if isinstance(spec, dict):
        named = [k for k in SPEC_KEYS if k in spec]
        if named:
            raise ConfigError(
                f"opt_{who}.schedule names {', '.join(named)}: a course takes the optimizer, lr and momentum from "
                f"opt_{who} (one spec per network); set opt_{who}.name / opt_{who}.lr / opt_{who}.betas instead"
            )
        kind = spec.get("kind")
        if kind is None:
            raise ConfigError(f"opt_{who}.schedule needs 'kind' (a course such as cyclegan, step, sgdr, constant, wgan-drop)")
        args = course_arguments(str(kind))  # an unknown kind lists the valid ones
        if isinstance(args.get("momentum"), (list, tuple)):
            raise ConfigError(
                f"opt_{who}.schedule: the {kind} course cycles the momentum, which opt_{who} holds as one number; "
                f"give opt_{who}.schedule as a list of phases (`ganforge schedule {kind}` prints the course's phases)"
            )
        check_spec(opt, who)
        adam = opt.name == "adam"
        opt_args = {"weight_decay": opt.weight_decay, **({"betas": list(opt.betas)} if adam else {})}
        if opt.name == "rmsprop":
            opt_args["alpha"] = opt.alpha
        filled = {**spec, "optimizer": opt.name, ("lr" if "lr" in args else "lr_max"): opt.lr,
                  "momentum": opt.betas[0] if adam else opt.momentum, "opt_args": opt_args}  # fmt: skip
        if not {"steps", "epochs"} & set(spec):  # a course that names no length spans the whole run
            filled["steps"] = steps
        return filled
    defaults = OptimConfig()
    set_keys = [f.name for f in dataclasses.fields(opt) if f.name != "schedule" and getattr(opt, f.name) != getattr(defaults, f.name)]
    if set_keys:
        raise ConfigError(
            f"opt_{who}.schedule is a list of phases, each naming its own optimizer, lr and momentum, so "
            f"{', '.join(f'opt_{who}.{k}' for k in set_keys)} would do nothing: set them in the phases, or use a "
            f"course ({{kind: ...}}) that takes them from opt_{who}"
        )
    return spec


def build_course(opt: OptimConfig, params, steps: int, who: str, fused: bool = False, device_type: str = "cpu"):
    """The optimizer of one network over training: constant, or a schedule (`opt.schedule`); `fused`
    picks torch's fused kernels where they exist for the optimizer and device."""
    spec = schedule_spec(opt, steps, who)
    if spec is None:
        return ConstantCourse(build_optimizer(opt, params, fused, device_type, who))
    from .schedule import PhasedOptimizer, build_schedule

    schedule = build_schedule(spec)
    if schedule.total_steps < steps:
        raise ConfigError(
            f"opt_{who}.schedule covers {schedule.total_steps} steps but training runs {steps}; "
            f"lengthen its phases or lower steps"
        )
    return PhasedOptimizer(schedule, params, extra_kwargs=lambda cls: fused_kwargs(cls, fused, device_type))
