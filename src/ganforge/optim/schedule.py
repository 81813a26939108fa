"""Training phases: the learning rate, momentum and optimizer of every step, as a pure function of the step.

A schedule is a list of phases. Each phase has a length (`steps`, or `epochs` converted with the data's
steps per epoch), an optimizer, a learning rate that is constant or goes from a start to an end value
by a decay curve, the same for momentum (SGD/RMSprop momentum, Adam's beta1), and optionally its own
dataset, image size and batch size (progressive resizing). In YAML:

    schedule:
      - {steps: 1000, optimizer: adam, lr: 2e-4, momentum: 0.5}
      - {steps: 1000, lr: [2e-4, 0], decay: linear}       # unset keys carry over from the phase before
                                                           # (optimizer arguments: while it stays the same)

or one of the standard courses (`schedule_courses.py`): `{kind: 1cycle, steps: 3000, lr_max: 0.4}`.

With t = i / n the fraction of a phase of n steps done before step i (so t = 0 at the phase's first
step, and the end value is where the next phase would start), the decay curves from `start` to `end` are

    constant     start
    linear       start + (end - start) t                          torch LinearLR
    cosine       end + (start - end) (1 + cos(pi t)) / 2          torch CosineAnnealingLR (eta_min = end)
    exponential  start (end / start)^t                            torch ExponentialLR, gamma = (end/start)^(1/n)
    polynomial   end + (start - end) (1 - t)^power                torch PolynomialLR (end = 0)

Why closed forms and not torch.optim.lr_scheduler objects: torch's schedulers are stateful recurrences
(each step multiplies the previous lr), set the learning rate only (momentum only inside OneCycleLR and
CyclicLR), are bound to one optimizer so cannot follow a switch of optimizer, and need an optimizer to
draw a plot. A closed form of the step resumes exactly anywhere (mid-phase included) with nothing but
the step number saved, plots without training, and is checked in the tests against torch's schedulers
for every curve torch has, so the two agree to float precision.

The optimizer a phase names is built by `Phase.build_optimizer`; `PhasedOptimizer` owns the optimizer
across phases (a new one where a phase names a different optimizer, the same one, with its momentum
buffers, where consecutive phases share it) and saves/loads it for checkpoints.
"""
from __future__ import annotations

import bisect
import dataclasses
import inspect
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Union

import numpy as np
import torch

from ..errors import CheckpointError, ConfigError
from ..registry import Registry, unknown_name_message

# --------------------------------------------------------------------------------------------------
# Decay curves: f(start, end, t, power) with t in [0, 1); numpy so a whole curve evaluates at once.

DECAYS: Registry = Registry("decay type")


@DECAYS.register("constant")
def constant_decay(start, end, t, power=1.0):
    return start + 0.0 * np.asarray(t, dtype=np.float64)


@DECAYS.register("linear")
def linear_decay(start, end, t, power=1.0):
    return start + (end - start) * np.asarray(t, dtype=np.float64)


@DECAYS.register("cosine")
def cosine_decay(start, end, t, power=1.0):
    return end + (start - end) * (1.0 + np.cos(np.pi * np.asarray(t, dtype=np.float64))) / 2.0


@DECAYS.register("exponential")
def exponential_decay(start, end, t, power=1.0):
    return start * (end / start) ** np.asarray(t, dtype=np.float64)


@DECAYS.register("polynomial")
def polynomial_decay(start, end, t, power=1.0):
    return end + (start - end) * (1.0 - np.asarray(t, dtype=np.float64)) ** power


def anneal(decay: str, start: float, end: float, t, power: float = 1.0):
    """The value of a `decay` curve from `start` to `end` at fraction `t` of the phase (float or array)."""
    value = DECAYS.get(decay)(start, end, t, power)
    return float(value) if np.ndim(value) == 0 else value


# --------------------------------------------------------------------------------------------------
# Optimizers a phase may name, and where each keeps its momentum.


@dataclass(frozen=True)
class OptimizerKind:
    cls: type
    momentum_key: str | None  # "momentum", "betas" (momentum is betas[0]) or None


OPTIMIZERS: Registry = Registry("optimizer")
OPTIMIZERS.register("sgd")(OptimizerKind(torch.optim.SGD, "momentum"))
OPTIMIZERS.register("adam")(OptimizerKind(torch.optim.Adam, "betas"))
OPTIMIZERS.register("adamw")(OptimizerKind(torch.optim.AdamW, "betas"))
OPTIMIZERS.register("rmsprop")(OptimizerKind(torch.optim.RMSprop, "momentum"))


def _optimizer_arg_names(cls: type) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params", "lr")]


# --------------------------------------------------------------------------------------------------
# One phase.

Range = tuple[float, float]


@dataclass(frozen=True)
class Phase:
    """One stretch of training with one optimizer and one lr/momentum curve. Build with `build_schedule`."""

    steps: int | None = None  # length in optimizer steps...
    epochs: float | None = None  # ...or in epochs (converted with the data's steps per epoch)
    optimizer: str = "sgd"
    lr: Range = (0.0, 0.0)  # (start, end)
    decay: str = "constant"
    power: float = 1.0  # exponent of the polynomial decay
    momentum: Range | None = None  # (start, end); None leaves the optimizer's own momentum alone
    momentum_decay: str = "constant"
    opt_args: dict = field(default_factory=dict)  # other optimizer arguments (weight_decay, nesterov, eps...)
    data: str | None = None  # None: the run's dataset
    image_size: int | None = None  # None: the run's image size
    batch_size: int | None = None  # None: the run's batch size
    name: str = ""  # a label for plots and logs ("warm-up", "annihilation")

    def lr_at(self, t):
        """Learning rate at fraction t of the phase."""
        return anneal(self.decay, *self.lr, t, self.power)

    def momentum_at(self, t):
        """Momentum (Adam: beta1) at fraction t of the phase, or None when the phase leaves it alone."""
        if self.momentum is None:
            return None
        return anneal(self.momentum_decay, *self.momentum, t, self.power)

    def optimizer_key(self) -> tuple:
        """Phases with equal keys share one optimizer (and its state) when they follow each other."""
        return (self.optimizer, repr(sorted(self.opt_args.items())))

    def build_optimizer(self, params: Iterable, extra_kwargs: dict | None = None) -> torch.optim.Optimizer:
        """A fresh optimizer of this phase's kind over `params`, at the phase's starting lr and momentum;
        `extra_kwargs` (e.g. fused=True) are implementation choices the phase's own arguments override."""
        kind = OPTIMIZERS.get(self.optimizer)
        kwargs = {**(extra_kwargs or {}), **self.opt_args}
        kwargs["lr"] = self.lr[0]
        if self.momentum is not None:
            if kind.momentum_key == "betas":
                beta2 = kwargs.get("betas", (0.9, 0.999))[1]
                kwargs["betas"] = (self.momentum[0], beta2)
            else:
                kwargs[kind.momentum_key] = self.momentum[0]
        elif "betas" in kwargs:
            kwargs["betas"] = tuple(kwargs["betas"])
        try:
            return kind.cls(params, **kwargs)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"cannot build optimizer '{self.optimizer}' with {kwargs}: {e}") from None

    def to_dict(self) -> dict:
        """The phase as YAML-ready plain values; `build_schedule` reads it back to an equal phase."""
        out: dict = {"steps": self.steps} if self.steps is not None else {"epochs": self.epochs}
        if self.name:
            out["name"] = self.name
        out["optimizer"] = self.optimizer
        out["lr"] = self.lr[0] if self.decay == "constant" else list(self.lr)
        out["decay"] = self.decay
        if self.power != 1.0:
            out["power"] = self.power
        if self.momentum is not None:
            out["momentum"] = self.momentum[0] if self.momentum_decay == "constant" else list(self.momentum)
            out["momentum_decay"] = self.momentum_decay
        if self.opt_args:
            out["opt_args"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.opt_args.items()}
        for key in ("data", "image_size", "batch_size"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


PHASE_KEYS = [f.name for f in dataclasses.fields(Phase)]
# Keys a phase takes from the one before it when it does not set them (lr and the length never carry
# over; opt_args and momentum only while the optimizer stays the same).
CARRIED_KEYS = ("optimizer", "momentum", "opt_args", "data", "image_size", "batch_size")


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _range(value, what: str) -> tuple[Range, bool]:
    """A number or [start, end] -> ((start, end), whether it was a pair)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{what} must be a number or [start, end], got {value!r}")
        return (_number(value[0], what), _number(value[1], what)), True
    v = _number(value, what)
    return (v, v), False


def _check_curve(where: str, what: str, values: Range, decay: str) -> None:
    start, end = values
    if decay == "constant" and start != end:
        raise ConfigError(f"{where}: {what} goes from {start} to {end} but its decay is 'constant'; name a decay")
    if decay == "exponential" and (start <= 0 or end <= 0):
        raise ConfigError(
            f"{where}: exponential decay of {what} needs start and end > 0 (it multiplies by a constant "
            f"factor each step), got [{start}, {end}]; use linear, cosine or polynomial to reach 0"
        )


def parse_phase(spec: dict, before: Phase | None, index: int) -> Phase:
    """One phase dict (see the module docstring) -> Phase; `before` supplies the carried-over keys."""
    where = f"schedule phase {index + 1}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a mapping like {{steps: 1000, lr: 0.1}}, got {spec!r}")
    unknown = [k for k in spec if k not in PHASE_KEYS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], PHASE_KEYS, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'{hint}; valid: {', '.join(PHASE_KEYS)}")
    kw: dict = {k: getattr(before, k) for k in CARRIED_KEYS} if before is not None else {}
    if kw.get("momentum") is not None:  # a carried momentum stays where the phase before ended
        kw["momentum"] = (kw["momentum"][1], kw["momentum"][1])

    # Length: exactly one of steps / epochs, at least one step.
    has_steps, has_epochs = spec.get("steps") is not None, spec.get("epochs") is not None
    if has_steps == has_epochs:
        raise ConfigError(f"{where}: give its length as exactly one of 'steps' or 'epochs'")
    if has_steps:
        steps = spec["steps"]
        if isinstance(steps, bool) or not isinstance(steps, (int, float)) or int(steps) != steps:
            raise ConfigError(f"{where}: steps must be a whole number, got {steps!r}")
        if steps < 1:
            raise ConfigError(f"{where}: a phase must last at least 1 step, got steps={steps}")
        kw["steps"] = int(steps)
    else:
        epochs = _number(spec["epochs"], f"{where}: epochs")
        if epochs <= 0:
            raise ConfigError(f"{where}: a phase must last more than 0 epochs, got epochs={spec['epochs']}")
        kw["epochs"] = epochs

    if "optimizer" in spec:
        kw["optimizer"] = str(spec["optimizer"])
        if before is not None and kw["optimizer"] != before.optimizer:
            # Another optimizer: the old one's arguments and momentum mean nothing to it.
            kw.pop("opt_args", None)
            kw.pop("momentum", None)
    if kw.get("optimizer", "sgd") not in OPTIMIZERS:
        raise ConfigError(f"{where}: " + unknown_name_message("optimizer", kw["optimizer"], OPTIMIZERS.list()))
    kind = OPTIMIZERS.get(kw.get("optimizer", "sgd"))
    if "opt_args" in spec:
        if not isinstance(spec["opt_args"], dict):
            raise ConfigError(f"{where}: opt_args must be a mapping, e.g. {{weight_decay: 1e-4}}")
        kw["opt_args"] = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["opt_args"].items()}
    valid_args = _optimizer_arg_names(kind.cls)
    for key in kw.get("opt_args", {}):
        if key not in valid_args:
            raise ConfigError(
                f"{where}: optimizer '{kw.get('optimizer', 'sgd')}' has no argument '{key}'; valid: {', '.join(valid_args)}"
            )

    if "lr" not in spec:
        raise ConfigError(f"{where}: no 'lr' (a number, or [start, end] with a decay)")
    kw["lr"], lr_pair = _range(spec["lr"], f"{where}: lr")
    if min(kw["lr"]) < 0:
        raise ConfigError(f"{where}: the learning rate must be >= 0, got {spec['lr']!r}")
    decay = spec.get("decay", "linear" if lr_pair and kw["lr"][0] != kw["lr"][1] else "constant")
    if decay not in DECAYS:
        raise ConfigError(f"{where}: " + unknown_name_message("decay type", str(decay), DECAYS.list()))
    kw["decay"] = decay
    if "power" in spec:
        kw["power"] = _number(spec["power"], f"{where}: power")
        if kw["power"] <= 0:
            raise ConfigError(f"{where}: the polynomial power must be > 0, got {kw['power']}")
    _check_curve(where, "lr", kw["lr"], decay)

    if "momentum" in spec:
        if spec["momentum"] is None:
            kw["momentum"] = None
        else:
            kw["momentum"], _ = _range(spec["momentum"], f"{where}: momentum")
            if not all(0.0 <= m < 1.0 for m in kw["momentum"]):
                raise ConfigError(f"{where}: momentum must be in [0, 1), got {spec['momentum']!r}")
    momentum_changes = kw.get("momentum") is not None and kw["momentum"][0] != kw["momentum"][1]
    # Momentum follows the lr's curve unless told otherwise (linear where the lr is constant).
    m_decay = spec.get("momentum_decay", (decay if decay != "constant" else "linear") if momentum_changes else "constant")
    if m_decay not in DECAYS:
        raise ConfigError(f"{where}: " + unknown_name_message("decay type", str(m_decay), DECAYS.list()))
    kw["momentum_decay"] = m_decay
    if kw.get("momentum") is not None:
        if kind.momentum_key is None:
            raise ConfigError(f"{where}: optimizer '{kw['optimizer']}' has no momentum to schedule")
        _check_curve(where, "momentum", kw["momentum"], m_decay)

    for key in ("data", "name"):
        if key in spec and spec[key] is not None:
            kw[key] = str(spec[key])
    for key in ("image_size", "batch_size"):
        if key in spec:
            value = spec[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{where}: {key} must be a positive whole number, got {value!r}")
            kw[key] = value
    return Phase(**kw)


# --------------------------------------------------------------------------------------------------
# The schedule.

StepsPerEpoch = Union[int, Callable[[Phase], int], None]


class Schedule:
    """Phases laid end to end; every query is a pure function of the global step (0-based).

    `phases[k]` runs for steps `starts[k] <= step < starts[k] + lengths[k]`; `total_steps` is the sum.
    """

    def __init__(self, phases: list[Phase], steps_per_epoch: StepsPerEpoch = None):
        if not phases:
            raise ConfigError("a schedule needs at least one phase")
        self.phases = list(phases)
        self.lengths: list[int] = []
        epochs_done = 0.0  # epochs are converted cumulatively so rounding never drifts over phases
        for i, phase in enumerate(self.phases):
            if phase.steps is not None:
                self.lengths.append(phase.steps)
                continue
            if steps_per_epoch is None:
                raise ConfigError(
                    f"schedule phase {i + 1} is {phase.epochs} epochs long, but no steps per epoch are known "
                    f"here; give its length in steps"
                )
            spe = steps_per_epoch(phase) if callable(steps_per_epoch) else steps_per_epoch
            n = round((epochs_done + phase.epochs) * spe) - round(epochs_done * spe)
            if n < 1:
                raise ConfigError(
                    f"schedule phase {i + 1}: {phase.epochs} epochs at {spe} steps per epoch is less than 1 step"
                )
            epochs_done += phase.epochs
            self.lengths.append(n)
        self.starts = [0]
        for n in self.lengths[:-1]:
            self.starts.append(self.starts[-1] + n)
        self.total_steps = self.starts[-1] + self.lengths[-1]
        # segments[k]: the first phase of the run of phases that share phase k's optimizer.
        self.segments = []
        for k, phase in enumerate(self.phases):
            same = k > 0 and phase.optimizer_key() == self.phases[k - 1].optimizer_key()
            self.segments.append(self.segments[-1] if same else k)

    def __repr__(self) -> str:
        return f"Schedule({len(self.phases)} phases, {self.total_steps} steps)"

    def phase_index(self, step: int) -> int:
        if not 0 <= step < self.total_steps:
            raise ValueError(f"step {step} is outside the schedule's {self.total_steps} steps")
        return bisect.bisect_right(self.starts, step) - 1

    def phase_at(self, step: int) -> Phase:
        """The phase that step `step` belongs to."""
        return self.phases[self.phase_index(step)]

    def progress(self, step: int) -> float:
        """Fraction t of its phase done before `step` (0 at the phase's first step)."""
        k = self.phase_index(step)
        return (step - self.starts[k]) / self.lengths[k]

    def lr_at(self, step: int) -> float:
        return self.phase_at(step).lr_at(self.progress(step))

    def momentum_at(self, step: int) -> float | None:
        return self.phase_at(step).momentum_at(self.progress(step))

    def segment_at(self, step: int) -> int:
        """Index of the first phase whose optimizer is in use at `step` (changes where the optimizer does)."""
        return self.segments[self.phase_index(step)]

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> Phase:
        """Set lr (and momentum / Adam beta1, where the phase schedules it) of every param group for `step`.

        Returns the phase. Depends on `step` only, so calling it after a resume gives the same values.
        """
        phase = self.phase_at(step)
        t = self.progress(step)
        lr, momentum = phase.lr_at(t), phase.momentum_at(t)
        for group in optimizer.param_groups:
            group["lr"] = lr
            if momentum is None:
                continue
            if "betas" in group:
                group["betas"] = (momentum, group["betas"][1])
            elif "momentum" in group:
                group["momentum"] = momentum
            else:
                raise ConfigError(f"optimizer {type(optimizer).__name__} has no momentum to schedule")
        return phase

    def curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, lr, momentum) over the whole schedule; momentum is NaN where a phase leaves it alone."""
        lrs, moms = [], []
        for phase, n in zip(self.phases, self.lengths):
            t = np.arange(n, dtype=np.float64) / n
            lrs.append(np.broadcast_to(phase.lr_at(t), (n,)))
            m = phase.momentum_at(t)
            moms.append(np.full(n, np.nan) if m is None else np.broadcast_to(m, (n,)))
        return np.arange(self.total_steps), np.concatenate(lrs), np.concatenate(moms)

    def to_list(self) -> list[dict]:
        """The phases as YAML-ready dicts (every key explicit); `build_schedule` of it is an equal schedule."""
        return [p.to_dict() for p in self.phases]


_NAME_KEYS = {"kind", "name", "data", "optimizer", "decay", "momentum_decay"}


def _numbers_from_strings(value, key: str = ""):
    """'1e-4' -> 1e-4. YAML 1.1 (PyYAML) reads a float without a dot, like 1e-4, as a string."""
    if isinstance(value, dict):
        return {k: _numbers_from_strings(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers_from_strings(v, key) for v in value]
    if isinstance(value, str) and key not in _NAME_KEYS:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def build_schedule(spec, steps_per_epoch: StepsPerEpoch = None) -> Schedule:
    """A Schedule from a list of phase dicts, or a course dict `{kind: 1cycle, ...}` (see schedule_courses).

    `steps_per_epoch` (an int, or a function of the phase for phases with their own data or batch size)
    converts phases measured in epochs to steps.
    """
    if isinstance(spec, Schedule):
        return spec
    spec = _numbers_from_strings(spec)
    if isinstance(spec, dict):
        from .courses import expand_course

        spec = expand_course(spec)
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ConfigError(
            f"a schedule is a non-empty list of phases or a course like {{kind: 1cycle, steps: 1000, lr_max: 0.1}}, "
            f"got {spec!r}"
        )
    phases: list[Phase] = []
    for i, phase_spec in enumerate(spec):
        phases.append(parse_phase(phase_spec, phases[-1] if phases else None, i))
    return Schedule(phases, steps_per_epoch)


# --------------------------------------------------------------------------------------------------
# The optimizer across phases.


class PhasedOptimizer:
    """Owns the optimizer over a schedule: `opt = popt.prepare(step)` before each step.

    A new optimizer (fresh state) is built where a phase names a different optimizer or optimizer
    arguments; consecutive phases that share them keep one optimizer and its momentum buffers.
    `state_dict()` / `load_state_dict()` save and restore it, so a resume at any step (the first step of
    a new phase included) continues exactly as training straight through would.
    """

    def __init__(self, schedule: Schedule, params: Iterable, extra_kwargs: Callable[[type], dict] | None = None):
        self.schedule = schedule
        # optimizer class -> keyword arguments of its implementation (the trainer's fused=True)
        self.extra_kwargs = extra_kwargs or (lambda cls: {})
        self.params = list(params)  # a generator would be used up by the first optimizer
        self.optimizer: torch.optim.Optimizer | None = None
        self.segment: int | None = None
        self._adopt: dict | None = None  # a constant optimizer's saved state, for the first segment built

    def prepare(self, step: int) -> torch.optim.Optimizer:
        """The optimizer for `step`, with that step's lr and momentum set."""
        segment = self.schedule.segment_at(step)
        if segment != self.segment:
            self.optimizer = self._build(segment)
            self.segment = segment
            if self._adopt is not None:
                state, self._adopt = self._adopt, None
                try:
                    self.optimizer.load_state_dict(state)
                except (ValueError, KeyError) as e:
                    raise CheckpointError(f"the saved optimizer does not fit phase {segment + 1}'s: {e}") from None
        self.schedule.apply(self.optimizer, step)
        return self.optimizer

    def _build(self, segment: int) -> torch.optim.Optimizer:
        phase = self.schedule.phases[segment]
        return phase.build_optimizer(self.params, self.extra_kwargs(OPTIMIZERS.get(phase.optimizer).cls))

    def state_dict(self) -> dict:
        return {
            "segment": -1 if self.segment is None else self.segment,
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else {},
        }

    def load_state_dict(self, state: dict) -> None:
        if "segment" not in state:  # a constant optimizer's state (a schedule added on a resume): the
            self.optimizer, self.segment, self._adopt = None, None, state  # segment in use takes it over
            return
        segment = int(state["segment"])
        if segment < 0:
            self.optimizer, self.segment = None, None
            return
        if segment >= len(self.schedule.phases) or self.schedule.segments[segment] != segment:
            raise CheckpointError(f"the saved optimizer belongs to phase {segment + 1}, which this schedule lacks")
        optimizer = self._build(segment)
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"the saved optimizer does not fit phase {segment + 1}'s: {e}") from None
        self.optimizer, self.segment = optimizer, segment
