"""The GAN training loop.

A paper's algorithm is a list of phases (`Trainer.algorithm`): for every generator step,
  D phase x n_critic:  maximise the paper's D objective on a real batch and a generated batch
                       (+ its regularizer: gradient penalty, lazy R1, or weight clipping after the step)
  G phase x n_gen:     minimise the paper's G objective through a frozen D
Losses own the maths (ganforge.losses); this loop owns devices, backward, stepping, EMA, statistics,
sample grids and checkpoints. One "step" is one generator update, as in the papers (n_gen > 1, as
DCGAN-tensorflow's two, makes it n_gen updates).
Speed options keep to small modules: precision.py (autocast, fp16 loss scaling), compile.py
(torch.compile), the fused optimizers of optim.py and the data pipeline of batches.py. Statistics stay
tensors on the device until a logging tick: no step waits for the device.
Many processes (torchrun): distributed.py; the steps call DDP-wrapped G_train/D_train, each rank trains
on its slice of the global batch, and rank 0 alone writes files.
"""
from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import config as config_mod
from ..config import Config
from ..data import DataInfo, DataSpec, get_dataset
from ..data.cache import cache_decoded_images
from ..errors import ConfigError, GanforgeError
from ..losses import LOSSES, clip_weights, get_loss, gradient_penalty, r1_penalty
from ..nets import build_models
from ..runtime import distributed
from .batches import BatchStream
from ..runtime.checkpoint import list_checkpoints, rng_state, save_checkpoint, set_rng_state
from .compile import compile_module
from .diffaugment import diff_augment, parse_policy
from .ema import make_ema
from .monitor import Monitor
from ..optim.optimizers import build_course
from .packing import check_pack, pack
from .precision import Precision
from .samples import save_samples
from .stats import JsonlWriter, StatsWindow, finite


@dataclass
class Phase:
    """One network update of the algorithm, run `repeat(step)` times per generator step."""

    name: str
    run: Callable[[], dict]
    repeat: Callable[[int], int] = lambda step: 1


class Trainer:
    """Builds data, networks and optimizers from a Config and trains them in a run folder.

    This class is also the `gan` algorithm (Goodfellow et al. 2014 and every paper that keeps its
    one-G-one-D loop: DCGAN, LSGAN, WGAN(-GP), SNGAN...); other papers subclass it."""

    name = "gan"
    description = "one G, one D, k D-steps per G-step (Goodfellow et al. 2014; DCGAN, LSGAN, WGAN, WGAN-GP)"

    def __init__(self, cfg: Config, resume_state: dict | None = None, progress: bool = True, monitors=()):
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        # One process: (rank 0 of 1, cfg.device). Under torchrun: this rank's place and device.
        self.world, self.device = distributed.setup(cfg.device)
        # Files, progress and monitors are rank 0's (but monitors that share work over the ranks): the
        # other ranks only train.
        self.cfg, self.progress = cfg, progress and self.world.is_main
        self.monitors: list[Monitor] = [m for m in monitors if self.world.is_main or m.all_ranks]
        self.run_dir = ""
        self.part = self.world.local_slice(cfg.batch_size)  # this rank's samples of each global batch
        self.local_batch_size = self.part.stop - self.part.start
        seed_everything(cfg.seed)  # the same seed on every rank: the same global draws

        self.precision = Precision(cfg.precision, self.device)  # first: a refused precision builds nothing

        self.params = self.parse_params(cfg)  # first: a bad `algo:` key builds nothing
        self.data = self.build_data()
        self.check_d_input()  # pack, diffaugment: a bad value builds nothing
        self.loss = get_loss(cfg.loss)
        memory_format = torch.channels_last if cfg.channels_last else torch.preserve_format
        self.nets = self.build_networks(cfg, self.data.spec())
        for name, net in self.nets.items():
            if cfg.sync_batchnorm:  # BatchNorm over the global batch, as one process would compute it
                net = distributed.sync_batchnorm(net, self.world, self.device)
            # channels_last (NHWC) moves only 4-D weights; state_dict keys and values stay the eager ones.
            self.nets[name] = net.to(self.device, memory_format=memory_format)
        self.setup_networks()
        # Each side's optimizer over training: constant, or phases (schedule_g / schedule_d) that
        # set lr and momentum per generator step and may switch optimizer (TTUR, linear decay...).
        fused = {"fused": cfg.fused_optimizers, "device_type": self.device.type}
        self.course_G = build_course(cfg.opt_g, cfg.schedule_g, self.generator_parameters(), cfg.steps, "g", **fused)
        self.course_D = build_course(cfg.opt_d, cfg.schedule_d, self.discriminator_parameters(), cfg.steps, "d", **fused)
        self.G_ema = make_ema(self.nets["G"], cfg.ema_half_life) if "G" in self.nets else None
        self.batches = self.build_batches(self.data, memory_format)
        # The fixed noise of the sample grids comes from its own generator: drawing it touches no RNG
        # that training uses.
        fixed = torch.Generator().manual_seed(cfg.seed + 2**20)
        self.fixed_z = self.latent(cfg, cfg.n_samples, generator=fixed).to(self.device)
        self.fixed_c = self.latent_labels(cfg, self.data.num_classes, cfg.n_samples)  # class k in grid row k
        self.fixed_c = self.fixed_c.to(self.device) if self.fixed_c is not None else None

        self.step = 0  # generator steps done (one G update each, or n_gen)
        self.d_steps = 0  # discriminator updates done
        self._last_fake: torch.Tensor | None = None
        self._last_fake_labels: torch.Tensor | None = None
        if resume_state is not None:
            self.load_state(resume_state)

        self.window = StatsWindow()
        self.phases = self.algorithm()
        self.check_update_counts()

    # ---------------------------------------------------------------- what an algorithm may override
    # A paper is a subclass registered in ganforge.algorithms: its Params (the `algo:` keys),
    # its networks, its data, its latent input, its phases and any state of its own. The loop below
    # (train, logging, samples, checkpoints, monitors) is the same for every paper.
    Params = None  # a dataclass of the algorithm's own hyperparameters (config `algo:`); None: takes none

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
        """The algorithm's networks by name. "G" (when present) is the one EMA averages and sampling uses."""
        G, D = build_models(cfg.model, spec.shape, spec.kind, spec.num_classes, pack=cfg.pack)
        return {"G": G, "D": D}

    @classmethod
    def latent(cls, cfg: Config, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """G's input for n samples, drawn from `generator` (CPU): the fixed grids' noise and `generate`'s."""
        return torch.randn(n, cfg.model.z_dim, generator=generator)

    @classmethod
    def latent_labels(cls, cfg: Config, num_classes: int, n: int, class_: int | None = None) -> torch.Tensor | None:
        """The classes of n samples of a class-conditional G (None when G is not conditional): all
        `class_`, or row by row as the sample grids lay them out (row r of a sqrt(n)-wide grid: class
        r mod K), so a grid shows the classes in order and a long draw is near-balanced."""
        if not cfg.model.conditional_g:
            if class_ is not None:
                raise ConfigError("a class was asked for, but this run's generator is not class-conditional (model.conditional_g)")
            return None
        if class_ is None:
            per_row = max(1, int(n**0.5))
            return (torch.arange(n) // per_row) % num_classes
        if not 0 <= class_ < num_classes:
            raise ConfigError(f"class {class_} is out of range: this run's classes are 0..{num_classes - 1}")
        return torch.full((n,), class_, dtype=torch.long)

    @classmethod
    def generate(cls, run, n: int, seed: int = 0, batch_size: int = 256, **options) -> torch.Tensor:
        """n samples of a loaded run (`ganforge generate`); the same seed gives the same samples.
        Option `class_`: the class of every sample (class-conditional runs)."""
        class_ = options.pop("class_", None)
        if options:
            raise ConfigError(f"the {cls.name} algorithm takes no generate options ({', '.join(options)})")
        labels = cls.latent_labels(run.config, run.num_classes, n, class_)
        z = cls.latent(run.config, n, generator=torch.Generator().manual_seed(seed))
        return sample_in_chunks(run.G, z, labels, next(run.G.parameters()).device, batch_size)

    def build_data(self) -> DataInfo:
        c = self.cfg
        data = get_dataset(c.data, "train", c.image_size, c.channels, c.data_root)
        return cache_decoded_images(data) if c.cache_images else data

    def build_batches(self, data: DataInfo, memory_format) -> BatchStream:
        c = self.cfg
        return BatchStream(
            data.dataset, c.batch_size, c.seed, self.device, c.workers,
            pin_memory=c.pin_memory, prefetch_factor=c.prefetch_factor,
            memory_format=memory_format if data.kind == "image" else torch.preserve_format, part=self.part,
        )  # fmt: skip

    def setup_networks(self) -> None:
        """Name the networks the steps use. The steps call G_train/D_train: DDP wrappers (many
        processes) and/or compiled ones (cfg.compile), sharing G's and D's weights; checkpoints, EMA and
        sampling use the bare G and D. G's phase calls D_frozen, D without DDP: D is frozen there, so
        no gradient of D's needs averaging."""
        self.G, self.D = self.nets["G"], self.nets["D"]
        # torch.compile (aot_autograd) cannot differentiate twice: with a gradient penalty or R1, D
        # runs eager (G is still compiled) rather than failing in the first D step.
        compile_D = self.cfg.compile and not (self.cfg.gp_weight > 0 or self.cfg.r1_weight > 0)
        if self.cfg.compile and not compile_D:
            warnings.warn("compile: D stays eager because its gradient/R1 penalty differentiates twice, "
                          "which torch.compile does not support; G is compiled", stacklevel=2)
        self.G_train, self.D_train = self.train_view(self.G), self.train_view(self.D, compile=compile_D)
        self.D_frozen = self.D_train if self.cfg.compile and not self.world.enabled else self.train_view(self.D, ddp=False, compile=compile_D)

    def train_view(self, net: torch.nn.Module, ddp: bool = True, compile: bool | None = None) -> torch.nn.Module:
        """`net` as the training steps call it: DDP-wrapped under torchrun (unless ddp=False) and
        compiled with cfg.compile (unless compile=False); it shares `net`'s weights."""
        return self.compiled(distributed.wrap(net, self.world, self.device) if ddp else net, compile)

    def compiled(self, view: torch.nn.Module, compile: bool | None = None) -> torch.nn.Module:
        """`view` under torch.compile when `compile` (default: cfg.compile) asks for it."""
        return compile_module(view, self.device) if (self.cfg.compile if compile is None else compile) else view

    def generator_parameters(self):
        """What G's optimizer (opt_g, schedule_g) updates."""
        return list(self.nets["G"].parameters())

    def discriminator_parameters(self):
        """What D's optimizer (opt_d, schedule_d) updates."""
        return list(self.nets["D"].parameters())

    def extra_state(self) -> dict:
        """State of the algorithm's own to checkpoint (tensors, numbers, lists, dicts)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    # ---------------------------------------------------------------- the algorithm
    def algorithm(self) -> list[Phase]:
        """Goodfellow et al. 2014, Algorithm 1: k steps of D, then one step of G."""
        if type(self).d_step is Trainer.d_step and not self.loss.separable:  # it back-propagates D's halves one by one
            raise ConfigError(f"loss '{self.loss.name}' belongs to its own algorithm; the gan algorithm takes "
                              "a loss of a real and a generated term: " + ", ".join(n for n in LOSSES.list() if LOSSES.get(n).separable))
        return [Phase("D", self.d_step, repeat=self.critic_steps), Phase("G", self.g_step, repeat=self.generator_steps)]

    def check_update_counts(self) -> None:
        """n_critic and n_gen are at least 1, and an algorithm whose phases do not repeat (CycleGAN's,
        pix2pix's: each update needs the other's batch) is not asked to: it would ignore them."""
        repeats = {phase.repeat for phase in self.phases}
        for key, repeat in (("n_critic", self.critic_steps), ("n_gen", self.generator_steps)):
            n = getattr(self.cfg, key)
            if n < 1:
                raise ConfigError(f"{key} counts updates per step and must be at least 1; got {n}")
            if n != 1 and repeat not in repeats:
                raise ConfigError(f"the {self.name} algorithm updates each network once a step; {key}={n} applies to "
                                  "the gan family of algorithms (gan, infogan, began, progan)")

    def generator_steps(self, step: int) -> int:
        """n_gen: G updates per step. The second and later draw fresh noise (reuse_fake serves the first)."""
        return self.cfg.n_gen

    def critic_steps(self, step: int) -> int:
        """n_critic, or the WGAN reference code's boost: 100 critic steps for the first 25 generator
        steps and every 500th, so the critic stays near optimal."""
        c = self.cfg
        boosted = (c.critic_boost_steps and step < c.critic_boost_steps) or (
            c.critic_boost_every and step % c.critic_boost_every == 0
        )
        return c.critic_boost_n_critic if boosted else c.n_critic

    def noise(self, n: int) -> torch.Tensor:
        return self.randn_local(n, self.cfg.model.z_dim)

    def fake_labels(self, n: int) -> torch.Tensor | None:
        """Classes for n generated samples of a class-conditional G, uniform over the K classes and
        drawn rank-aware as randn_local; None when G is not conditional (no RNG is touched)."""
        if not self.cfg.model.conditional_g:
            return None
        K = self.data.num_classes
        if not self.world.enabled:
            return torch.randint(K, (n,), device=self.device)
        draw = torch.randint(K, (n * self.world.world_size,), device=self.device)
        return draw[self.world.rank * n : (self.world.rank + 1) * n]

    def rand_local(self, n: int, *shape: int) -> torch.Tensor:
        """U[0, 1) counterpart of randn_local (DiffAugment's draws)."""
        if not self.world.enabled:
            return torch.rand(n, *shape, device=self.device)
        draw = torch.rand(n * self.world.world_size, *shape, device=self.device)
        return draw[self.world.rank * n : (self.world.rank + 1) * n]

    def check_d_input(self) -> None:
        """pack must divide this rank's batch; DiffAugment's policies must exist and the data be images."""
        check_pack(self.cfg.pack, self.local_batch_size)
        self.augment_policy = parse_policy(self.cfg.diffaugment)
        if self.augment_policy and self.data.kind != "image":
            raise ConfigError(f"diffaugment augments images; the {self.data.name} data are {self.data.kind}")

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees of a batch, real or generated alike: DiffAugment (Zhao et al. 2020), instance
        noise, then PacGAN's packing (groups of cfg.pack samples stacked along channels)."""
        if self.augment_policy:
            x = diff_augment(x, self.augment_policy, self.rand_local)
        return pack(self.instance_noise(x), self.cfg.pack)

    def call_D(self, D, x: torch.Tensor, labels: torch.Tensor | None):
        """(D's logits, its class logits or None): ACGAN's D (model.conditional_d=acgan) classifies x
        too; a conditional D gets the labels."""
        if self.cfg.model.conditional_d == "acgan":
            return D(x, classes=True)
        return (D(x) if labels is None else D(x, labels)), None

    def d_logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's logits for x as training presents it, for monitors: packed (PacGAN; a remainder that
        fills no group is dropped), with the labels for a conditional D, no augmentation or noise."""
        m = self.cfg.pack
        x = pack(x[: len(x) // m * m], m)
        if not self.cfg.model.conditional_d:
            labels = None
        elif labels is not None:
            labels = labels.to(x.device)
        return self.call_D(self.D, x, labels)[0]

    def randn_local(self, n: int, *shape: int) -> torch.Tensor:
        """This rank's n rows of a global (n x world_size, *shape) normal draw: every rank draws the
        whole of it (keeping the RNGs in step) and the ranks' parts together are one process's draw."""
        if not self.world.enabled:
            return torch.randn(n, *shape, device=self.device)
        draw = torch.randn(n * self.world.world_size, *shape, device=self.device)
        return draw[self.world.rank * n : (self.world.rank + 1) * n]

    def instance_noise(self, x: torch.Tensor) -> torch.Tensor:
        """Sønderby et al. 2016 / Arjovsky & Bottou 2017: blur both distributions with Gaussian noise
        so their supports overlap; annealed linearly to zero over instance_noise_steps."""
        c = self.cfg
        if c.instance_noise <= 0:
            return x
        std = c.instance_noise
        if c.instance_noise_steps:
            std *= max(0.0, 1.0 - self.step / c.instance_noise_steps)
        if std <= 0:
            return x
        return x + std * (self.randn_local(*x.shape).to(x.dtype) if self.world.enabled else torch.randn_like(x))

    def d_step(self) -> dict:
        """maximise log D(x) + log(1 - D(G(z))) (or the chosen loss's D objective); ACGAN adds the
        class log-likelihood of real and generated images (Odena et al. 2017, L_C).

        D's loss is a real term plus a generated term (every loss, penalty and class term here is), so
        the real half is back-propagated before G runs, as pytorch/examples does: its activations are
        freed before the generated half's exist. (The gradient is the same sum; under DDP the first
        backward skips the all-reduce and the second averages both.)"""
        c = self.cfg
        real, real_labels = self.batches.next()
        z = self.noise(len(real))
        fake_labels = self.fake_labels(len(real))  # None unless G is class-conditional
        real_labels = real_labels if fake_labels is not None else None
        G, D = self.G_train, self.D_train
        opt_D = self.begin_update(self.course_D)
        r1_due = c.r1_weight > 0 and self.d_steps % c.r1_interval == 0
        with no_sync(D), self.precision.autocast():
            real_in = self.d_input(real)
            if r1_due:
                real_in = real_in.detach().requires_grad_(True)
            real_logits, real_classes = self.call_D(D, real_in, real_labels)
            real_loss = self.loss.d_real(real_logits, 1.0 - c.label_smoothing)
            real_total, stats = real_loss, {}
            if real_classes is not None:
                real_class_loss = F.cross_entropy(real_classes.float(), real_labels)
                real_total = real_total + c.class_loss_weight * real_class_loss
            if r1_due:
                # Lazy regularization (Karras et al. 2020): every k-th step, scaled by k.
                stats["Loss/D/r1"] = r1_penalty(real_logits, real_in)
                real_total = real_total + 0.5 * c.r1_weight * c.r1_interval * stats["Loss/D/r1"]
            self.precision.backward("D", real_total)
        real_logits, real_in = real_logits.detach(), real_in.detach()
        with self.precision.autocast():
            if c.reuse_fake:  # keep G's graph: the G phase reuses this batch (as pytorch/examples does)
                fake = call_G(G, z, fake_labels)
                self._last_fake, self._last_fake_labels = fake, fake_labels
            else:
                with torch.no_grad():
                    fake = call_G(G, z, fake_labels)
            fake_in = self.d_input(fake.detach())
            fake_logits, fake_classes = self.call_D(D, fake_in, fake_labels)
            out = self.loss.d_terms(real_loss.detach(), self.loss.d_fake(fake_logits))
            fake_total = out["fake"]
            stats["Loss/D"] = out["loss"].detach()
            if real_classes is not None:
                fake_class_loss = F.cross_entropy(fake_classes.float(), fake_labels)
                fake_total = fake_total + c.class_loss_weight * fake_class_loss
                stats["Loss/D/class"] = real_class_loss.detach() + fake_class_loss.detach()
            if c.gp_weight > 0:
                stats["Loss/D/gp"] = gradient_penalty(D, real_in, fake_in, real_labels)
                fake_total = fake_total + c.gp_weight * stats["Loss/D/gp"]
            self.precision.backward("D", fake_total)
        self.finish_update("D", opt_D)
        self.d_steps += 1
        if c.clip_value > 0:
            clip_weights(self.D, c.clip_value)
        stats["D(x)"], stats["D(G(z))"] = self._d_output(real_logits), self._d_output(fake_logits.detach())
        if "wasserstein" in out:
            stats["Wasserstein"] = out["wasserstein"]
        return stats

    def g_step(self) -> dict:
        """minimise the G objective (non-saturating: maximise log D(G(z))) with D frozen; ACGAN's G
        also makes its images recognisable as their classes (minimises the class loss)."""
        fake, self._last_fake = self._last_fake, None
        fake_labels, self._last_fake_labels = self._last_fake_labels, None

        def objective():
            nonlocal fake, fake_labels
            if fake is None:
                z = self.noise(self.local_batch_size)
                fake_labels = self.fake_labels(self.local_batch_size)
                fake = call_G(self.G_train, z, fake_labels)
            fake_logits, fake_classes = self.call_D(self.D_frozen, self.d_input(fake), fake_labels)
            out = self.loss.g(fake_logits)
            loss, stats = out["loss"], {"Loss/G": out["loss"]}
            if fake_classes is not None:
                stats["Loss/G/class"] = F.cross_entropy(fake_classes.float(), fake_labels)
                loss = loss + self.cfg.class_loss_weight * stats["Loss/G/class"]
            return loss, stats

        return self.update_G(objective)

    def begin_update(self, course) -> torch.optim.Optimizer:
        """The optimizer of `course` (a network's schedule) with this step's lr, its gradients cleared."""
        opt = course.prepare(self.step)
        opt.zero_grad(set_to_none=True)
        return opt

    def finish_update(self, net: str, opt: torch.optim.Optimizer) -> None:
        """Step `net`'s ('G'/'D') optimizer, then free the spent gradients at once: kept until the next
        update they would sit in memory through the other network's phase."""
        self.precision.step(net, opt)
        opt.zero_grad(set_to_none=True)

    def update_D(self, loss: torch.Tensor) -> None:
        """One step of D's optimizer on `loss` (this step's lr from its course); counts D updates.
        Every algorithm's D phase goes through here (the gan d_step through its two halves)."""
        opt_D = self.begin_update(self.course_D)
        self.precision.backward("D", loss)
        self.finish_update("D", opt_D)
        self.d_steps += 1

    def update_G(self, objective: Callable[[], tuple[torch.Tensor, dict]]) -> dict:
        """One step of G's optimizer on `objective()` -> (loss, stats), computed under autocast with D
        frozen (no gradients for D's weights in G's phase: less work), then the EMA of G. Every
        algorithm's G phase goes through here."""
        opt_G = self.begin_update(self.course_G)
        self.D.requires_grad_(False)
        try:
            with self.precision.autocast():
                loss, stats = objective()
            self.precision.backward("G", loss)
        finally:
            self.D.requires_grad_(True)
        self.finish_update("G", opt_G)
        if self.G_ema is not None and self.step >= self.cfg.ema_start:
            self.G_ema.update_parameters(self.G)
        return stats

    def _d_output(self, logits: torch.Tensor) -> torch.Tensor:
        """D's mean verdict: a probability for BCE losses, the raw score for critics."""
        return (torch.sigmoid(logits) if self.loss.probabilistic else logits).mean().detach()

    # ---------------------------------------------------------------- the loop
    def train(self, run_dir: str) -> "TrainResult":
        """Train until cfg.steps generator steps, writing samples, stats and checkpoints to run_dir."""
        c = self.cfg
        self.run_dir = run_dir
        writes = self.world.is_main  # rank 0 alone writes files
        self.stats_log = JsonlWriter(os.path.join(run_dir, "stats.jsonl")) if writes else None
        if writes:
            os.makedirs(os.path.join(self.run_dir, "samples"), exist_ok=True)
            self._save_reals()
        bar = tqdm(
            total=c.steps, initial=self.step, desc=f"{c.preset} {self.data.name}", unit="step",
            disable=not self.progress, dynamic_ncols=True, mininterval=0.5,
        )  # fmt: skip
        last_tick, last_tick_step = time.perf_counter(), self.step
        final_samples = None
        for monitor in self.monitors:
            monitor.on_start(self)
        with bar, stop_on_ctrl_c() as stop:  # the bar closes however training ends
            while self.step < c.steps:
                for phase in self.phases:
                    for _ in range(phase.repeat(self.step)):
                        self.window.add(phase.run())
                self.step += 1
                bar.update(1)
                if self.step % c.log_every == 0 or self.step == c.steps:
                    now = time.perf_counter()
                    rate = (self.step - last_tick_step) / max(now - last_tick, 1e-9)
                    last_tick, last_tick_step = now, self.step
                    record = self._log_tick(rate)
                    bar.set_postfix_str(self._postfix(record), refresh=False)
                if writes and (self.step % c.sample_every == 0 or self.step == c.steps):
                    final_samples = self.save_sample_grid()
                if writes and (self.step % c.ckpt_every == 0 or self.step == c.steps):
                    self.save_checkpoint()
                if stop.requested:  # Ctrl-C: stop between steps, so the checkpoint resumes exactly
                    if writes:
                        path = self.save_checkpoint()
                        tqdm.write(f"\ninterrupted at step {self.step}; saved {path}\ncontinue with: ganforge train --resume {self.run_dir}")
                    raise KeyboardInterrupt
        if final_samples is None and writes:  # resumed at the end already: nothing trained
            final_samples = self.save_sample_grid()
        for monitor in self.monitors:
            monitor.on_end(self)
        return TrainResult(self.run_dir, self.step, final_samples)

    def _log_tick(self, rate: float) -> dict:
        # Every rank's window, averaged over the ranks (one all-reduce per tick): losses of the global batch.
        values = distributed.mean_over_ranks(self.window.flush(), self.world, self.device)
        lrs = {f"LR/{net}": c.optimizer.param_groups[0]["lr"] for net, c in (("G", self.course_G), ("D", self.course_D))}
        record = {"step": self.step, "d_steps": self.d_steps, "it/s": round(rate, 3), **values, **lrs}
        try:  # monitors add entries (health, diagnoses, Eval/...) or stop training (the divergence guard)
            for monitor in self.monitors:
                monitor.on_tick(self, record)
        finally:
            if self.stats_log is not None:
                self.stats_log.write(record)  # the tick that stopped training is logged too
        if not finite(values):  # a bare Trainer without the divergence guard: never train on NaN
            raise GanforgeError(f"training diverged at step {self.step}: non-finite losses; lower the learning rates")
        return record

    @staticmethod
    def _postfix(record: dict) -> str:
        short = {"Loss/D": "D", "Loss/G": "G", "D(x)": "D(x)", "D(G(z))": "D(G(z))"}
        text = " ".join(f"{label} {record[key]:.3f}" for key, label in short.items() if key in record)
        return f"{text} {record['health']}" if record.get("health") else text

    # ---------------------------------------------------------------- outputs
    def sampling_generator(self) -> torch.nn.Module:
        """G as samples show it: its EMA copy once averaging has begun."""
        if self.G_ema is not None and int(self.G_ema.n_averaged) > 0:
            return self.G_ema.module
        return self.nets["G"]

    @torch.no_grad()
    def fixed_samples(self) -> torch.Tensor:
        """The sampling generator's images for the fixed noise, in eval mode (BatchNorm running
        statistics): what the grids show, and no training state changes. Monitors use it too."""
        with evaluating(self.sampling_generator()) as G:
            return call_G(G, self.fixed_z, self.fixed_c)

    @torch.no_grad()
    def samples(self, n: int, seed: int, batch_size: int = 256) -> torch.Tensor:
        """n samples (on the CPU) of the sampling generator in eval mode, from `latent`'s draw for
        `seed`: what in-training evaluation scores. No training state or RNG changes. Under torchrun
        every rank must call it: each draws the same n codes, generates its part and gets them all."""
        z = self.latent(self.cfg, n, generator=torch.Generator().manual_seed(seed))
        labels = self.latent_labels(self.cfg, self.data.num_classes, n)
        with evaluating(self.sampling_generator()) as G:

            def generate(rows: torch.Tensor) -> torch.Tensor:  # this rank's rows of the n draws
                return sample_in_chunks(G, z[rows], None if labels is None else labels[rows], self.device, batch_size)

            return distributed.gather_rows(generate, torch.arange(n), self.world, self.device)

    def save_sample_grid(self) -> str:
        samples = self.fixed_samples()
        path = os.path.join(self.run_dir, "samples", f"step-{self.step:07d}.png")
        save_samples(samples, path, reference=self._reference_points())
        return path

    def _reference_points(self):
        return self.data.dataset.images[:2000] if self.data.kind == "points" else None

    def _save_reals(self) -> None:
        path = os.path.join(self.run_dir, "samples", "reals.png")
        if not os.path.exists(path):
            n = min(self.cfg.n_samples, len(self.data.dataset))
            reals = torch.stack([self.data.dataset[i][0] for i in range(n)]) if self.data.kind == "image" else self.data.dataset.images[:2000]
            save_samples(reals, path)

    def state_dict(self) -> dict:
        return {
            "kind": "gan",
            "algorithm": self.name,
            "config": config_mod.to_dict(self.cfg),
            "data_spec": self.data.spec().to_dict(),
            "step": self.step,
            "d_steps": self.d_steps,
            "nets": {name: net.state_dict() for name, net in self.nets.items()},
            "extra": self.extra_state(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else {},
            "opt_G": self.course_G.state_dict(),
            "opt_D": self.course_D.state_dict(),
            "batches": self.batches.state_dict(),
            "rng": rng_state(),
            **self.precision.state_dict(),  # scaler_G, scaler_D under fp16
        }

    def load_state(self, state: dict) -> None:
        for name, net in self.nets.items():
            net.load_state_dict(state["nets"][name])
        self.load_extra_state(state["extra"])
        if self.G_ema is not None and state["G_ema"]:
            self.G_ema.load_state_dict(state["G_ema"])
        self.course_G.load_state_dict(state["opt_G"])
        self.course_D.load_state_dict(state["opt_D"])
        self.batches.load_state_dict(state["batches"])
        self.precision.load_state_dict(state)
        self.step, self.d_steps = state["step"], state["d_steps"]
        set_rng_state(state["rng"])

    def save_checkpoint(self) -> str:
        folder = os.path.join(self.run_dir, "checkpoints")
        existing = dict(list_checkpoints(folder))
        if self.step in existing:
            return existing[self.step]
        return save_checkpoint(self.state_dict(), folder, self.step, keep=self.cfg.keep_checkpoints)


def no_sync(view: torch.nn.Module):
    """DDP's no_sync() for a training view (a backward inside it accumulates gradients without the
    all-reduce; the step's last backward averages the sum); a plain context for a module without DDP."""
    ddp = getattr(view, "_orig_mod", view)  # under torch.compile, the DDP module it wraps
    return ddp.no_sync() if isinstance(ddp, torch.nn.parallel.DistributedDataParallel) else contextlib.nullcontext()


def call_G(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """G(z), or G(z, labels) for a class-conditional G (an unconditional G is called as it always was)."""
    return G(z) if labels is None else G(z, labels)


@torch.no_grad()
def sample_in_chunks(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None, device, batch_size: int) -> torch.Tensor:
    """G's float32 images (on the CPU) for CPU draws z (and classes), batch_size at a time on `device`:
    what `generate` and in-training evaluation sample."""
    label_chunks = labels.split(batch_size) if labels is not None else [None] * len(z)
    return torch.cat([
        call_G(G, chunk.to(device), None if c is None else c.to(device)).float().cpu()
        for chunk, c in zip(z.split(batch_size), label_chunks)
    ])  # fmt: skip


class evaluating:
    """`with evaluating(net) as net:` runs net in eval mode and restores its mode afterwards."""

    def __init__(self, net: torch.nn.Module):
        self.net, self.was_training = net, net.training

    def __enter__(self) -> torch.nn.Module:
        self.net.eval()
        return self.net

    def __exit__(self, *exc):
        self.net.train(self.was_training)
        return False


class stop_on_ctrl_c:
    """Turns the first Ctrl-C into a request to stop after the current step (a second one stops at
    once). Only in the main thread, where Python delivers signals."""

    def __enter__(self):
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after this step and saving a checkpoint (Ctrl-C again to stop now)")

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


@dataclass
class TrainResult:
    run_dir: str
    step: int
    final_samples: str


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
