"""What D sees and how it is held in check, shared by every algorithm: the switches.

D's input pipeline, applied to real and generated batches alike (`DInput`):
    augment (DiffAugment, Zhao et al. 2020, or ADA, Karras et al. 2020) -> instance noise (Sønderby
    et al. 2016) -> pack (PacGAN)
ADA's strength p follows D's verdicts on reals: an algorithm that applies ADA passes D's real logits
to `DInput.observe_real` in D's update, and checkpoints `DInput.state_dict()` (p and its accumulator).
D's regularisers (`DRegularizers`), each with its weight and, for R1 and R2, a lazy interval k (applied
every k-th D step, scaled by k; Karras et al. 2020):
    R1     gamma/2 E||grad D(x)||^2 on reals        (Mescheder et al. 2018)
    R2     gamma/2 E||grad D(G(z))||^2 on fakes     (Mescheder et al. 2018; R3GAN)
    GP     lambda E[(||grad D(x_hat)|| - 1)^2]      (Gulrajani et al. 2017)
    drift  eps E[D(x)^2]                            (Karras et al. 2018)
    clip   w <- clip(w, -c, c) after D's step       (Arjovsky et al. 2017)
and one-sided label smoothing, which moves the loss's real label. G's regularisers (train/g_regularizers.py:
StyleGAN2's path length, BigGAN's orthogonal regularisation) are switches too, declared here with the rest,
so one table refuses them all.

Every switch is a config key (`SWITCHES`). An algorithm declares the ones its updates apply
(`Algorithm.supports`); `check_switches` refuses, once and centrally, a switch that is set on an
algorithm that does not apply it, a modifier without what it modifies (r1_interval without r1_weight),
label smoothing on a loss with no real label, ADA on a loss whose D output has no decision boundary
to read a sign from, and ADA with DiffAugment. Nothing is silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..config import Config
from ..errors import ConfigError
from ..losses import clip_weights, drift_penalty, get_loss, gradient_norm_penalty, gradient_penalty
from .ada import AdaptiveP, augment
from .diffaugment import diff_augment, parse_policy
from .packing import check_pack, pack
from .sampling import rank_slice


@dataclass(frozen=True)
class Switch:
    key: str  # the config key
    what: str  # what it does, for errors
    needs: str = ""  # the switch it modifies: set alone, it would do nothing


SWITCHES: dict[str, Switch] = {s.key: s for s in (
    Switch("diffaugment", "DiffAugment of D's inputs"),
    Switch("ada", "adaptive discriminator augmentation (ADA) of D's inputs"),
    Switch("ada_target", "ADA's target for D's overfitting r_t", needs="ada"),
    Switch("ada_interval", "how often ADA adjusts p", needs="ada"),
    Switch("ada_kimg", "how fast ADA adjusts p", needs="ada"),
    Switch("ada_p", "ADA's p at the start", needs="ada"),
    Switch("instance_noise", "instance noise on D's inputs"),
    Switch("instance_noise_steps", "annealing of the instance noise", needs="instance_noise"),
    Switch("pack", "PacGAN packing of D's inputs"),
    Switch("r1_weight", "the R1 penalty"),
    Switch("r1_interval", "lazy R1", needs="r1_weight"),
    Switch("r2_weight", "the R2 penalty"),
    Switch("r2_interval", "lazy R2", needs="r2_weight"),
    Switch("gp_weight", "the gradient penalty"),
    Switch("drift_weight", "the drift penalty"),
    Switch("clip_value", "weight clipping of D"),
    Switch("pl_weight", "path-length regularisation of G (train/g_regularizers.py)"),
    Switch("pl_interval", "lazy path-length regularisation", needs="pl_weight"),
    Switch("label_smoothing", "one-sided label smoothing"),
    Switch("ortho_weight", "orthogonal regularisation of G (train/g_regularizers.py)"),
    Switch("reuse_fake", "reusing D's generated batch in G's update (false: G draws fresh noise)"),
)}  # fmt: skip
_DEFAULTS = Config()


def is_set(cfg: Config, key: str) -> bool:
    """The switch has a value other than its default (the default is always 'off')."""
    return getattr(cfg, key) != getattr(_DEFAULTS, key)


def check_switches(cfg: Config, algorithm: str, supports, loss) -> None:
    """Refuse each switch that is set but would do nothing: unsupported by `algorithm`, a modifier
    without what it modifies, or label smoothing on a loss with no label for real data."""
    for switch in SWITCHES.values():
        if not is_set(cfg, switch.key):
            continue
        value, default = getattr(cfg, switch.key), getattr(_DEFAULTS, switch.key)
        if switch.needs and not is_set(cfg, switch.needs):
            raise ConfigError(f"{switch.key}={value} ({switch.what}) does nothing without {switch.needs}; set {switch.needs} or remove {switch.key}")
        if (switch.needs or switch.key) not in supports:
            raise ConfigError(f"the {algorithm} algorithm does not apply {switch.key} ({switch.what}); "
                              f"remove it (default {default!r}) or use an algorithm that does")  # fmt: skip
    if is_set(cfg, "label_smoothing") and not loss.smoothable:
        raise ConfigError(f"label_smoothing moves D's label for real data, and loss '{loss.name}' has none; "
                          "use it with nonsaturating, minimax or least-squares, or remove it")  # fmt: skip
    if is_set(cfg, "ada") and is_set(cfg, "diffaugment"):
        raise ConfigError("ada and diffaugment are alternative augmentations of D's inputs; set one: remove diffaugment or ada")
    if is_set(cfg, "ada") and loss.boundary is None:
        raise ConfigError(f"ada sets p from the sign of D's output on real data, and loss '{loss.name}' has no decision "
                          "boundary to measure it from (a constant shift of D's output changes nothing); use nonsaturating, "
                          "minimax, hinge or least-squares, or remove ada")  # fmt: skip


class DInput:
    """What D sees of a batch, real or generated alike: DiffAugment or ADA, instance noise, then
    PacGAN's packing (groups of `pack` samples stacked along channels). Random draws are rank-sliced,
    so a distributed run augments as one process would."""

    def __init__(self, cfg: Config, world, device: torch.device, data_kind: str, step: Callable[[], int],
                 channels: int | None = None):  # fmt: skip
        self.policy = parse_policy(cfg.diffaugment)
        if self.policy and data_kind != "image":
            raise ConfigError(f"diffaugment augments images; the {cfg.data} data are {data_kind}")
        self.noise_std, self.noise_steps, self.pack = cfg.instance_noise, cfg.instance_noise_steps, cfg.pack
        self.world, self.device, self.step = world, device, step
        self.ada: AdaptiveP | None = None
        if cfg.ada:
            if data_kind != "image":
                raise ConfigError(f"ada augments images; the {cfg.data} data are {data_kind}")
            if channels not in (1, 3):
                raise ConfigError(f"ada's colour transforms are defined for RGB and 1-channel images; the {cfg.data} data have {channels} channels")
            self.ada = AdaptiveP(cfg.ada_target, cfg.ada_interval, cfg.ada_kimg, cfg.batch_size, cfg.ada_p, device, world)
        self.boundary = get_loss(cfg.loss).boundary  # D's output between "real" and "generated"; None: no such line

    def check_batch(self, local_batch_size: int) -> None:
        check_pack(self.pack, local_batch_size)

    def rand(self, n: int, *shape: int) -> torch.Tensor:
        """U[0, 1) draws of shape (n, *shape), rank-sliced (DiffAugment's draws)."""
        return rank_slice(lambda m: torch.rand(m, *shape, device=self.device), n, self.world)

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        """N(0, 1) draws of shape (n, *shape), rank-sliced (ADA's draws)."""
        return rank_slice(lambda m: torch.randn(m, *shape, device=self.device), n, self.world)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.policy:
            x = diff_augment(x, self.policy, self.rand)
        if self.ada is not None:
            self.ada.adjust_at(self.step())  # p moves at the first use of every ada_interval-th step
            x = augment(x, self.ada.p, self.rand, self.randn)
        return pack(self.instance_noise(x), self.pack)

    def observe_real(self, real_logits: torch.Tensor, stats: dict) -> None:
        """ADA's overfitting heuristic r_t = E[sign(D(x_real) - boundary)]: 0 when D cannot tell reals
        from fakes, towards 1 as D overfits its training images. With ADA, D's logits on (augmented) reals
        join p's accumulator, and this update's r_t and the current p go into `stats` ("ADA/r_t", "ADA/p").
        Without ADA the same statistic of this update is logged as "ADA/r_t" (a limited-data run shows it
        rise), read from the logits D already made: detached, no draw, no forward. Losses with no
        decision boundary (wasserstein, relativistic) log nothing."""
        if self.ada is not None:
            stats["ADA/r_t"] = self.ada.observe(real_logits - self.boundary)
            stats["ADA/p"] = self.ada.p
        elif self.boundary is not None:
            stats["ADA/r_t"] = (real_logits.detach().float() - self.boundary).sign().mean()

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the pipeline: ADA's p and accumulator ({} without ADA)."""
        return {"ada": self.ada.state_dict()} if self.ada is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.ada is not None:
            self.ada.load_state_dict(state["ada"])

    def instance_noise(self, x: torch.Tensor) -> torch.Tensor:
        """Blur both distributions with Gaussian noise so their supports overlap (Sønderby et al. 2016;
        Arjovsky & Bottou 2017), annealed linearly to zero over instance_noise_steps when set."""
        std = self.noise_std
        if std <= 0:
            return x
        if self.noise_steps:
            std *= max(0.0, 1.0 - self.step() / self.noise_steps)
            if std <= 0:
                return x
        if not self.world.enabled:
            return x + std * torch.randn_like(x)
        return x + std * rank_slice(lambda m: torch.randn(m, *x.shape[1:], device=x.device), len(x), self.world).to(x.dtype)

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """x grouped as D judges it, without augmentation or noise (for monitors); a remainder that
        fills no group is dropped."""
        return pack(x[: len(x) // self.pack * self.pack], self.pack)


@dataclass(frozen=True)
class Due:
    """Which lazy regularisers apply at this D step, and the inputs they differentiate at."""

    r1: bool
    r2: bool

    def watch_real(self, x: torch.Tensor) -> torch.Tensor:
        """Real inputs that R1 can differentiate D at (a leaf with requires_grad), when R1 is due."""
        return x.detach().requires_grad_(True) if self.r1 else x

    def watch_fake(self, x: torch.Tensor) -> torch.Tensor:
        return x.detach().requires_grad_(True) if self.r2 else x


class DRegularizers:
    """R1, R2, GP, drift and clipping with their weights and lazy intervals, for any algorithm's D
    update: `due = regs.due(d_steps)`, inputs through `due.watch_*`, then `real_terms` and `fake_terms`
    add to D's loss (and name their values in `stats`), and `after_update(D)` clips."""

    def __init__(self, cfg: Config):
        self.r1, self.r1_every = cfg.r1_weight, cfg.r1_interval
        self.r2, self.r2_every = cfg.r2_weight, cfg.r2_interval
        self.gp, self.drift, self.clip = cfg.gp_weight, cfg.drift_weight, cfg.clip_value

    @property
    def differentiates_twice(self) -> bool:
        """A penalty on D's input gradient (torch.compile cannot differentiate twice)."""
        return self.r1 > 0 or self.r2 > 0 or self.gp > 0

    def due(self, d_steps: int) -> Due:
        return Due(self.r1 > 0 and d_steps % self.r1_every == 0, self.r2 > 0 and d_steps % self.r2_every == 0)

    def real_terms(self, real_logits: torch.Tensor, real_in: torch.Tensor, due: Due, stats: dict):
        """R1 (when due) and drift on the real half: the terms to add to D's loss (0.0 when none)."""
        total = 0.0
        if due.r1:
            stats["Loss/D/r1"] = gradient_norm_penalty(real_logits, real_in)
            total = total + 0.5 * self.r1 * self.r1_every * stats["Loss/D/r1"]
        if self.drift > 0:
            stats["Loss/D/drift"] = drift_penalty(real_logits)
            total = total + self.drift * stats["Loss/D/drift"]
        return total

    def fake_terms(self, fake_logits: torch.Tensor, fake_in: torch.Tensor, due: Due, stats: dict,
                   D: Callable, real_in: torch.Tensor, labels=None):  # fmt: skip
        """R2 (when due) and the gradient penalty (between real_in and fake_in, D called as D(x, labels))."""
        total = 0.0
        if due.r2:
            stats["Loss/D/r2"] = gradient_norm_penalty(fake_logits, fake_in)
            total = total + 0.5 * self.r2 * self.r2_every * stats["Loss/D/r2"]
        if self.gp > 0:
            stats["Loss/D/gp"] = gradient_penalty(D, real_in, fake_in, labels)
            total = total + self.gp * stats["Loss/D/gp"]
        return total

    def after_update(self, D: torch.nn.Module) -> None:
        if self.clip > 0:
            clip_weights(D, self.clip)
