"""What to change when a diagnosis fires: concrete levers, named by the config keys that pull them.

Kept apart from the checks so the wording is in one place and `ganforge diagnose` can print the same
advice for a finished run as the progress bar gave live. Given the run's config and algorithm, the
advice names only levers that work there: a switch the algorithm applies, an lr that is not fixed by a
list of phases, a network option its builder takes, a count of updates it repeats. (Advising
`gp_weight=10` to a CycleGAN run, which refuses it, would send the user into an error.)
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from ..train.algorithm import REPEAT_KEYS
from ..train.d_pipeline import SWITCHES

Overrides = dict  # dotted config key -> value


@dataclass(frozen=True)
class Lever:
    text: str
    # the overrides it suggests, or a function of the run's config giving them (None: not for this run)
    overrides: Overrides | Callable[[object], Overrides | None]

    def suggestion(self, cfg) -> Overrides | None:
        return self.overrides(cfg) if callable(self.overrides) else self.overrides

    def render(self, overrides: Overrides) -> str:
        pairs = " ".join(f"{k}={_yaml(v)}" for k, v in overrides.items())
        return f"{self.text}: {pairs}" if pairs else self.text


def _yaml(value) -> str:
    return "[" + ",".join(map(str, value)) + "]" if isinstance(value, list) else f"{value:g}" if isinstance(value, float) else str(value)


def _scaled_lrs(factor: float, nets: str = "gd"):
    def overrides(cfg):
        return {f"opt_{n}.lr": float(f"{getattr(cfg, f'opt_{n}').lr * factor:.3g}") for n in nets}

    return overrides


def _larger_g(cfg):
    """Double the run's G along whatever size option its builder takes."""
    options = (cfg.model.g or {})
    for key in ("width", "hidden", "fmap_base"):
        current = options.get(key)
        if isinstance(current, list):
            return {f"model.g.{key}": [2 * h for h in current]}
        if current:
            return {f"model.g.{key}": 2 * current}
    return {"model.g.width": 128}


ADVICE: dict[str, list[Lever]] = {
    # D wins: its gradients to G vanish (Goodfellow et al. 2014 sec. 3; Arjovsky & Bottou 2017).
    "convergence-failure": [
        Lever("lower D's learning rate or raise G's (TTUR, Heusel et al. 2017)",
              lambda cfg: {"opt_d.lr": float(f"{cfg.opt_d.lr / 2:.3g}"), "opt_g.lr": float(f"{cfg.opt_g.lr * 2:.3g}")}),
        Lever("one-sided label smoothing", {"label_smoothing": 0.1}),
        Lever("instance noise, annealed", lambda cfg: {"instance_noise": 0.1, "instance_noise_steps": cfg.steps}),
        Lever("a regularised D: a gradient penalty", {"gp_weight": 10.0}),
        Lever("a regularised D: R1", {"r1_weight": 10.0}),
        Lever("a larger G", _larger_g),
    ],
    # Collapse: G maps most noise to a few outputs (Goodfellow 2016 tutorial sec. 5.1.1).
    "mode-collapse": [
        Lever("a larger noise vector (the DCGAN tutorial's run with one noise dimension collapses)", lambda cfg: {"model.z_dim": max(100, 2 * cfg.model.z_dim)}),
        Lever("more critic steps per G step", {"n_critic": 5}),
        Lever("lower learning rates", _scaled_lrs(0.5)),
        Lever("PacGAN packing (D judges samples in groups)", {"pack": 2}),
        Lever("spectral norm in D", {"model.spectral_norm": ["d"]}),
    ],
    # Divergence: the losses left the floating-point range, or grew by orders of magnitude.
    "divergence": [
        Lever("lower both learning rates 10x", _scaled_lrs(0.1)),
        Lever("a gradient penalty to bound D's gradients", {"gp_weight": 10.0}),
        Lever("spectral norm in D", {"model.spectral_norm": ["d"]}),
    ],
    "d-loss-low": [
        Lever("D is ahead of G: lower D's learning rate", _scaled_lrs(0.5, "d")),
        Lever("D is ahead of G: one-sided label smoothing", {"label_smoothing": 0.1}),
    ],
    "d-loss-high": [
        Lever("D is behind G: raise D's learning rate", _scaled_lrs(2.0, "d")),
        Lever("D is behind G: more D steps", {"n_critic": 2}),
    ],
    "g-loss-high": [
        Lever("G gets little gradient: lower D's learning rate", _scaled_lrs(0.5, "d")),
        Lever("G gets little gradient: instance noise", lambda cfg: {"instance_noise": 0.1, "instance_noise_steps": cfg.steps}),
    ],
}


def lever_works(overrides: Overrides, cfg, algorithm) -> bool:
    """Whether every key of `overrides` would be used by a run of `algorithm` with config `cfg`."""
    from ..losses import get_loss

    for key in overrides:
        top = key.split(".")[0]
        if key in algorithm.ignores:
            return False
        if key in SWITCHES:
            if key not in algorithm.supports or (key == "label_smoothing" and not get_loss(cfg.loss).smoothable):
                return False
            if key == "pack" and cfg.model.conditional_d:  # a packed group would mix classes (nets/assemble.py)
                return False
        elif key in REPEAT_KEYS:
            if REPEAT_KEYS[key] not in algorithm.repeats:
                return False
        elif top in ("opt_g", "opt_d"):
            if isinstance(getattr(cfg, top).schedule, list):  # a list of phases sets each phase's lr itself
                return False
        elif key.startswith(("model.g.", "model.d.")):
            builder = algorithm.builders(cfg)["g" if key.startswith("model.g.") else "d"]
            if key.split(".")[2] not in inspect.signature(builder).parameters:
                return False
    return True


def advice_for(name: str, cfg=None, algorithm=None) -> list[str]:
    """The levers for diagnosis `name` (an empty list for an unknown name); given the run's config and
    algorithm class, only those that work for it, with values worked out from its config."""
    out = []
    for lever in ADVICE.get(name, []):
        if cfg is None:
            overrides = lever.overrides if isinstance(lever.overrides, dict) else {}
        else:
            overrides = lever.suggestion(cfg)
            if overrides is None or not lever_works(overrides, cfg, algorithm):
                continue
        out.append(lever.render(overrides))
    return out


def advice_for_run(name: str, trainer) -> list[str]:
    """advice_for with a training loop's config and algorithm (all levers without a run's config)."""
    if trainer is None or trainer.cfg is None:
        return advice_for(name)
    return advice_for(name, trainer.cfg, type(trainer.algorithm))
