"""The training loop: one loop for every paper, knowing none of them.

    trainer = Trainer(algorithm_class, cfg)      # data, networks, optimizers, EMA, batches
    trainer.train_step()                         # one generator step of the algorithm's updates
    trainer.train(run_dir)                       # train_step until cfg.steps, with ticks, grids, checkpoints

The algorithm (train/algorithm.py) says what one step is: its list of Updates. This loop owns the rest:
devices and the DDP/compile views of the networks, precision (autocast, fp16 loss scaling), the
optimizers and their schedules (one course per network: opt_g, opt_d), G's EMA, statistics (tensors
on the device until a logging tick: no step waits for the device), sample grids, checkpoints (exact
resume), Ctrl-C and SIGTERM, and the monitors. One "step" is one generator update, as in the papers.
The CLI, `lr-find`, the benchmarks and the tests all drive training through `train_step`.
Many processes (torchrun): runtime/distributed.py; the updates call DDP-wrapped views, each rank
trains on its slice of the global batch, and rank 0 alone writes files.
"""
from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import config as config_mod
from ..config import Config
from ..errors import ConfigError, GanforgeError
from ..losses import get_loss
from ..optim.course import build_course
from ..runtime import distributed
from ..runtime.checkpoint import load_into, rng_state, save_checkpoint, set_rng_state
from ..runtime.core_share import thread_policy
from .algorithm import Algorithm, Update, once
from .compile import compile_module
from .d_pipeline import check_switches
from .ema import make_ema
from .monitor import Monitor
from .precision import Precision, resolve_precision
from .stats import JsonlWriter, StatsWindow, finite


class Trainer:
    """Builds data, networks and optimizers for `algorithm` from a Config and trains them in a run folder."""

    def __init__(self, algorithm: type[Algorithm], cfg: Config, resume_state: dict | None = None, progress: bool = True,
                 monitors=()):  # fmt: skip
        # One process: (rank 0 of 1, cfg.device). Under torchrun: this rank's place and device.
        self.world, self.device = distributed.setup(cfg.device)
        self.core_share = thread_policy(cfg.threads, self.device, ranks_share_cores=self.world.enabled)
        # Files, progress and monitors are rank 0's (but monitors that share work over the ranks): the
        # other ranks only train.
        self.cfg, self.progress = cfg, progress and self.world.is_main
        self.run_dir = ""
        self.part = self.world.local_slice(cfg.batch_size)  # this rank's samples of each global batch
        self.local_batch_size = self.part.stop - self.part.start
        seed_everything(cfg.seed)  # the same seed on every rank: the same global draws

        # first: a refused precision builds nothing
        self.precision = Precision(self._precision_to_train_in(cfg, resume_state), self.device)
        self.params = algorithm.parse_params(cfg)  # a bad `algo:` key builds nothing
        check_switches(cfg, algorithm.name, algorithm.supports, get_loss(cfg.loss))  # nor does a dropped switch
        algorithm.check_config(cfg)  # nor a key the algorithm never reads
        self.algorithm = algorithm(self)
        self.data = self.algorithm.build_data()
        memory_format = torch.channels_last if cfg.channels_last else torch.preserve_format
        self.nets = algorithm.build_networks(cfg, self.data.spec())
        for name, net in self.nets.items():
            if cfg.sync_batchnorm:  # BatchNorm over the global batch, as one process would compute it
                net = distributed.sync_batchnorm(net, self.world, self.device)
            # channels_last (NHWC) moves only 4-D weights; state_dict keys and values stay the eager ones.
            self.nets[name] = net.to(self.device, memory_format=memory_format)
        if cfg.ema_half_life and "G" not in self.nets:
            raise ConfigError(f"ema_half_life averages a network named G; the {algorithm.name} algorithm has "
                              f"{', '.join(self.nets)}: remove ema_half_life")  # fmt: skip
        if cfg.ema_start and not cfg.ema_half_life:
            raise ConfigError("ema_start does nothing without ema_half_life")
        self.views: dict[str, torch.nn.Module] = {}
        # Each network's optimizer over training: constant, or a schedule that sets lr and momentum per
        # generator step and may switch optimizer (TTUR, linear decay...): opt_g and opt_d.
        fused = {"fused": cfg.fused_optimizers, "device_type": self.device.type}
        self.courses = {
            "G": build_course(cfg.opt_g, self.algorithm.generator_parameters(), cfg.steps, "g", **fused),
            "D": build_course(cfg.opt_d, self.algorithm.discriminator_parameters(), cfg.steps, "d", **fused),
        }
        self.G_ema = make_ema(self.nets["G"], cfg.ema_half_life) if "G" in self.nets else None
        self.batches = self.algorithm.build_batches(self.data, memory_format)

        self.step = 0  # generator steps done (one G update each, or n_gen)
        self.d_steps = 0  # discriminator updates done
        self.last_good_step = 0  # the newest step whose tick every monitor passed (checkpoints keep one at or before it)
        self._saved_step: int | None = None  # the step this session last checkpointed
        self.algorithm.setup()
        if resume_state is not None:
            self.load_state(resume_state)
        self.updates = self.algorithm.updates()
        repeating = {u.course for u in self.updates if u.repeat is not once}
        if repeating != set(algorithm.repeats):  # the central checks trust the declaration: hold it to the updates
            raise TypeError(f"the {algorithm.name} algorithm declares repeats={set(algorithm.repeats)} but its updates repeat {repeating}")
        self._backward = {course: self._backward_for(course) for course in self.courses}
        self.window = StatsWindow()
        own = self.algorithm.monitors() if self.world.is_main else []
        self.monitors: list[Monitor] = [m for m in [*monitors, *own] if self.world.is_main or m.all_ranks]

    # ---------------------------------------------------------------- the networks as updates call them
    @property
    def course_G(self):
        return self.courses["G"]

    @property
    def course_D(self):
        return self.courses["D"]

    def view(self, name: str, ddp: bool = True, compile: bool | None = None) -> torch.nn.Module:
        """Network `name` as the updates call it: DDP-wrapped under torchrun (unless ddp=False) and
        compiled with cfg.compile (unless compile=False); it shares the bare network's weights, which
        checkpoints, EMA and sampling use. Built once per (name, ddp, compile)."""
        compile = self.cfg.compile if compile is None else compile
        key = f"{name}/{ddp}/{compile}"
        if key not in self.views:
            net = self.nets[name]
            if ddp and self.world.enabled:
                from torch.nn.parallel import DistributedDataParallel as DDP

                device_ids = [self.device.index] if self.device.type == "cuda" else None
                net = DDP(net, device_ids=device_ids, find_unused_parameters=self.algorithm.ddp_find_unused_parameters)
            self.views[key] = compile_module(net, self.device) if compile else net
        return self.views[key]

    def train_view(self, name: str, twice_differentiated: bool = False) -> torch.nn.Module:
        """The view an update trains through. torch.compile (aot_autograd) cannot differentiate twice:
        a net whose input gradient is penalised (GP, R1, R2) runs eager, with a warning."""
        if self.cfg.compile and twice_differentiated:
            warnings.warn(f"compile: {name} stays eager because a gradient penalty differentiates it twice, "
                          "which torch.compile does not support; the other networks are compiled", stacklevel=2)  # fmt: skip
            return self.view(name, compile=False)
        return self.view(name)

    def frozen_view(self, name: str, twice_differentiated: bool = False) -> torch.nn.Module:
        """A network as a frozen judge (G's update calls D so): no DDP (no gradient of its weights needs
        averaging), compiled like its train view."""
        if self.cfg.compile and not self.world.enabled and not twice_differentiated:
            return self.view(name)
        return self.view(name, ddp=False, compile=False if twice_differentiated else None)

    def _precision_to_train_in(self, cfg: Config, resume_state: dict | None) -> str:
        """cfg.precision; but `auto`, resumed, keeps what the checkpoint trained in (a resumed run keeps its
        precision, as any hyperparameter) even on a machine where auto would now pick the other."""
        trained_in = (resume_state or {}).get("precision")  # absent in checkpoints older than this rule
        if cfg.precision != "auto" or trained_in is None:
            return cfg.precision
        here = resolve_precision("auto", self.device)
        if here != trained_in:
            slow = " (emulated here, so slower)" if trained_in == "bf16" else ""
            warnings.warn(f"precision auto: this run trained in {trained_in} and continues in {trained_in}{slow}; on this "
                          f"{self.device.type} auto would pick {here}, which a resumed run cannot switch to", stacklevel=3)  # fmt: skip
        return trained_in

    # ---------------------------------------------------------------- one step
    def _backward_for(self, course: str):
        precision = self.precision

        def backward(loss: torch.Tensor) -> None:
            precision.backward(course, loss)

        return backward

    def run_update(self, update: Update) -> dict:
        """One optimizer step of `update.course`: this step's lr, gradients cleared, the update's loss
        under autocast (its frozen networks without gradients), the step, then its spent gradients
        freed at once (kept, they would sit in memory through the other network's update)."""
        opt = self.courses[update.course].prepare(self.step)
        opt.zero_grad(set_to_none=True)
        frozen = [self.nets[name] for name in update.frozen]
        for net in frozen:
            net.requires_grad_(False)
        try:
            with self.precision.autocast():
                stats = update.run(self._backward[update.course])
        finally:
            for net in frozen:
                net.requires_grad_(True)
        self.precision.step(update.course, opt)
        opt.zero_grad(set_to_none=True)
        if update.after is not None:
            update.after()
        if update.course == "D":
            self.d_steps += 1
        elif self.G_ema is not None and self.step >= self.cfg.ema_start:
            self.G_ema.update_parameters(self.nets["G"])
        return stats

    def train_step(self) -> dict[str, torch.Tensor]:
        """One generator step: the algorithm's updates, each `repeat(step)` times. Returns the step's
        statistics (tensors on the device; a name several updates report is their mean) and adds them
        to the logging window."""
        totals: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        first = self.algorithm.before_step(self.step)
        for stats in ([first] if first else []) + [self.run_update(u) for u in self.updates for _ in range(u.repeat(self.step))]:
            for name, value in stats.items():
                value = value.detach()
                if name in totals:
                    totals[name], counts[name] = totals[name] + value, counts[name] + 1
                else:
                    totals[name], counts[name] = value, 1
        step_stats = {name: total / counts[name] if counts[name] > 1 else total for name, total in totals.items()}
        self.window.add(step_stats)
        self.step += 1
        return step_stats

    def updates_between(self, first: int, stop: int) -> int:
        """Optimizer updates generator steps first..stop-1 run: steps differ in cost (n_critic, and the
        WGAN critic boost that makes the first 25 steps 20 times the usual)."""
        return sum(u.repeat(step) for step in range(first, stop) for u in self.updates)

    # ---------------------------------------------------------------- the loop
    def train(self, run_dir: str) -> "TrainResult":
        """Train until cfg.steps generator steps, writing samples, stats and checkpoints to run_dir. An
        error that stops training goes to every monitor's `on_error` (status.json records it), then on up."""
        try:
            return self._train_to_end(run_dir)
        except Exception as error:  # not Ctrl-C / SIGTERM (Interrupted): that stop saved a checkpoint, and failed nothing
            self._tell_stop("on_error", error)
            raise
        finally:
            if self.core_share is not None:
                self.core_share.restore()

    def _tell_stop(self, hook: str, *args) -> None:
        """Every monitor's `hook` (on_error, on_interrupt) where it has one: a monitor written without
        the Monitor base may lack it. A monitor that fails here is a warning: the stop is what to report."""
        for monitor in self.monitors:
            try:
                if hasattr(monitor, hook):
                    getattr(monitor, hook)(self, *args)
            except Exception as e:
                warnings.warn(f"{type(monitor).__name__} could not record why training stopped: {e}", stacklevel=3)

    def _train_to_end(self, run_dir: str) -> "TrainResult":
        c = self.cfg
        self.run_dir = run_dir
        writes = self.world.is_main  # rank 0 alone writes files
        self.stats_log = JsonlWriter(os.path.join(run_dir, "stats.jsonl")) if writes else None
        if writes:
            os.makedirs(os.path.join(self.run_dir, "samples"), exist_ok=True)
            reals = os.path.join(self.run_dir, "samples", "reals.png")
            if not os.path.exists(reals):
                self.algorithm.save_reals(reals)
        bar = tqdm(
            total=c.steps, initial=self.step, desc=f"{c.preset} {self.data.name}", unit="step",
            disable=not self.progress, dynamic_ncols=True, mininterval=0.5,
        )  # fmt: skip
        last_tick, last_tick_step = time.perf_counter(), self.step
        self.last_good_step = self.step  # the state training starts from loaded (or was built) fine
        final_samples = None
        for monitor in self.monitors:
            monitor.on_start(self)
        settled = (lambda: self.core_share.settled) if self.core_share is not None else (lambda: True)
        eta = EtaNote(self.step, c.steps, c.preset, self.updates_between, ready=settled) if self.progress else None
        with bar, stop_on_signals() as stop:  # the bar closes however training ends
            while self.step < c.steps:
                self.train_step()
                bar.update(1)
                if self.core_share is not None and self.core_share.poll() is not None and self.progress:
                    tqdm.write(self.core_share.note())
                if eta is not None:
                    eta.after_step(self.step)
                if self.step % c.log_every == 0 or self.step == c.steps:
                    now = time.perf_counter()
                    rate = (self.step - last_tick_step) / max(now - last_tick, 1e-9)
                    last_tick, last_tick_step = now, self.step
                    record = self._log_tick(rate)
                    bar.set_postfix_str(self._postfix(record), refresh=False)
                if writes and (self.step % c.sample_every == 0 or self.step == c.steps):
                    final_samples = self.save_sample_grid()
                if writes and (self.step % c.ckpt_every == 0 or self.step == c.steps):
                    if not self.weights_finite():  # never save, nor prune for, a state that cannot train on
                        self._log_tick(0.0, extra={"Weights/finite": float("nan")})
                    self.save_checkpoint()
                if stop.requested:  # Ctrl-C / SIGTERM: stop between steps, so the checkpoint resumes exactly
                    if writes:
                        path = self.save_checkpoint()
                        tqdm.write(f"\n{stop.signal_name} at step {self.step}; saved {path}\n"
                                   f"continue with: ganforge train --resume {self.run_dir}")  # fmt: skip
                    self._tell_stop("on_interrupt", stop.signal_name)  # after the save: "interrupted" means resumable
                    raise Interrupted(stop.signum)
        if final_samples is None and writes:  # resumed at the end already: nothing trained
            final_samples = self.save_sample_grid()
        for monitor in self.monitors:
            monitor.on_end(self)
        return TrainResult(self.run_dir, self.step, final_samples)

    def _log_tick(self, rate: float, extra: dict | None = None) -> dict:
        # Every rank's window, averaged over the ranks (one all-reduce per tick): losses of the global batch.
        values = distributed.mean_over_ranks(self.window.flush(), self.world, self.device)
        values.update(extra or {})
        lrs = {f"LR/{net}": course.optimizer.param_groups[0]["lr"] for net, course in self.courses.items()}
        record = {"step": self.step, "d_steps": self.d_steps, "it/s": round(rate, 3), **values, **lrs}
        if self.core_share is not None:
            record["threads"] = self.core_share.threads
        try:  # monitors add entries (health, diagnoses, Eval/...) or stop training (the divergence guard)
            for monitor in self.monitors:
                monitor.on_tick(self, record)
        finally:
            if self.stats_log is not None:
                self.stats_log.write(record)  # the tick that stopped training is logged too
        if not finite(values):  # a bare Trainer without the divergence guard: never train on NaN
            raise GanforgeError(f"training diverged at step {self.step}: non-finite losses; lower the learning rates")
        self.last_good_step = self.step  # every monitor passed this tick
        return record

    @staticmethod
    def _postfix(record: dict) -> str:
        short = {"Loss/D": "D", "Loss/G": "G", "D(x)": "D(x)", "D(G(z))": "D(G(z))"}
        text = " ".join(f"{label} {record[key]:.3f}" for key, label in short.items() if key in record)
        return f"{text} {record['health']}" if record.get("health") else text

    # ---------------------------------------------------------------- what monitors and grids see
    @property
    def G(self) -> torch.nn.Module | None:
        """The generator the monitors watch (the algorithm's "G", or what it names so)."""
        return self.nets.get(getattr(self.algorithm, "watched_G", "G"))

    @property
    def D(self) -> torch.nn.Module | None:
        return self.nets.get(getattr(self.algorithm, "watched_D", "D"))

    def sampling_generator(self) -> torch.nn.Module:
        """G as samples show it: its EMA copy once averaging has begun."""
        if self.G_ema is not None and int(self.G_ema.n_averaged) > 0:
            return self.G_ema.module
        return self.nets["G"]

    def fixed_samples(self) -> torch.Tensor:
        return self.algorithm.fixed_samples()

    @property
    def n_fixed_samples(self) -> int:
        return self.algorithm.n_fixed_samples()

    @property
    def fixed_c(self) -> torch.Tensor | None:
        """The classes of the fixed samples (class-conditional G), else None."""
        return getattr(self.algorithm, "fixed_c", None)

    def samples(self, n: int, seed: int, batch_size: int = 256) -> torch.Tensor:
        return self.algorithm.samples(n, seed, batch_size)

    def d_logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.algorithm.d_logits(x, labels)

    def save_sample_grid(self) -> str:
        return self.algorithm.save_grid(os.path.join(self.run_dir, "samples"), self.step)

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {
            "kind": "gan",
            "algorithm": self.algorithm.name,
            "config": config_mod.to_dict(self.cfg),
            "data_spec": self.data.spec().to_dict(),
            "step": self.step,
            "d_steps": self.d_steps,
            "nets": {name: net.state_dict() for name, net in self.nets.items()},
            "extra": self.algorithm.extra_state(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else {},
            "opt_G": self.courses["G"].state_dict(),
            "opt_D": self.courses["D"].state_dict(),
            "batches": self.batches.state_dict(),
            "rng": rng_state(),
            "precision": self.precision.name,  # what `auto` chose: a resume keeps it
            **self.precision.state_dict(),  # scaler_G, scaler_D under fp16
        }

    def load_state(self, state: dict) -> None:
        self.step, self.d_steps = state["step"], state["d_steps"]
        for name, net in self.nets.items():
            load_into(net, state["nets"][name], f"network {name}")
        self.algorithm.load_extra_state(state["extra"])
        if self.G_ema is not None and state["G_ema"]:
            self.G_ema.load_state_dict(state["G_ema"])
        self.courses["G"].load_state_dict(state["opt_G"])
        self.courses["D"].load_state_dict(state["opt_D"])
        self.batches.load_state_dict(state["batches"])
        self.precision.load_state_dict(state)
        set_rng_state(state["rng"])

    def weights_finite(self) -> bool:
        """Every network's weights finite (one reduction per network, at checkpoint steps only)."""
        return all(bool(torch.isfinite(torch.cat([p.detach().flatten() for p in net.parameters()])).all())
                   for net in self.nets.values() if any(True for _ in net.parameters()))  # fmt: skip

    def save_checkpoint(self) -> str:
        """Save this step's state (once per step in a session; a file a killed session left at this
        step is replaced by it), keeping the newest checkpoint at or before the last good tick."""
        folder = os.path.join(self.run_dir, "checkpoints")
        if self._saved_step == self.step:
            return os.path.join(folder, f"ckpt-{self.step:07d}.pt")
        path = save_checkpoint(self.state_dict(), folder, self.step, keep=self.cfg.keep_checkpoints, protect_step=self.last_good_step)
        self._saved_step = self.step
        return path


def no_sync(view: torch.nn.Module):
    """DDP's no_sync() for a training view (a backward inside it accumulates gradients without the
    all-reduce; the step's last backward averages the sum); a plain context for a module without DDP."""
    ddp = getattr(view, "_orig_mod", view)  # under torch.compile, the DDP module it wraps
    return ddp.no_sync() if isinstance(ddp, torch.nn.parallel.DistributedDataParallel) else contextlib.nullcontext()


def format_duration(seconds: float) -> str:
    """6 h 50 min, 4 min, 40 s."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{max(1, round(seconds))} s"


class EtaNote:
    """Once the first steps are timed, one line saying what the whole run will cost on this machine
    (the progress bar's remaining time is easy to miss when it reads hours), and for a full preset the
    CPU-sized version of its paper. The timed steps' cost per optimizer update is scaled by the updates
    the rest of the run makes (`updates_between`), since steps differ in cost. The timing spans at least
    TIMED steps and SECONDS of wall time: five fast steps are too short a sample (the default demo's
    first five, 0.15 s, foretold anything from 4 to 6 minutes of a run that took 4). It begins once
    `ready()` says the speed is the one the run will keep: after the CoreShare's first verdict, since a
    run started beside busy programs trains on threads that fight them until then (the demo beside
    `make test`, timed from its start, foretold 58 minutes of a run that took 6)."""

    WARMUP, TIMED, SECONDS = 1, 5, 2.0  # steps not timed (allocation, lazy set-up); the least timed

    def __init__(self, step: int, steps: int, preset: str, updates_between: Callable[[int, int], int],
                 clock: Callable[[], float] = time.perf_counter, ready: Callable[[], bool] = lambda: True):  # fmt: skip
        self.first, self.steps, self.preset, self.t0, self.said = step + self.WARMUP, steps, preset, None, False
        self.updates_between, self.clock, self.ready = updates_between, clock, ready

    def after_step(self, step: int) -> None:
        if self.said or step < self.first:
            return
        if self.t0 is None:
            if self.ready():
                self.first, self.t0 = step, self.clock()
            return
        elapsed = self.clock() - self.t0
        if step < self.first + self.TIMED or elapsed < self.SECONDS:
            return
        from ..presets import demo_of

        per_update = elapsed / self.updates_between(self.first, step)
        demo = demo_of(self.preset)
        hint = f"; `--preset {demo}` is its CPU-sized version" if demo else ""
        tqdm.write(f"about {format_duration(per_update * self.updates_between(step, self.steps))} more for the "
                   f"{self.steps - step:,} steps left, on this machine{hint}")  # fmt: skip
        self.said = True


class Interrupted(KeyboardInterrupt):
    """Training stopped on a signal after saving; `exit_code` is the shell's 128 + signal number (130
    for Ctrl-C, 143 for SIGTERM), what schedulers expect of a process they asked to stop."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.exit_code = 128 + signum


class stop_on_signals:
    """Turns the first Ctrl-C (SIGINT) or SIGTERM (what Slurm and Kubernetes send before killing) into a
    request to stop after the current step; a second one stops at once. Only in the main thread,
    where Python delivers signals."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.requested, self.signal_name, self.signum = False, "", 0
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested, self.signum = True, signum
        self.signal_name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\n{self.signal_name}: stopping after this step and saving a checkpoint (again to stop now)")

    def __exit__(self, *exc):
        for s, previous in self._previous.items():
            signal.signal(s, previous)
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
