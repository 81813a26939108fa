"""What a paper is to the training loop: an `Algorithm`.

An algorithm declares, readable next to its paper's Algorithm box:
  - `Params`: a dataclass of its own hyperparameters (config `algo:`), checked strictly;
  - `build_networks(cfg, spec)`: its networks by name ("G" is the one EMA averages and sampling uses);
  - `latent(cfg, n)`: G's input distribution;
  - `updates()`: its list of `Update`s, each one optimizer step of G's or D's course, repeated
    `repeat(step)` times per generator step, with the networks it freezes;
  - `supports`: the switches of ganforge.train.d_pipeline its updates apply (the rest are refused);
  - `extra_state()` / `load_extra_state()`: state of its own to checkpoint.
The loop (train/loop.py) owns everything else: devices, DDP/compile views, precision, optimizers and
their schedules, EMA, ticks, grids, checkpoints, resume, signals, monitors. An update's `run(backward)`
computes its loss under the loop's autocast and calls `backward(loss)` (once, or once per half of a
split loss); the loop clears gradients before, steps the optimizer after, and counts it.

Class methods serve a trained run without a loop (`ganforge generate`, `load_run`): `build_networks`,
`latent`, `latent_labels`, `generate`. Instance methods run inside a loop (`self.trainer`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import torch

from .. import config as config_mod
from ..config import Config
from ..data import DataInfo, DataSpec, get_dataset, limit_dataset, random_items
from ..data.cache import cache_decoded_images
from ..errors import ConfigError
from .batches import BatchStream
from .sampling import call_G, evaluating, latent_labels, rank_slice, sample_in_chunks, truncating
from .samples import save_samples


def once(step: int) -> int:
    return 1


@dataclass(frozen=True)
class Update:
    """One optimizer step of the network(s) of `course` ("G" or "D": opt_g or opt_d), run `repeat(step)`
    times per generator step. `run(backward)` returns its statistics; `frozen` networks get no gradient
    during it (G's update freezes D); `after()` runs after the optimizer step (weight clipping)."""

    course: str
    run: Callable[[Callable[[torch.Tensor], None]], dict]
    repeat: Callable[[int], int] = once
    frozen: tuple[str, ...] = ()
    after: Callable[[], None] | None = None


# Keys that choose how often a course updates: an algorithm whose updates of that course do not repeat
# would ignore them, so they are refused there.
REPEAT_KEYS = {"n_critic": "D", "critic_boost_steps": "D", "critic_boost_every": "D", "n_gen": "G"}


class Algorithm:
    name = ""
    description = ""
    Params = None  # a dataclass of the algorithm's own hyperparameters (config `algo:`); None: takes none
    supports: frozenset = frozenset()  # switch keys (train.d_pipeline.SWITCHES) its updates apply
    repeats: frozenset = frozenset()  # courses ("D", "G") whose updates repeat n_critic / n_gen times
    ignores: frozenset = frozenset()  # config keys (dotted) its networks and updates never read: refused when set
    ddp_find_unused_parameters = False  # some weights sit out some steps (ProGAN's blocks above the stage)

    # ------------------------------------------------------------------ a run without a loop
    @classmethod
    def parse_params(cls, cfg: Config):
        """cfg.algo checked against Params: an unknown key is an error naming the valid ones."""
        if cls.Params is None:
            if cfg.algo:
                raise ConfigError(f"the {cls.name} algorithm takes no algo.* keys; got {', '.join(cfg.algo)}")
            return None
        return config_mod.merge(cls.Params(), cfg.algo, "algo.")

    @classmethod
    def build_networks(cls, cfg: Config, spec: DataSpec) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    @classmethod
    def builders(cls, cfg: Config) -> dict:
        """{"g": G's builder, "d": D's builder}: the functions whose keyword options model.g / model.d are."""
        raise NotImplementedError

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        """Refuse a key this algorithm never reads (set to other than its default), and n_critic /
        n_gen / the critic boost where its updates of that course do not repeat."""
        defaults = config_mod.Config()
        for key in sorted(cls.ignores):
            value, default = cfg, defaults
            for part in key.split("."):
                value, default = getattr(value, part), getattr(default, part)
            if value != default:
                raise ConfigError(f"the {cls.name} algorithm does not use {key}; remove it (default {default!r})")
        if cfg.drs_percentile and not cls.rejection_sampling:
            raise ConfigError(f"drs_percentile: the {cls.name} algorithm has no discriminator rejection sampling "
                              "(the gan algorithm has); remove it")  # fmt: skip
        for key, course in REPEAT_KEYS.items():
            value = getattr(cfg, key)
            if value != getattr(defaults, key) and course not in cls.repeats:
                raise ConfigError(f"the {cls.name} algorithm updates each network once a step; {key}={value} applies to "
                                  "the gan family of algorithms (gan, infogan, began, progan)")  # fmt: skip
        if cfg.critic_boost_n_critic != defaults.critic_boost_n_critic and not (cfg.critic_boost_steps or cfg.critic_boost_every):
            raise ConfigError("critic_boost_n_critic does nothing without critic_boost_steps or critic_boost_every")

    @classmethod
    def latent(cls, cfg: Config, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """G's input for n samples: N(0, I) of model.z_dim, from `generator` (or the global RNG on `device`)."""
        return torch.randn(n, cfg.model.z_dim, generator=generator, device=device)

    @classmethod
    def latent_labels(cls, cfg: Config, num_classes: int, n: int, class_: int | None = None) -> torch.Tensor | None:
        return latent_labels(bool(cfg.model.conditional_g), num_classes, n, class_)

    @classmethod
    def generate(cls, run, n: int, seed: int = 0, batch_size: int = 256, **options) -> torch.Tensor:
        """n samples of a loaded run (`ganforge generate`, `ganforge eval`); the same seed gives the same
        samples. Options: `class_`, the class of every sample (class-conditional runs); `truncation`, psi
        of the truncation trick (train/sampling.py `truncating`: StyleGAN2's average w, BigGAN's truncated
        z); `rejection`, False for G's own samples where the run's config asks for discriminator rejection
        sampling (drs_percentile)."""
        class_ = options.pop("class_", None)
        psi = options.pop("truncation", None)
        rejection = options.pop("rejection", True) and run.config.drs_percentile > 0
        if options:
            raise ConfigError(f"the {cls.name} algorithm takes no generate options ({', '.join(options)})")
        labels = cls.latent_labels(run.config, run.num_classes, n, class_)
        device = next(run.G.parameters()).device
        with truncating(run.G, psi, model=run.config.model.name) as trick:

            def sample(draws: torch.Generator, classes: torch.Tensor | None, m: int) -> torch.Tensor:
                # A trick that redraws z (BigGAN's) continues the seed's draws, so the same seed gives the same samples.
                z = trick.latent(cls.latent(run.config, m, generator=draws), draws)
                return sample_in_chunks(run.G, z, classes, device, batch_size)

            draws = torch.Generator().manual_seed(seed)
            if not rejection:
                return sample(draws, labels, n)
            return cls.rejection_sample(run, sample, labels, n, draws, batch_size)

    # Discriminator rejection sampling (train/rejection.py): the calibration's sample sizes. The reals are
    # a fixed subset of the training images and the fakes a fixed draw, so every call on a run calibrates alike.
    CALIBRATION_N = 2000
    CALIBRATION_SEED = 2**20 + 1
    rejection_sampling = False  # the algorithm can score a run's samples with its D (d_scores)

    @classmethod
    def d_scores(cls, run, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The (N,) scores of a loaded run's D ("real" high) for images x of classes `labels`."""
        raise NotImplementedError

    @classmethod
    def rejection_sample(cls, run, sample, labels, n: int, draws: torch.Generator, batch_size: int) -> torch.Tensor:
        """n samples by discriminator rejection sampling (Azadi et al. 2019): D calibrated on real
        training images against a fixed draw of G, then each sample drawn until D's verdict keeps it.
        `sample(generator, classes, m)`: m samples of G for those classes."""
        from . import rejection

        cfg = run.config
        device = next(run.G.parameters()).device

        def score(x: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
            with torch.no_grad(), evaluating(run.D):
                return torch.cat([
                    cls.d_scores(run, chunk.to(device), None if c is None else c.to(device)).float().cpu().flatten()
                    for chunk, c in zip(x.split(batch_size), classes.split(batch_size) if classes is not None else [None] * len(x))
                ])  # fmt: skip

        data = get_dataset(cfg.data, "train", cfg.image_size, cfg.channels, cfg.data_root,
                           skip_bad_images=cfg.skip_bad_images, data_limit=cfg.data_limit)
        real_x, real_c = random_items(data, cls.CALIBRATION_N, seed=0)
        real_c = real_c.long() if labels is not None else None
        fake_c = cls.latent_labels(cfg, run.num_classes, len(real_x))
        fakes = sample(torch.Generator().manual_seed(cls.CALIBRATION_SEED), fake_c, len(real_x))
        calibration = rejection.calibrate(score(real_x, real_c), score(fakes, fake_c), cfg.drs_percentile)
        images, stats = rejection.rejection_sample(
            lambda slots: sample(draws, None if labels is None else labels[slots], len(slots)),
            lambda x, slots: score(x, None if labels is None else labels[slots]),
            n, calibration, draws,
        )  # fmt: skip
        if stats.unfilled:
            warnings.warn(f"discriminator rejection sampling: D kept none of {rejection.MAX_DRAWS} draws for {stats.unfilled} of "
                          f"{n} samples; those are the draws D rated highest (a lower drs_percentile keeps more)", stacklevel=2)  # fmt: skip
        return images

    # ------------------------------------------------------------------ inside a loop
    def __init__(self, trainer):
        self.trainer = trainer
        self.cfg: Config = trainer.cfg
        self.params = trainer.params

    def build_data(self) -> DataInfo:
        """The training data (the loop's `data`: its spec builds the networks), cut to `data_limit` after
        any caching, so one cached folder serves every limit."""
        c = self.cfg
        data = get_dataset(c.data, "train", c.image_size, c.channels, c.data_root, skip_bad_images=c.skip_bad_images)
        return limit_dataset(cache_decoded_images(data) if c.cache_images else data, c.data_limit)

    def build_batches(self, data: DataInfo, memory_format):
        t, c = self.trainer, self.cfg
        return BatchStream(
            data.dataset, c.batch_size, c.seed, t.device, c.workers, pin_memory=c.pin_memory,
            prefetch_factor=c.prefetch_factor, part=t.part,
            memory_format=memory_format if data.kind == "image" else torch.preserve_format,
        )  # fmt: skip

    def setup(self) -> None:
        """State of the algorithm's own, once the loop has built data, networks and optimizers."""

    def updates(self) -> list[Update]:
        raise NotImplementedError

    def before_step(self, step: int) -> dict | None:
        """Called before the updates of each generator step; may return statistics."""
        return None

    def generator_parameters(self) -> list:
        """What G's course (opt_g) updates."""
        return list(self.trainer.nets["G"].parameters())

    def discriminator_parameters(self) -> list:
        """What D's course (opt_d) updates."""
        return list(self.trainer.nets["D"].parameters())

    def extra_state(self) -> dict:
        """State of the algorithm's own to checkpoint (tensors, numbers, lists, dicts)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def monitors(self) -> list:
        """Monitors of the algorithm's own (rank 0), after the run's."""
        return []

    # ------------------------------------------------------------------ what the grids and monitors see
    def noise(self, n: int) -> torch.Tensor:
        """This rank's n rows of a global draw of G's input (`latent`) on the device."""
        t = self.trainer
        return rank_slice(lambda m: self.latent(self.cfg, m, device=t.device), n, t.world)

    def fixed_inputs(self) -> None:
        """The fixed noise (and classes) of the sample grids, from its own generator: drawing it touches
        no RNG that training uses."""
        t, c = self.trainer, self.cfg
        fixed = torch.Generator().manual_seed(c.seed + 2**20)
        self.fixed_z = self.latent(c, c.n_samples, generator=fixed).to(t.device)
        labels = self.latent_labels(c, t.data.num_classes, c.n_samples)  # class k in grid row k
        self.fixed_c = labels.to(t.device) if labels is not None else None

    def n_fixed_samples(self) -> int:
        return self.cfg.n_samples

    @torch.no_grad()
    def fixed_samples(self) -> torch.Tensor:
        """The sampling generator's images for the fixed noise, in eval mode (BatchNorm running
        statistics): what the grids show; no training state changes. Monitors use it too."""
        with evaluating(self.trainer.sampling_generator()) as G:
            return call_G(G, self.fixed_z, self.fixed_c)

    @torch.no_grad()
    def samples(self, n: int, seed: int, batch_size: int = 256) -> torch.Tensor:
        """n samples (on the CPU) of the sampling generator in eval mode, from `latent`'s draw for
        `seed`: what in-training evaluation scores. No training state or RNG changes. Under torchrun
        every rank must call it: each draws the same n codes, generates its part and gets them all."""
        from ..runtime.distributed import gather_rows

        t = self.trainer
        z = self.latent(self.cfg, n, generator=torch.Generator().manual_seed(seed))
        labels = self.sample_classes(n)
        with evaluating(t.sampling_generator()) as G:

            def generate(rows: torch.Tensor) -> torch.Tensor:  # this rank's rows of the n draws
                return sample_in_chunks(G, z[rows], None if labels is None else labels[rows], t.device, batch_size)

            return gather_rows(generate, torch.arange(n), t.world, t.device)

    def sample_classes(self, n: int) -> torch.Tensor | None:
        """The (n,) classes `samples(n, ...)` asks of a class-conditional G, None when G is not: those
        `ganforge generate` and `ganforge eval` draw (`latent_labels`), whatever the seed."""
        return self.latent_labels(self.cfg, self.trainer.data.num_classes, n)

    def save_grid(self, folder: str, step: int) -> str:
        """The fixed samples' grid for `step` in `folder`; returns its path."""
        import os

        path = os.path.join(folder, f"step-{step:07d}.png")
        t = self.trainer
        reference = t.data.dataset.images[:2000] if t.data.kind == "points" else None
        save_samples(self.fixed_samples(), path, reference=reference)
        return path

    def save_reals(self, path: str) -> None:
        t = self.trainer
        if t.data.kind == "image":
            n = min(self.cfg.n_samples, len(t.data.dataset))
            save_samples(torch.stack([t.data.dataset[i][0] for i in range(n)]), path)
        else:
            save_samples(t.data.dataset.images[:2000], path, label="data")

    def d_logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's logits for x as training presents it, for monitors (no augmentation or noise)."""
        raise NotImplementedError
