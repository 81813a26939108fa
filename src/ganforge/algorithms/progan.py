"""The `progan` algorithm: Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for
Improved Quality, Stability, and Variation" (arXiv:1710.10196), with the nets of ganforge.nets.progan.

Training starts at 4x4 and grows through a schedule of resolutions (sec. 2, appendix A.1):
  stage 0 (4x4):   stabilise for `stable` steps
  stage s (r x r): fade the new blocks in for `fade` steps (alpha = t / fade rising linearly from 0),
                   then stabilise for `stable` steps (alpha = 1)
The schedule is counted in generator steps (the paper counts images shown to D: steps = kimg * 1000 /
batch_size, one D step per G step), either uniform as the paper's, `algo.fade_steps` / `algo.stable_steps`
for every resolution from 4x4 up to the data's size (the last stabilises until `steps`), or per
resolution, `algo.schedule: [{res: 4, stable: N}, {res: 8, fade: N, stable: N}, ...]` ending at the
data's size (the last entry's `stable` may be left out: it lasts until `steps`). Stage and alpha are a
pure function of the step (`Growth.at`), so resuming needs no state of its own.
Each step, before D's and G's phases ("grow" phase):
  - G, D and G's EMA copy are set to the step's (stage, alpha) (buffers kept in their state_dicts);
  - at the first step of every fade and every stabilisation, Adam's moments are reset, as the official
    code does (`reset_opt_for_new_lod`: whenever floor(lod) or ceil(lod) changes).
D's phase (WGAN-GP, sec. A.1 / Gulrajani et al. 2017, n_critic 1):
  reals are average-pooled to r x r and, during a fade, blended as the official code does:
     x = lerp(upsample(avgpool(x_r)), x_r, alpha)   (the reals fade in like G's output)
  min_D  E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x_hat)||_2 - 1)^2] + eps_drift E[D(x)^2]
  with lambda = gp_weight (10) and eps_drift = drift_weight (0.001; sec. A.1 "to keep D's output near 0").
G's phase: min_G -E[D(G(z))] at the current (stage, alpha).
The loss comes from `loss:` (wasserstein in the presets), the penalty and the drift term from `gp_weight`
and `drift_weight`, through the gan algorithm's shared regularisers (train/d_pipeline.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..config import Config
from ..data import DataSpec
from ..errors import ConfigError
from ..nets.progan import reachable_sizes, stage_resolution
from .gan import GAN
from . import ALGORITHMS


@dataclass
class ProGANParams:
    fade_steps: int = 0  # the paper's uniform schedule: every resolution from 8x8 up fades in over this many steps...
    stable_steps: int = 0  # ...and every resolution stabilises this long (the last one until `steps`)
    schedule: list[dict] = field(default_factory=list)  # or each resolution's own: [{res, fade, stable}], 4 up to the data's size
    reset_optimizers: bool = True  # clear Adam's moments when a fade or a stabilisation begins (official code)


@dataclass(frozen=True)
class GrowthPhase:
    stage: int
    start: int  # first generator step of the phase
    steps: int | None  # None: until the end of training
    fading: bool


class Growth:
    """The schedule as a list of phases; `at(step)` -> (stage, alpha)."""

    def __init__(self, phases: list[GrowthPhase]):
        self.phases = phases

    def phase_at(self, step: int) -> GrowthPhase:
        current = self.phases[0]
        for phase in self.phases:
            if phase.start <= step:
                current = phase
        return current

    def at(self, step: int) -> tuple[int, float]:
        phase = self.phase_at(step)
        alpha = (step - phase.start) / phase.steps if phase.fading else 1.0
        return phase.stage, alpha

    def starts_phase(self, step: int) -> bool:
        """True at the first step of a fade or stabilisation after the first (where Adam resets)."""
        return step > 0 and any(p.start == step for p in self.phases)

    @property
    def full_size_step(self) -> int:
        """The step at which the last stage runs at alpha = 1."""
        last = self.phases[-1]
        return last.start + (last.steps if last.fading else 0)


def build_growth(params: ProGANParams, size: int) -> Growth:
    """The run's growth from `algo.*`: the uniform fade_steps / stable_steps or the explicit schedule."""
    uniform = params.fade_steps or params.stable_steps
    if uniform and params.schedule:
        raise ConfigError("give either algo.fade_steps / algo.stable_steps (every resolution alike) or algo.schedule, not both")
    if not uniform:
        return parse_schedule(params.schedule, size)
    if params.fade_steps <= 0 or params.stable_steps <= 0:
        raise ConfigError(f"algo.fade_steps and algo.stable_steps must both be positive; got {params.fade_steps}, {params.stable_steps}")
    check_side(size)
    sides = [r for r in reachable_sizes() if r <= size]
    entries = [{"res": r, "fade": params.fade_steps if r > 4 else 0, "stable": params.stable_steps} for r in sides]
    entries[-1].pop("stable")  # the last resolution trains until `steps`
    return parse_schedule(entries, size)


def check_side(size: int) -> None:
    reachable = reachable_sizes()
    if size not in reachable:
        raise ConfigError(
            f"progan grows from 4x4 by doublings: the data's side must be one of {', '.join(map(str, reachable))}; "
            f"got {size} (set image_size, e.g. image_size={min((r for r in reachable if r >= size), default=1024)})"
        )


def parse_schedule(entries: list, size: int) -> Growth:
    """`algo.schedule` for images of side `size`, checked: resolutions 4, 8, ... up to `size`, each
    (but 4) with a positive `fade`, every `stable` positive (the last may be left out)."""
    check_side(size)
    reachable = reachable_sizes()
    wanted = [r for r in reachable if r <= size]
    example = ", ".join(["{res: 4, stable: N}"] + [f"{{res: {r}, fade: N, stable: N}}" for r in wanted[1:]])
    if not entries:
        raise ConfigError(
            f"progan needs its growth schedule: algo.fade_steps and algo.stable_steps, or for {size}x{size} data "
            f"algo.schedule: [{example}] (N in generator steps)"
        )
    got = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "res" not in entry:
            raise ConfigError(f"algo.schedule[{i}] must be a mapping with res, fade, stable; got {entry!r}")
        unknown = set(entry) - {"res", "fade", "stable"}
        if unknown:
            raise ConfigError(f"algo.schedule[{i}] has unknown keys {sorted(unknown)}; valid: res, fade, stable")
        got.append(entry["res"])
    if got != wanted:
        raise ConfigError(
            f"algo.schedule's resolutions must grow 4, 8, 16, ... to the data's {size}x{size}: "
            f"{', '.join(map(str, wanted))}; got {', '.join(map(str, got))} (reachable sides: {', '.join(map(str, reachable))})"
        )
    phases, start = [], 0
    for stage, entry in enumerate(entries):
        last = stage == len(entries) - 1
        fade, stable = entry.get("fade", 0), entry.get("stable")
        if stage == 0 and fade:
            raise ConfigError("algo.schedule[0] (4x4) has nothing to fade in; give it `stable` only")
        if stage > 0 and not (isinstance(fade, int) and fade > 0):
            raise ConfigError(f"algo.schedule[{stage}] ({entry['res']}x{entry['res']}) needs fade: a positive number of steps; got {fade!r}")
        if stable is None and not last:
            raise ConfigError(f"algo.schedule[{stage}] needs stable: N steps (only the last entry may leave it out)")
        if stable is not None and not (isinstance(stable, int) and stable > 0):
            raise ConfigError(f"algo.schedule[{stage}].stable must be a positive number of steps; got {stable!r}")
        if fade:
            phases.append(GrowthPhase(stage, start, fade, fading=True))
            start += fade
        phases.append(GrowthPhase(stage, start, stable, fading=False))
        start += stable or 0
    return Growth(phases)


def reals_at(real: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
    """Real images as D sees them at (stage, alpha): average-pooled to the stage's resolution r and,
    during a fade, blended with their r/2 version upsampled (nearest), as G's output is."""
    res = stage_resolution(stage)
    x = F.avg_pool2d(real, real.shape[-1] // res) if real.shape[-1] > res else real
    if stage > 0 and alpha < 1:
        x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"), x, alpha)
    return x


@ALGORITHMS.register("progan")
class ProGAN(GAN):
    """The gan algorithm at a growing resolution: before each step the networks (and G's EMA copy) are
    set to the step's (stage, alpha), reals are pooled to it, and G and D are called at it."""

    name = "progan"
    rejection_sampling = False  # discriminator rejection sampling: its D works at the growing stage's resolution and fade
    description = "progressive growing from 4x4 with fade-in, WGAN-GP + drift (Karras et al. 2018)"
    Params = ProGANParams
    # Packing and class conditioning are not built into the progan nets' growth.
    supports = GAN.supports - {"pack", "pl_weight", "pl_interval"}  # its growing G has no mapping network's ws
    # The blocks above the current stage (and the old toRGB/fromRGB once a fade is over) get no
    # gradient until the net grows: DDP must be told some weights sit out a step.
    ddp_find_unused_parameters = True

    @classmethod
    def build_networks(cls, cfg: Config, spec: DataSpec) -> dict[str, torch.nn.Module]:
        if cfg.model.name != "progan":
            raise ConfigError(f"the progan algorithm grows the progan model; set model.name=progan (got {cfg.model.name})")
        conditional = [f"model.{key}" for key in ("conditional_g", "conditional_d") if getattr(cfg.model, key)]
        if conditional:
            raise ConfigError(f"the progan algorithm does not implement {', '.join(conditional)}; turn them off")
        nets = super().build_networks(cfg, spec)  # the family refuses sides it cannot reach
        build_growth(cls.parse_params(cfg), spec.shape[-1])
        return nets

    def setup(self) -> None:
        super().setup()
        self.growth = build_growth(self.params, self.trainer.data.spec().shape[-1])
        self.apply_growth(self.trainer.step)  # samples before the first step show this step's stage

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)  # the D pipeline's (ADA's p)
        self.apply_growth(self.trainer.step)  # stage and alpha are a pure function of the step

    def apply_growth(self, step: int) -> None:
        t = self.trainer
        self.stage, self.alpha = self.growth.at(step)
        for net in [t.nets["G"], t.nets["D"]] + ([t.G_ema.module] if t.G_ema is not None else []):
            net.set_growth(self.stage, self.alpha)

    def before_step(self, step: int) -> dict:
        """Grow: this step's (stage, alpha); at the first step of every fade and stabilisation, Adam's
        moments start afresh, as the official code does (`reset_opt_for_new_lod`)."""
        self.apply_growth(step)
        if self.params.reset_optimizers and self.growth.starts_phase(step):
            for course in self.trainer.courses.values():
                course.optimizer.state.clear()
        return {"Growth/res": torch.tensor(float(stage_resolution(self.stage))), "Growth/alpha": torch.tensor(self.alpha)}

    def real_batch(self):
        real, labels = super().real_batch()
        return reals_at(real, self.stage, self.alpha), labels

    def call_G(self, G, z, labels):
        return G(z, labels, self.stage, self.alpha)

    def call_D(self, D, x, labels, side="real"):
        return D(x, labels, self.stage, self.alpha), None

    def d_logits(self, x, labels=None):
        """D's logits for full-size x as training presents it at this step: pooled to the stage."""
        return self.call_D(self.trainer.D, reals_at(x, self.stage, self.alpha), None)[0]
