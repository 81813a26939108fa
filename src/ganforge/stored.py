"""Configurations written by an earlier ganforge (a checkpoint's config, a run's config.yaml), read in
today's keys with the same meaning. A user's own file with an old key gets an error naming the new one
(config.MOVED_KEYS); a stored run is upgraded silently, since it cannot be edited to fit."""
from __future__ import annotations

import dataclasses

from . import config as config_mod
from .config import Config, OptimConfig
from .optim.course import SPEC_KEYS
from .optim.courses import course_arguments


def upgrade_stored(data: dict) -> dict:
    """A config written by an earlier ganforge (a checkpoint's or a run's config.yaml), in today's keys,
    meaning the same training:
      - schedule_g / schedule_d -> opt_g.schedule / opt_d.schedule, the course's lr, optimizer and
        momentum moving into opt_g / opt_d (the optimizer they build is the same);
      - progan's algo.drift -> drift_weight (the drift term became a shared regulariser)."""
    data = {**data}
    for who in ("g", "d"):
        spec = data.pop(f"schedule_{who}", None)
        if spec is None:
            continue
        opt = {**dataclasses.asdict(OptimConfig()), **data.get(f"opt_{who}", {})}
        if isinstance(spec, dict):
            # what the course used where it named nothing: its own defaults
            spec = {**{k: v for k, v in course_arguments(str(spec.get("kind"))).items() if k in SPEC_KEYS}, **spec}
            opt["name"] = spec.pop("optimizer")
            lr = spec.pop("lr", None)
            lr = spec.pop("lr_max", lr)
            if lr is not None:
                opt["lr"] = lr
            momentum = spec.pop("momentum", None)
            if momentum is not None:
                if opt["name"] == "adam":
                    opt["betas"] = [momentum, opt["betas"][1]]
                else:
                    opt["momentum"] = momentum
            for key, value in (spec.pop("opt_args", None) or {}).items():
                if key in ("betas", "weight_decay", "alpha"):
                    opt[key] = list(value) if key == "betas" else value
        else:
            opt = {**dataclasses.asdict(OptimConfig())}  # a list of phases names its own optimizer and lr
        opt["schedule"] = spec
        data[f"opt_{who}"] = opt
    if data.get("algorithm") == "progan" and "drift" in (data.get("algo") or {}):
        algo = dict(data["algo"])
        data["drift_weight"] = algo.pop("drift")
        data["algo"] = algo
    return data


def from_stored(data: dict) -> Config:
    """The Config of a stored run (checkpoint or config.yaml), upgraded from earlier key names."""
    return config_mod.from_dict(upgrade_stored(data))
