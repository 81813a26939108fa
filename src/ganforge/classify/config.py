"""The classifier trainer's configuration, and how it becomes a schedule of phases.

Saved as config.yaml in the run folder with `kind: classifier`, so other tools tell classifier runs
from GAN runs. The `schedule` saved there is the fully expanded list of phases, so the file alone says
what every step did.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Union

import yaml

from ..config import merge
from ..errors import ConfigError

KIND = "classifier"
DEFAULT_EPOCHS = 2.0  # the length of a named course that gives none, when `epochs` is not set


@dataclass
class ClassifyConfig:
    kind: str = KIND  # marks a classifier run (GAN runs have no such key)
    model: str = "cnn"  # `ganforge classify models`: softmax, mlp, cnn, darknet, darknet-wide, darknet-small
    model_args: dict = field(default_factory=dict)  # keyword arguments of the model's builder
    data: str = "mnist5k"  # a labelled dataset (`ganforge datasets`)
    data_root: Union[str, None] = None
    image_size: Union[int, None] = None  # None: the dataset's own resolution
    channels: Union[int, None] = None  # None: the dataset's own channels
    batch_size: int = 100
    # The schedule: None (the model's default course: its best known recipe, models.DEFAULT_COURSES), a
    # course name ("1cycle"), a course mapping ({kind: sgdr, ...}) or a list of phases. `epochs` sets the
    # default course's length and fills in a course that lacks one (None: the default course's own,
    # else DEFAULT_EPOCHS); `lr` likewise (the course's main rate: lr_max for 1cycle/sgdr);
    # `weight_decay` goes to its optimizer.
    schedule: Any = None
    epochs: Union[float, None] = None
    lr: Union[float, None] = None
    weight_decay: Union[float, None] = None
    augment: bool = False  # random horizontal flips and 4-pixel padded crops (photos, not digits)
    label_smoothing: float = 0.0
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # float16 autocast + gradient scaling on CUDA; ignored on a CPU
    threads: int = 0  # torch CPU threads; 0 = torch's default, fewer while other programs keep the cores busy
    eval_batch_size: int = 500
    keep_checkpoints: int = 2


# Keys that may change when a run is resumed (they do not change the maths of a step).
RESUMABLE_KEYS = {"device", "threads", "eval_batch_size", "keep_checkpoints", "data_root"}


def config_from_dict(data: dict) -> ClassifyConfig:
    if data.get("kind", KIND) != KIND:
        raise ConfigError(f"not a classifier configuration (kind: {data.get('kind')!r})")
    return merge(ClassifyConfig(), data)


def config_to_dict(cfg: ClassifyConfig) -> dict:
    return dataclasses.asdict(cfg)


def write_config(cfg: ClassifyConfig, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        yaml.safe_dump(config_to_dict(cfg), f, sort_keys=False)
    os.replace(tmp, path)


def schedule_spec(cfg: ClassifyConfig):
    """The schedule spec (a list of phases or a course mapping) that `cfg` asks for."""
    from ..optim.courses import COURSES, course_arguments
    from .models import CLASSIFIERS, DEFAULT_COURSES

    spec = cfg.schedule
    if spec is None:
        CLASSIFIERS.get(cfg.model)  # an unknown model is reported as such, not as a missing course
        spec = dict(DEFAULT_COURSES[cfg.model])  # with its own length, which `epochs` overrides
        if cfg.epochs is not None:
            spec["epochs"] = cfg.epochs
    elif isinstance(spec, str):
        if spec in COURSES:
            spec = {"kind": spec}
        else:
            from ..optim.courses import load_schedule_spec

            spec = load_schedule_spec(spec)
    if isinstance(spec, list):
        given = [k for k in ("lr", "weight_decay") if getattr(cfg, k) is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} fill in a course; a list of phases sets its own (drop them)")
        return spec
    if not isinstance(spec, dict):
        raise ConfigError(f"schedule must be a course name, a course mapping or a list of phases, got {spec!r}")
    spec = dict(spec)
    if "kind" not in spec:
        raise ConfigError(f"a schedule mapping needs 'kind' (one of {', '.join(COURSES.list())}), got {spec!r}")
    args = course_arguments(str(spec["kind"]))
    if spec.get("steps") is None and spec.get("epochs") is None and "epochs" in args:
        spec["epochs"] = cfg.epochs if cfg.epochs is not None else DEFAULT_EPOCHS
    if cfg.lr is not None:
        spec["lr_max" if "lr_max" in args else "lr"] = cfg.lr
    if cfg.weight_decay is not None:
        spec["opt_args"] = {**(spec.get("opt_args") or {}), "weight_decay": cfg.weight_decay}
    return spec
