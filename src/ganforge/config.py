"""Typed configuration: dataclasses, YAML presets, strict dotted overrides.

A run's configuration is `defaults <- preset YAML <- command-line overrides`. Every layer is checked
against the dataclasses below: an unknown key is an error naming the valid keys (and the closest one),
a value of the wrong type names its key. `model.g` and `model.d` are keyword arguments of the chosen
model's builders; they are checked against the builder's signature when the model is built.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Union

import yaml

from .errors import ConfigError


@dataclass(frozen=True)
class Range:
    """The values a numeric key accepts, written into its annotation (Annotated[int, AtLeast1]) so that
    every layer of a config (preset, file, command line, stored run) is checked against it on merge."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is excluded
    high_open: bool = False

    def check(self, value, path: str) -> None:
        if value is None:
            return
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            raise ConfigError(f"config key '{path}' must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        if self.low == 1 and self.high is None and not self.low_open:
            return "at least 1"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)


AtLeast1 = Range(1)  # counts of steps, samples, updates, batch items
NonNegative = Range(0.0)  # weights of terms (0 = off), counts where 0 means none or off
Positive = Range(0.0, low_open=True)  # learning rates
Fraction = Range(0.0, 1.0, high_open=True)  # label smoothing, momentum


@dataclass
class OptimConfig:
    """One network's optimizer, in one place (ganforge.optim.course): a course in `schedule` takes its
    optimizer, peak lr and momentum from the keys above it; a list of phases sets its own."""

    name: str = "adam"  # adam | rmsprop | sgd
    lr: Annotated[float, Positive] = 2e-4  # the constant lr, or the peak lr of the schedule's course
    betas: list[Annotated[float, Fraction]] = field(default_factory=lambda: [0.5, 0.999])  # Adam; betas[0] is its momentum
    momentum: Annotated[float, Fraction] = 0.0  # SGD / RMSprop
    alpha: Annotated[float, Range(0.0, 1.0, low_open=True)] = 0.99  # RMSprop smoothing
    weight_decay: Annotated[float, NonNegative] = 0.0  # the optimizer's weight decay (L2 penalty)
    schedule: Any = None  # the lr over training, by generator step: null (constant), a course ({kind: cyclegan}, {kind: step, at: [0.5], gamma: 0.5}; `ganforge schedule --help`) or a list of phases


@dataclass
class ModelConfig:
    name: str = "dcgan"  # a family from `ganforge models`
    z_dim: Annotated[int, AtLeast1] = 100  # size of G's noise input z
    g: dict = field(default_factory=dict)  # generator builder keyword arguments
    d: dict = field(default_factory=dict)  # discriminator builder keyword arguments
    spectral_norm: list[str] = field(default_factory=list)  # nets to spectral-normalise (Miyato et al. 2018): [d], [g, d]
    # Class-conditional nets (nets/conditional.py), for labelled data:
    conditional_g: str = ""  # "" | concat (Mirza & Osindero 2014: one-hot y joins z) | cbn (per-class BatchNorm gamma/beta) | shared (BigGAN's shared class embedding; the biggan family)
    conditional_d: str = ""  # "" | concat (one-hot y as extra input channels) | projection (Miyato & Koyama 2018) | acgan (Odena et al. 2017)
    minibatch_discrimination: Annotated[int, NonNegative] = 0  # Salimans et al. 2016: kernels B of the layer on D's features; 0 = off


@dataclass
class DiagnoseConfig:
    """Live health checks while training (ganforge.diagnose). The divergence guard is always on."""

    enabled: bool = True  # convergence-failure, mode-collapse and loss-range checks with advice
    window: Annotated[int, AtLeast1] = 5  # logging ticks a condition must hold before it is raised (one bad tick is noise)
    warmup_steps: Annotated[int, NonNegative] = 200  # no verdicts before this step: early training looks like D winning and like collapse
    collapse_ratio: Annotated[float, Range(0.0, 1.0, low_open=True)] = 0.25  # fixed-noise sample diversity below this share of the real data's = collapse
    explode_factor: Annotated[float, Range(1.0, low_open=True)] = 1000.0  # |loss| above this many times its running median (at least 1) = divergence
    rollback: bool = True  # on divergence, point ckpt-latest.pt back at the last good checkpoint


@dataclass
class Config:
    # What and where from
    preset: str = "custom"  # the preset's name (set by `--preset`; `custom` for a configuration built by hand)
    paper: str = ""  # citation of the paper whose settings these are
    notes: str = ""  # where the preset deviates from the paper, and why
    data: str = "mnist5k"  # dataset name (`ganforge datasets`) or an image folder
    data_root: Union[str, None] = None  # torchvision root, or the photo for single-image
    data_limit: Annotated[int, NonNegative] = 0  # train on a fixed subset of this many training images (class-balanced when labelled; limited-data studies); 0 = all. The subset comes from a fixed seed, not the run's `seed`: runs with different seeds see the same images (data/limit.py)
    image_size: Union[Annotated[int, AtLeast1], None] = None  # None: the dataset's own resolution
    channels: Union[Annotated[int, AtLeast1], None] = None  # None: the dataset's own channels
    model: ModelConfig = field(default_factory=ModelConfig)

    # The algorithm
    algorithm: str = "gan"  # `ganforge algorithms`: the paper's phases and networks (gan, infogan, cyclegan...)
    algo: dict = field(default_factory=dict)  # that algorithm's own hyperparameters, checked against its Params
    loss: str = "nonsaturating"  # `ganforge losses`: minimax, nonsaturating, least-squares, wasserstein, hinge, relativistic, ra-hinge
    steps: Annotated[int, AtLeast1] = 3000  # generator updates
    batch_size: Annotated[int, AtLeast1] = 64  # images (or points) per D and G update; the global batch when several processes train
    n_critic: Annotated[int, AtLeast1] = 1  # D updates per G update
    n_gen: Annotated[int, AtLeast1] = 1  # G updates per step, after D's phase; DCGAN-tensorflow (and the VEEGAN / PacGAN Stacked
    # MNIST code built on it) runs 2 "to make sure that d_loss does not go to zero"
    reuse_fake: bool = True  # G's phase reuses the last D phase's generated batch (pytorch/examples);
    # false samples fresh noise for G, as in Goodfellow et al.'s Algorithm 1 and the WGAN code
    critic_boost_steps: Annotated[int, NonNegative] = 0  # WGAN reference code: for the first N G-steps...
    critic_boost_every: Annotated[int, NonNegative] = 0  # ...and every Mth G-step...
    critic_boost_n_critic: Annotated[int, AtLeast1] = 100  # ...do this many critic steps
    clip_value: Annotated[float, NonNegative] = 0.0  # weight clipping of D's parameters to [-c, c] after each D step; 0 = off
    gp_weight: Annotated[float, NonNegative] = 0.0  # WGAN-GP gradient penalty lambda; 0 = off
    r1_weight: Annotated[float, NonNegative] = 0.0  # R1 penalty gamma (on real data): gamma/2 E||grad D(x)||^2; 0 = off
    r1_interval: Annotated[int, AtLeast1] = 1  # lazy regularization: R1 every k D-steps, scaled by k
    r2_weight: Annotated[float, NonNegative] = 0.0  # R2 penalty gamma (R1 on generated data; R3GAN); 0 = off
    r2_interval: Annotated[int, AtLeast1] = 1  # R2 every k D-steps, scaled by k
    pl_weight: Annotated[float, NonNegative] = 0.0  # StyleGAN2 path-length regularisation of G (2 in the paper); 0 = off
    pl_interval: Annotated[int, AtLeast1] = 1  # lazy: path length every k G-updates, scaled by k (4 in the paper)
    ortho_weight: Annotated[float, NonNegative] = 0.0  # BigGAN's orthogonal regularisation of G's weights: beta ||W W^T * (1 - I)||_F^2 added to G's loss; 0 = off
    drift_weight: Annotated[float, NonNegative] = 0.0  # ProGAN's eps_drift: eps E[D(x)^2] keeps the critic's output near 0; 0 = off
    label_smoothing: Annotated[float, Fraction] = 0.0  # one-sided: D's target for real images is 1 - s
    instance_noise: Annotated[float, NonNegative] = 0.0  # std of Gaussian noise added to D's inputs (real and fake)
    instance_noise_steps: Annotated[int, NonNegative] = 0  # anneal the noise linearly to 0 over this many steps; 0 = constant
    pack: Annotated[int, AtLeast1] = 1  # PacGAN (Lin et al. 2018): D judges groups of `pack` samples stacked along channels; 1 = off
    diffaugment: str = ""  # DiffAugment (Zhao et al. 2020) policies before D, e.g. color,translation,cutout; "" = off
    ada: bool = False  # ADA (Karras et al. 2020): D's inputs augmented ('bgc': flips, rotations, scalings, translations, colour), each transform with probability p, p set by D's overfitting; images only; an alternative to diffaugment
    ada_target: Annotated[float, Range(0.0, 1.0, low_open=True, high_open=True)] = 0.6  # ADA: the overfitting r_t = E[sign(D(x_real))] that p steers D towards
    ada_interval: Annotated[int, AtLeast1] = 4  # ADA: generator steps between adjustments of p
    ada_kimg: Annotated[float, Positive] = 500.0  # ADA: p can go from 0 to 1 in this many thousand real images (batch_size per step)
    ada_p: Annotated[float, Range(0.0, 1.0)] = 0.0  # ADA: p at the start of training (the authors' augment_p)
    class_loss_weight: Annotated[float, NonNegative] = 1.0  # ACGAN (model.conditional_d=acgan): weight of the class loss in D's and G's loss
    opt_g: OptimConfig = field(default_factory=OptimConfig)  # G's optimizer and its lr schedule
    opt_d: OptimConfig = field(default_factory=OptimConfig)  # D's
    ema_half_life: Annotated[float, NonNegative] = 0.0  # EMA of G's weights, half-life in G-steps; 0 = off
    ema_start: Annotated[int, NonNegative] = 0  # start averaging after this many G-steps
    drs_percentile: Annotated[float, Range(0.0, 100.0, high_open=True)] = 0.0  # discriminator rejection sampling (Azadi et al. 2019) of the trained run's samples (`ganforge generate`, `ganforge eval`; not the grids or in-training evaluation): each sample drawn again until the calibrated D keeps it, gamma at this percentile of F (higher keeps fewer draws); 0 = off; the gan algorithm only

    # Bookkeeping
    seed: Annotated[int, NonNegative] = 0  # the run's random seed: network initialisation, data order and every draw of training
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    workers: Annotated[int, NonNegative] = 0  # DataLoader worker processes (folder datasets)
    pin_memory: bool = True  # page-locked batches for asynchronous host-to-GPU copies (CUDA only)
    prefetch_factor: Annotated[int, AtLeast1] = 2  # batches each worker prepares ahead (with workers > 0)
    cache_images: bool = False  # decode an image folder once into a cached uint8 tensor file (data/cache.py)
    skip_bad_images: bool = False  # image folders: check every file once at start, leave unreadable ones out (with a warning)

    # Speed (docs/speed.md); each leaves results equal to fp32 eager within float tolerance
    precision: str = "fp32"  # fp32 | bf16 (autocast) | fp16 (autocast + a GradScaler per network; CUDA) | auto (bf16 where the device computes it natively: a CUDA GPU with bf16, a CPU with AMX or AVX-512 BF16; else fp32)
    channels_last: bool = False  # NHWC memory layout for 4-D weights and image batches
    compile: bool = False  # torch.compile G and D for the training steps (eager, with a warning, where unavailable)
    fused_optimizers: bool = True  # torch's fused Adam/AdamW/SGD kernels where the device has them
    threads: Annotated[int, NonNegative] = 0  # torch CPU threads; 0 = torch's default, fewer while other programs keep the cores busy
    sync_batchnorm: bool = False  # many processes: BatchNorm over the global batch (SyncBatchNorm; CUDA only)

    # Logging, sample grids, checkpoints and what watches the run
    log_every: Annotated[int, AtLeast1] = 50  # steps between logging ticks: a stats.jsonl line, the progress bar, the health checks
    sample_every: Annotated[int, AtLeast1] = 500  # steps between the fixed-noise sample grids in RUN/samples/
    ckpt_every: Annotated[int, AtLeast1] = 1000  # steps between checkpoints (and one at the end)
    keep_checkpoints: Annotated[int, NonNegative] = 2  # the newest numbered checkpoints kept (and the newest at or before the last healthy tick); 0 keeps every one
    n_samples: Annotated[int, AtLeast1] = 64  # images in the fixed-noise grid
    tensorboard: Union[bool, None] = None  # TensorBoard events in RUN/tensorboard; null = on when the package is installed
    report_every: Annotated[int, NonNegative] = 0  # rewrite RUN/report.html every N steps (and at the end); 0 = off

    # Evaluation and diagnosis while training (docs/evaluation.md)
    eval_every: Annotated[int, NonNegative] = 0  # score the generator every N steps (and at the end); 0 = off (best_metric alone: once, at the end)
    eval_metrics: list[str] = field(default_factory=list)  # metric names; empty = the data's defaults
    eval_n: Annotated[int, AtLeast1] = 1000  # generated samples per evaluation
    eval_evaluator: str = "auto"  # auto | offline | inception | none | a classifier run folder
    eval_inception_weights: Union[str, None] = None  # local Inception-v3 weights file (offline machines)
    best_metric: str = ""  # keep checkpoints/ckpt-best.pt by this score (e.g. fid, modes/covered); "" = off
    diagnose: DiagnoseConfig = field(default_factory=DiagnoseConfig)


# Keys that may differ when a run is resumed (they do not change the maths of a step).
RESUMABLE_KEYS = {
    "steps", "log_every", "sample_every", "ckpt_every", "keep_checkpoints", "workers", "threads", "device",
    "eval_every", "eval_metrics", "eval_n", "eval_evaluator", "eval_inception_weights", "best_metric", "diagnose",
}  # fmt: skip
RESUMABLE_KEYS |= {"tensorboard", "report_every"}  # seeing training changes no step's maths
RESUMABLE_KEYS |= {"drs_percentile"}  # how a trained run is sampled afterwards
# Speed options that change results only by float rounding, as device and threads do. Not here:
# precision (bf16 keeps 3 significant digits: a resumed bf16 run is a different computation),
# fused_optimizers (a saved optimizer keeps its implementation), cache_images (uint8 rounding of inputs).
RESUMABLE_KEYS |= {"pin_memory", "prefetch_factor", "channels_last", "compile"}

# What in-training evaluation (monitors/evaluation.py) reads. It runs when eval_every > 0, or with best_metric
# alone (once, at the end, to choose ckpt-best.pt); with neither, nothing reads these keys.
EVAL_KEYS = ("eval_metrics", "eval_n", "eval_evaluator", "eval_inception_weights")


def evaluates_in_training(cfg: Config) -> bool:
    """Whether the run scores its generator while training (and so reads EVAL_KEYS)."""
    return cfg.eval_every > 0 or bool(cfg.best_metric)


def check_evaluation_keys(cfg: Config, keys=EVAL_KEYS) -> None:
    """Refuse those of `keys` among EVAL_KEYS that differ from their defaults while in-training evaluation
    is off: they would do nothing. A new run checks them all; a resume only the ones it changes (a stored
    run's config is its record, and an older ganforge accepted such keys)."""
    if evaluates_in_training(cfg):
        return
    defaults = Config()
    unread = [k for k in EVAL_KEYS if k in keys and getattr(cfg, k) != getattr(defaults, k)]
    if not unread:
        return
    given = ", ".join(f"{k}={getattr(cfg, k)!r}" for k in unread)
    default = ", ".join(f"{k}={getattr(defaults, k)!r}" for k in unread)
    raise ConfigError(
        f"{given} {'does' if len(unread) == 1 else 'do'} nothing while in-training evaluation is off (eval_every=0, "
        f"no best_metric): set eval_every=N to score the generator every N steps (or best_metric=NAME to score "
        f"it once, at the end), or leave {'it at its default' if len(unread) == 1 else 'them at their defaults'} ({default})"
    )


def _closest(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unknown_key(path: str, valid: list[str]) -> ConfigError:
    if path in MOVED_KEYS:
        return ConfigError(f"config key '{path}' has moved to {MOVED_KEYS[path]}")
    key = path.rsplit(".", 1)[-1]
    return ConfigError(f"unknown config key '{path}'{_closest(key, valid)}; valid: {', '.join(valid)}")


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check/convert a parsed value to the annotated type (and its Range); the error names the key."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *marks = typing.get_args(tp)
        value = _coerce(value, base, path)
        for mark in marks:
            mark.check(value, path)
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
            return None  # the CLI's `key=none` (YAML reads only 'null' as None)
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{path}: bad value {value!r}")
    if origin is list:
        (item_tp,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{path}' wants a list, got {value!r}")
        return [_coerce(v, item_tp, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{path}' wants a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{path}' wants true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"config key '{path}' wants an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads '1e-4' (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{path}' wants a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key '{path}' wants a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp} at {path}")


def merge(obj, data: dict, prefix: str = ""):
    """Apply a (nested) dict onto a dataclass instance, strictly; returns obj."""
    hints = typing.get_type_hints(type(obj), include_extras=True)
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in hints:
            raise _unknown_key(path, names)
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{path}' is a section; set its keys, e.g. {path}.{names[0]}=...")
            merge(current, value, f"{path}.")
        elif isinstance(current, dict) and isinstance(value, dict):
            current.update(value)
        else:
            setattr(obj, key, _coerce(value, hints[key], path))
    return obj


def parse_override(text: str) -> dict:
    """'opt_d.lr=1e-4' -> {'opt_d': {'lr': 1e-4}} (the value is read as YAML: numbers, lists, null)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not key=value (e.g. opt_d.lr=1e-4)")
    key, raw = text.split("=", 1)
    key = key.strip().replace("-", "_")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # 'none' stays the string, as in a preset file (`norm: none`); optional keys read it as None
    nested: dict = value
    for part in reversed(key.split(".")):
        if not part:
            raise ConfigError(f"override '{text}' has an empty key part")
        nested = {part: nested}
    return nested


def to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(data: dict) -> Config:
    return merge(Config(), data)


# Keys that moved, with what replaces them: a user's file that still sets one gets this as its error.
MOVED_KEYS = {
    "schedule_g": "opt_g.schedule (a course takes its lr, optimizer and momentum from opt_g)",
    "schedule_d": "opt_d.schedule (a course takes its lr, optimizer and momentum from opt_d)",
}


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def read_yaml(path: str) -> dict:
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys")
    return data


def differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict) and key not in ("g", "d", "algo"):
            out += differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}: {va!r} -> {vb!r}")
    return out


def write_yaml(cfg: Config, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(dump_yaml(cfg))
    os.replace(tmp, path)
