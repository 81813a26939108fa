"""Starting, resuming and loading runs: what `ganforge train` and `generate` do, for the API too.

    trainer = build_trainer(cfg)            # the config's algorithm in the training loop
    result = train(cfg)                     # a new numbered run folder, trained to cfg.steps
    result = resume("runs/00007-dcgan-mnist5k", [{"steps": 6000}])
    run = load_run("runs/00007-dcgan-mnist5k"); images = generate(run, 64)
    chosen = select_checkpoints("runs/00007-dcgan-mnist5k", "1000:5000:1000")   # [(1000, "1000"), ...]
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch

from . import config as config_mod
from .config import RESUMABLE_KEYS, Config
from .devices import resolve_device
from .errors import CheckpointError, ConfigError
from .data import DataSpec
from .algorithms import get_algorithm
from .runtime import distributed
from .runtime.checkpoint import list_checkpoints, load_checkpoint, load_into, remove_stale_temp_files
from .runtime.rundir import RunLock, claim_run_dir, new_run_dir, refuse_existing_run, require_run_dir, slug
from .stored import from_stored
from .train.ema import make_ema
from .train.loop import Trainer, TrainResult

DEFAULT_RUNS_ROOT = "runs"


def build_trainer(cfg: Config, resume_state: dict | None = None, progress: bool = True, monitors=()) -> Trainer:
    """The training loop for cfg's algorithm (`algorithm:`), with `monitors` (none by default)."""
    return Trainer(get_algorithm(cfg.algorithm), cfg, resume_state=resume_state, progress=progress, monitors=monitors)


def train(
    cfg: Config, out: str | None = None, runs_root: str = DEFAULT_RUNS_ROOT, progress: bool = True, monitors=()
) -> TrainResult:
    """Train a new run. `out` names its folder (refused if it exists); by default runs/NNNNN-preset-data.

    The config's monitors (ganforge.monitors.default_monitors) always run; `monitors` are added after them.
    """
    # Build everything before claiming a folder, so a bad config leaves no empty run behind.
    config_mod.check_evaluation_keys(cfg)
    run_dir = out if out else None
    if run_dir is not None:
        refuse_existing_run(run_dir)
    trainer = build_trainer(cfg, progress=progress, monitors=_monitors(cfg, monitors))
    if trainer.world.is_main:  # many processes (torchrun): rank 0 alone makes and writes the run folder
        run_dir = claim_run_dir(run_dir) if run_dir else new_run_dir(runs_root, cfg.preset, slug(cfg.data))
        config_mod.write_yaml(cfg, os.path.join(run_dir, "config.yaml"))
    return _train(trainer, run_dir or "")


# After a divergence (RUN/diverged.json, written by the divergence guard), these may change on resume too:
# the levers that get a run out of it. Not the optimizer's name: its saved state belongs to its kind.
RECOVERY_KEYS = {"opt_g", "opt_d", "gp_weight", "r1_weight", "r1_interval", "r2_weight", "r2_interval", "drift_weight",
                 "pl_weight", "pl_interval", "clip_value", "n_critic", "label_smoothing", "instance_noise", "instance_noise_steps"}  # fmt: skip
DIVERGED = "diverged.json"
HISTORY = "config-history.jsonl"


def resume(run_dir: str, overrides: list[dict] = (), progress: bool = True, monitors=()) -> TrainResult:
    """Continue a run from its latest checkpoint. Only bookkeeping keys (and `steps`, forward) may change;
    after a divergence, the recovery levers too (RECOVERY_KEYS), each change recorded in the run's
    config-history.jsonl."""
    cfg, state, changes, diverged = prepare_resume(run_dir, overrides)
    trainer = build_trainer(cfg, resume_state=state, progress=progress, monitors=_monitors(cfg, monitors))
    if trainer.world.is_main:
        config_mod.write_yaml(cfg, os.path.join(run_dir, "config.yaml"))
        recovery = [d for d in changes if d.split(":")[0].split(".")[0] not in RESUMABLE_KEYS]
        if recovery or diverged:
            _append_history(run_dir, {"step": state["step"], "changed": recovery, "after_divergence": diverged or None})
            os.remove(os.path.join(run_dir, DIVERGED))
    return _train(trainer, run_dir)


def prepare_resume(run_dir: str, overrides: list[dict] = ()) -> tuple[Config, dict, list[str], dict]:
    """Everything a resume checks before it trains: (the run's config with the overrides, the latest
    checkpoint's state, the changes, the divergence marker or {})."""
    require_run_dir(run_dir)
    path = latest_checkpoint(run_dir)
    state = load_checkpoint(path)
    cfg = stored_config(state, path)
    before = config_mod.to_dict(cfg)
    for override in overrides:
        config_mod.merge(cfg, override)
    changes = config_mod.differences(before, config_mod.to_dict(cfg))
    diverged = _read_json(os.path.join(run_dir, DIVERGED))
    allowed = RESUMABLE_KEYS | (RECOVERY_KEYS if diverged else set())
    refused = [d for d in changes if d.split(":")[0].split(".")[0] not in allowed or d.startswith(("opt_g.name", "opt_d.name"))]
    if refused:
        after = "" if diverged else "; after a divergence, also " + ", ".join(sorted(RECOVERY_KEYS))
        raise ConfigError(
            "a resumed run keeps its hyperparameters; these differ from the checkpoint: " + "; ".join(refused)
            + f". Only {', '.join(sorted(allowed))} may change{after} (or start a new run)."
        )
    check_steps_change(cfg, before["steps"], state["step"])
    # An eval_* key set now must be read; one the stored run already holds is left as it was trained with.
    config_mod.check_evaluation_keys(cfg, keys={d.split(":")[0].split(".")[0] for d in changes})
    return cfg, state, changes, diverged


def stored_config(state: dict, path: str) -> Config:
    """The checkpoint's config, upgraded from older keys; one that cannot be read is a CheckpointError."""
    try:
        return from_stored(state["config"])
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{path} holds a config this ganforge cannot read ({e}); retrain the run") from None


def check_steps_change(cfg: Config, steps_before: int, step_now: int) -> None:
    """`steps` may grow on resume, never fall below the step the run is at; and not where a schedule's
    length follows `steps` (a course that names none): a longer run would reshape the lr already trained."""
    if cfg.steps < step_now:
        raise ConfigError(f"the run is at step {step_now}; --steps {cfg.steps} would train nothing (steps counts from the "
                          f"run's start: give more than {step_now}, or leave it out)")  # fmt: skip
    if cfg.steps != steps_before:
        for who in ("g", "d"):
            spec = getattr(cfg, f"opt_{who}").schedule
            if isinstance(spec, dict) and not {"steps", "epochs"} & set(spec):
                raise ConfigError(
                    f"opt_{who}.schedule ({spec.get('kind')}) spans the run's steps ({steps_before}): resuming to {cfg.steps} "
                    f"would reshape the learning rate the run has already trained with. Resume without --steps, or "
                    f"start a new run with --steps {cfg.steps}"
                )


def _read_json(path: str) -> dict:
    import json

    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _append_history(run_dir: str, entry: dict) -> None:
    import json
    import time

    with open(os.path.join(run_dir, HISTORY), "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **entry}) + "\n")


def _train(trainer: Trainer, run_dir: str) -> TrainResult:
    """Train, holding the run's lock (a second process cannot train the same run at once; temporary
    files a killed save left are removed under it); under torchrun, wait for every rank at the end
    and leave the process group. (On an error the process exits without waiting: torchrun then stops
    the other ranks.)"""
    lock = None
    if trainer.world.is_main and run_dir:
        lock = RunLock(run_dir)
        stale = remove_stale_temp_files(os.path.join(run_dir, "checkpoints"))
        if stale:
            print(f"removed {len(stale)} temporary file(s) an interrupted save left in {run_dir}/checkpoints")
    try:
        result = trainer.train(run_dir)
    finally:
        if lock is not None:
            lock.release()
    distributed.teardown()
    return result


def _monitors(cfg: Config, extra) -> list:
    """The config's own monitors (divergence guard, health checks, evaluation), then the caller's."""
    from .monitors import default_monitors

    return default_monitors(cfg) + list(extra)


def latest_checkpoint(run_dir: str, which: str = "latest") -> str:
    folder = os.path.join(run_dir, "checkpoints")
    name = "ckpt-latest.pt" if which == "latest" else f"ckpt-{int(which):07d}.pt" if which.isdigit() else f"ckpt-{which}.pt"
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise CheckpointError(f"{run_dir} has no checkpoint '{which}' yet (looked for {path})")
    return path


# --ckpt START:END[:STEP]: numbered checkpoints with START <= step <= END (END included) and step - START a
# multiple of STEP; an empty START is 0, an empty END no limit, an empty STEP 1.
CKPT_RANGE = re.compile(r"^(\d*):(\d*)(?::(\d*))?$")


def is_selection(which: str) -> bool:
    """Whether `which` names many checkpoints ('all' or START:END[:STEP]) rather than one."""
    return which == "all" or bool(CKPT_RANGE.match(which))


def select_checkpoints(run_dir: str, which: str) -> list[tuple[int, str]]:
    """(step, name for load_run) of the checkpoints `which` selects, oldest first: 'all' or START:END[:STEP].

    Only what the run kept can be chosen: its numbered files (training keeps the newest `keep_checkpoints`),
    and ckpt-best.pt when no numbered file holds its step. A selection that matches nothing is a
    CheckpointError naming the steps the run has."""
    numbered = [s for s, _ in list_checkpoints(os.path.join(run_dir, "checkpoints"))]
    found = [(s, str(s)) for s in numbered]
    best_step = _best_step(run_dir)
    if best_step is not None and best_step not in numbered:
        found = sorted([*found, (best_step, "best")])
    if which == "all":
        chosen = found
    else:
        m = CKPT_RANGE.match(which)
        if m is None:
            raise ConfigError(f"--ckpt {which}: give latest, best, a step, all, or START:END[:STEP] (e.g. 1000:5000:1000)")
        start, end, every = int(m.group(1) or 0), int(m.group(2)) if m.group(2) else None, int(m.group(3) or 1)
        if every < 1 or (end is not None and end < start):
            raise ConfigError(f"--ckpt {which}: the range needs END >= START and STEP >= 1")
        chosen = [(s, name) for s, name in found if s >= start and (end is None or s <= end) and (s - start) % every == 0]
    if not chosen:
        have = ", ".join(f"{s}{' (best)' if name == 'best' else ''}" for s, name in found) or "none"
        raise CheckpointError(f"--ckpt {which} matches none of {run_dir}'s checkpoints (steps: {have}; a run keeps its "
                              "newest keep_checkpoints numbered files, plus best and latest)")  # fmt: skip
    return chosen


def _best_step(run_dir: str) -> int | None:
    """The step of checkpoints/ckpt-best.pt (from metrics/best.json, else from the file), None without one."""
    path = os.path.join(run_dir, "checkpoints", "ckpt-best.pt")
    if not os.path.isfile(path):
        return None
    best = _read_json(os.path.join(run_dir, "metrics", "best.json"))
    if isinstance(best.get("step"), int):
        return best["step"]
    return int(load_checkpoint(path)["step"])


@dataclass
class LoadedRun:
    """A trained run, ready to sample: config, its networks by name, G (the sampling network: the EMA
    copy when the run kept one), D, step, and the algorithm class that trained it."""

    run_dir: str
    config: Config
    G: torch.nn.Module
    D: torch.nn.Module | None
    step: int
    kind: str  # "image" or "points"
    shape: tuple
    nets: dict
    algorithm: type
    num_classes: int = 0

    def sampling(self, drs: bool = True) -> str | None:
        """How its samples are drawn, as metric cards record it: None for G's own samples, else the
        discriminator rejection sampling its config asks for (drs_percentile). drs=False asks for G's own
        samples (`--no-drs`), refused for a run whose config has no rejection sampling to turn off."""
        percentile = self.config.drs_percentile
        if not drs and not percentile:
            raise ConfigError(f"--no-drs: {self.run_dir} does not use discriminator rejection sampling (drs_percentile is 0)")
        return f"discriminator rejection sampling, gamma at percentile {percentile:g}" if drs and percentile else None


def load_run(run_dir: str, checkpoint: str = "latest", device: str = "cpu") -> LoadedRun:
    """Load a run's networks from a checkpoint ('latest', a step number, or 'best')."""
    require_run_dir(run_dir)
    path = latest_checkpoint(run_dir, checkpoint)
    state = load_checkpoint(path)
    if state.get("kind", "gan") != "gan":
        raise CheckpointError(f"{run_dir} is a {state.get('kind')} run, not a GAN run")
    if "nets" not in state:
        raise CheckpointError(f"{run_dir} was written by an older ganforge (checkpoint without 'nets'); retrain it")
    cfg = stored_config(state, path)
    spec = DataSpec.from_dict(state["data_spec"])
    algorithm = get_algorithm(state.get("algorithm", cfg.algorithm))
    nets = algorithm.build_networks(cfg, spec)
    for name, net in nets.items():
        load_into(net, state["nets"][name], f"network {name}")
    G = nets.get("G")
    if G is not None and state["G_ema"]:
        ema = make_ema(G, cfg.ema_half_life or 1.0)
        load_into(ema, state["G_ema"], "EMA of G")
        if int(ema.n_averaged) > 0:
            G = nets["G"] = ema.module
    device = resolve_device(device)
    nets = {name: net.to(device).eval() for name, net in nets.items()}
    return LoadedRun(run_dir, cfg, nets.get("G"), nets.get("D"), state["step"], spec.kind, spec.shape, nets, algorithm, spec.num_classes)


@torch.no_grad()
def generate(run: LoadedRun, n: int, seed: int = 0, batch_size: int = 256, **options) -> torch.Tensor:
    """n samples from the run's generator; the same seed gives the same samples. `options` are the
    algorithm's own (e.g. a class for conditional runs)."""
    if n == 0:
        return torch.zeros(0, *run.shape)
    return run.algorithm.generate(run, n, seed=seed, batch_size=batch_size, **options)
