"""The standard courses, each expanded into a list of phases (see schedule.py for what a phase is).

A course is a dict `{kind: NAME, ...arguments}`; its length is `steps` or `epochs` (the whole course)
and splits into phases by fraction, in the same unit.

    constant   one phase at a constant lr
    step       step decay: lr x gamma at each fraction in `at` (torch MultiStepLR)
    sgdr       SGDR (Loshchilov & Hutter 2017): cosine cycles from lr_max to lr_min, restarting; each
               cycle `mult` times longer than the one before (torch CosineAnnealingWarmRestarts);
               the length is the whole course's or, as cycle_steps/cycle_epochs, the first cycle's
    1cycle     Leslie Smith's 1cycle (Smith 2018, "A disciplined approach to neural network
               hyper-parameters"): lr up from lr_max/div to lr_max while momentum goes down, the mirror
               image back, then a short "annihilation" of the lr to lr_max/div/final_div. Defaults follow
               the fast.ai CIFAR-10 lesson (div 20, momentum 0.95 -> 0.85, linear)
    cyclegan   CycleGAN (Zhu et al. 2017): Adam(2e-4, beta1 0.5) constant for the first part (100 of 200
               epochs), then linearly to zero. CycleGAN's per-epoch rule lr (1 - j/(n+1)) for decay
               epoch j = 1..n is the same line shifted by one step; here the line starts at lr.
    wgan-drop  the fast.ai WGAN notebook: RMSprop at a constant lr, divided by 10 for the last part
"""
from __future__ import annotations

import inspect
import os

from ..errors import ConfigError
from ..registry import Registry

COURSES: Registry = Registry("schedule course")

DEFAULT_STEPS = 1000  # the length of a course that names none (e.g. `ganforge schedule 1cycle`)


def expand_course(spec: dict) -> list[dict]:
    """{kind: NAME, ...} -> a list of phase dicts. Unknown kinds or arguments are errors listing the valid ones."""
    spec = dict(spec)
    if "kind" not in spec:
        raise ConfigError(f"a schedule mapping needs 'kind' (one of {', '.join(COURSES.list())}), got {spec!r}")
    kind = spec.pop("kind")
    course = COURSES.get(str(kind))
    valid = list(inspect.signature(course).parameters)
    for key in spec:
        if key not in valid:
            raise ConfigError(f"schedule course '{kind}' has no argument '{key}'; valid: {', '.join(valid)}")
    try:
        return course(**spec)
    except TypeError as e:  # e.g. a list where a number goes
        raise ConfigError(f"schedule course '{kind}': {e}") from None


def load_schedule_spec(source: str):
    """A course name -> {kind: name}; a YAML file -> the list of phases, course mapping, or the
    `schedule` entry of a config, that it holds."""
    if source in COURSES:
        return {"kind": source}
    if not os.path.isfile(source):
        try:
            COURSES.get(source)  # the error names the valid courses and the closest one
        except ConfigError as e:
            raise ConfigError(f"{e}; or a YAML file of phases (no file {source})") from None
    import yaml

    try:
        with open(source) as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read a schedule from {source}: {e}") from None
    if isinstance(data, dict) and "kind" not in data:
        if data.get("schedule") is None:
            raise ConfigError(f"{source} has no 'schedule' (a list of phases or {{kind: ...}})")
        data = data["schedule"]
    return data


def course_arguments(kind: str) -> dict:
    """The arguments of a course and their defaults (for help texts and the CLI)."""
    return {
        name: (None if p.default is inspect.Parameter.empty else p.default)
        for name, p in inspect.signature(COURSES.get(kind)).parameters.items()
    }


def _split(steps, epochs, fractions: list[float], what: str) -> list[dict]:
    """Split a length of `steps` (whole numbers, rounded cumulatively) or `epochs` by fractions summing to 1."""
    if steps is not None and epochs is not None:
        raise ConfigError(f"{what}: give 'steps' or 'epochs', not both")
    if epochs is not None:
        if not isinstance(epochs, (int, float)) or epochs <= 0:
            raise ConfigError(f"{what}: epochs must be > 0, got {epochs!r}")
        return [{"epochs": float(epochs) * f} for f in fractions]
    steps = DEFAULT_STEPS if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"{what}: steps must be a whole number >= 1, got {steps!r}")
    out, done, cum = [], 0, 0.0
    for f in fractions:
        cum += f
        end = round(cum * steps)
        if end - done < 1:
            raise ConfigError(f"{what}: {steps} steps are too few to split into {len(fractions)} phases")
        out.append({"steps": end - done})
        done = end
    return out


def _optim(optimizer: str, momentum, opt_args) -> dict:
    out = {"optimizer": optimizer}
    if momentum is not None:
        out["momentum"] = momentum
    if opt_args:
        out["opt_args"] = dict(opt_args)
    return out


def _fraction(value, what: str, low_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < 1 if low_open else 0 <= value < 1):
        bounds = "between 0 and 1 (exclusive)" if low_open else "in [0, 1)"
        raise ConfigError(f"{what} must be {bounds}, got {value!r}")
    return float(value)


@COURSES.register("constant")
def constant(lr=0.1, steps=None, epochs=None, optimizer="sgd", momentum=None, opt_args=None):
    """One phase at a constant learning rate."""
    (length,) = _split(steps, epochs, [1.0], "constant")
    return [{**length, "lr": lr, **_optim(optimizer, momentum, opt_args)}]


@COURSES.register("step")
def step(lr=0.1, at=(0.5, 0.75), gamma=0.1, steps=None, epochs=None, optimizer="sgd", momentum=0.9, opt_args=None):
    """Step decay: lr, then lr*gamma from fraction at[0] of training, lr*gamma^2 from at[1], ..."""
    at = list(at) if isinstance(at, (list, tuple)) else [at]
    marks = [_fraction(a, "step: each 'at' fraction") for a in at]
    if marks != sorted(set(marks)):
        raise ConfigError(f"step: the 'at' fractions must increase, got {at}")
    bounds = [0.0, *marks, 1.0]
    lengths = _split(steps, epochs, [b - a for a, b in zip(bounds, bounds[1:])], "step")
    return [
        {**length, "name": f"lr x {gamma}^{k}" if k else "", "lr": lr * gamma**k, **(_optim(optimizer, momentum, opt_args) if k == 0 else {})}
        for k, length in enumerate(lengths)
    ]


@COURSES.register("sgdr")
def sgdr(lr_max=0.1, lr_min=0.0, steps=None, epochs=None, cycle_steps=None, cycle_epochs=None, cycles=3, mult=2,
         optimizer="sgd", momentum=0.9, opt_args=None):
    """SGDR: `cycles` cosine cycles from lr_max to lr_min, each `mult` times longer than the one before
    (torch CosineAnnealingWarmRestarts(T_0, T_mult)). Give the whole length (`steps`/`epochs`) or the
    first cycle's (`cycle_steps`/`cycle_epochs`)."""
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise ConfigError(f"sgdr: cycles must be a whole number >= 1, got {cycles!r}")
    if isinstance(mult, bool) or not isinstance(mult, (int, float)) or mult < 1:
        raise ConfigError(f"sgdr: mult must be >= 1, got {mult!r}")
    weights = [mult**k for k in range(cycles)]
    if cycle_steps is None and cycle_epochs is None:
        lengths = _split(steps, epochs, [w / sum(weights) for w in weights], "sgdr")
    elif steps is not None or epochs is not None:
        raise ConfigError("sgdr: give the whole length (steps/epochs) or the first cycle's (cycle_steps/cycle_epochs), not both")
    else:
        lengths = [
            _split(None if cycle_steps is None else round(cycle_steps * w), None if cycle_epochs is None else cycle_epochs * w,
                   [1.0], "sgdr")[0]
            for w in weights
        ]
    phases = []
    for k, length in enumerate(lengths):
        phase = {**length, "name": f"cycle {k + 1}", "lr": [lr_max, lr_min], "decay": "cosine"}
        phases.append({**phase, **_optim(optimizer, momentum, opt_args)} if k == 0 else phase)
    return phases


@COURSES.register("1cycle")
def one_cycle(
    lr_max=0.1,
    steps=None,
    epochs=None,
    div=20.0,
    final_div=100.0,
    annihilate=0.1,
    momentum=(0.95, 0.85),
    decay="linear",
    optimizer="sgd",
    opt_args=None,
):
    """1cycle: lr lr_max/div -> lr_max while momentum goes momentum[0] -> momentum[1]; back again over
    as many steps; then the last `annihilate` fraction takes lr from lr_max/div to lr_max/div/final_div
    at momentum[0]."""
    if not isinstance(momentum, (list, tuple)) or len(momentum) != 2:
        raise ConfigError(f"1cycle: momentum must be [high, low], got {momentum!r}")
    annihilate = _fraction(annihilate, "1cycle: annihilate", low_open=False)
    for name, value in (("div", div), ("final_div", final_div)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
            raise ConfigError(f"1cycle: {name} must be a number >= 1, got {value!r}")
    m_high, m_low = momentum
    lr_low = lr_max / div
    half = (1.0 - annihilate) / 2
    lengths = _split(steps, epochs, [half, half] + ([annihilate] if annihilate else []), "1cycle")
    phases = [
        {**lengths[0], "name": "warm-up", "lr": [lr_low, lr_max], "decay": decay, "momentum": [m_high, m_low],
         **_optim(optimizer, None, opt_args)},
        {**lengths[1], "name": "cool-down", "lr": [lr_max, lr_low], "decay": decay, "momentum": [m_low, m_high]},
    ]
    if annihilate:
        phases.append({**lengths[2], "name": "annihilation", "lr": [lr_low, lr_low / final_div], "decay": decay, "momentum": m_high})
    return phases


@COURSES.register("cyclegan")
def cyclegan(lr=2e-4, steps=None, epochs=None, decay_fraction=0.5, optimizer="adam", momentum=0.5, opt_args=None):
    """CycleGAN: constant lr for the first (1 - decay_fraction) of training, then linearly to zero."""
    frac = _fraction(decay_fraction, "cyclegan: decay_fraction")
    first, second = _split(steps, epochs, [1.0 - frac, frac], "cyclegan")
    return [
        {**first, "name": "constant", "lr": lr, **_optim(optimizer, momentum, opt_args)},
        {**second, "name": "linear to 0", "lr": [lr, 0.0], "decay": "linear"},
    ]


@COURSES.register("wgan-drop")
def wgan_drop(lr=1e-4, steps=None, epochs=None, drop_at=0.9, divide=10.0, optimizer="rmsprop", momentum=None, opt_args=None):
    """The fast.ai WGAN notebook: a constant lr, then lr/divide from fraction `drop_at` of training."""
    at = _fraction(drop_at, "wgan-drop: drop_at")
    first, second = _split(steps, epochs, [at, 1.0 - at], "wgan-drop")
    return [
        {**first, "lr": lr, **_optim(optimizer, momentum, opt_args)},
        {**second, "name": f"lr / {divide:g}", "lr": lr / divide},
    ]
