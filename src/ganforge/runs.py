"""Starting, resuming and loading runs: what `ganforge train` and `generate` do, for the API too."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from . import config as config_mod
from .config import RESUMABLE_KEYS, Config
from .devices import resolve_device
from .errors import CheckpointError, ConfigError
from .nets import build_models
from .train import distributed
from .train.checkpoint import load_checkpoint
from .train.ema import make_ema
from .train.engine import Trainer, TrainResult
from .train.rundir import claim_run_dir, new_run_dir, refuse_existing_run, require_run_dir, slug

DEFAULT_RUNS_ROOT = "runs"


def train(
    cfg: Config, out: str | None = None, runs_root: str = DEFAULT_RUNS_ROOT, progress: bool = True, monitors=()
) -> TrainResult:
    """Train a new run. `out` names its folder (refused if it exists); by default runs/NNNNN-preset-data.

    The config's monitors (ganforge.diagnose.default_monitors) always run; `monitors` are added after them.
    """
    # Build everything before claiming a folder, so a bad config leaves no empty run behind.
    run_dir = out if out else None
    if run_dir is not None:
        refuse_existing_run(run_dir)
    trainer = Trainer(cfg, progress=progress, monitors=_monitors(cfg, monitors))
    if trainer.world.is_main:  # many processes (torchrun): rank 0 alone makes and writes the run folder
        run_dir = claim_run_dir(run_dir) if run_dir else new_run_dir(runs_root, cfg.preset, slug(cfg.data))
        config_mod.write_yaml(cfg, os.path.join(run_dir, "config.yaml"))
    return _train(trainer, run_dir or "")


def resume(run_dir: str, overrides: list[dict] = (), progress: bool = True, monitors=()) -> TrainResult:
    """Continue a run from its latest checkpoint; only bookkeeping keys (and `steps`) may change."""
    require_run_dir(run_dir)
    state = load_checkpoint(latest_checkpoint(run_dir))
    cfg = config_mod.from_dict(state["config"])
    before = config_mod.to_dict(cfg)
    for override in overrides:
        config_mod.merge(cfg, override)
    changed = [d for d in config_mod.differences(before, config_mod.to_dict(cfg)) if d.split(":")[0].split(".")[0] not in RESUMABLE_KEYS]
    if changed:
        raise ConfigError(
            "a resumed run keeps its hyperparameters; these differ from the checkpoint: "
            + "; ".join(changed) + f". Only {', '.join(sorted(RESUMABLE_KEYS))} may change (or start a new run)."
        )
    trainer = Trainer(cfg, resume_state=state, progress=progress, monitors=_monitors(cfg, monitors))
    if trainer.world.is_main:
        config_mod.write_yaml(cfg, os.path.join(run_dir, "config.yaml"))
    return _train(trainer, run_dir)


def _train(trainer: Trainer, run_dir: str) -> TrainResult:
    """Train; under torchrun, wait for every rank at the end and leave the process group. (On an error
    the process exits without waiting: torchrun then stops the other ranks.)"""
    result = trainer.train(run_dir)
    distributed.teardown()
    return result


def _monitors(cfg: Config, extra) -> list:
    """The config's own monitors (divergence guard, health checks, evaluation), then the caller's."""
    from .diagnose import default_monitors

    return default_monitors(cfg) + list(extra)


def latest_checkpoint(run_dir: str, which: str = "latest") -> str:
    folder = os.path.join(run_dir, "checkpoints")
    name = "ckpt-latest.pt" if which == "latest" else f"ckpt-{int(which):07d}.pt" if which.isdigit() else f"ckpt-{which}.pt"
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise CheckpointError(f"{run_dir} has no checkpoint '{which}' yet (looked for {path})")
    return path


@dataclass
class LoadedRun:
    """A trained run, ready to sample: config, G (the EMA copy when the run kept one), D, step."""

    run_dir: str
    config: Config
    G: torch.nn.Module
    D: torch.nn.Module
    step: int
    kind: str  # "image" or "points"
    shape: tuple


def load_run(run_dir: str, checkpoint: str = "latest", device: str = "cpu") -> LoadedRun:
    """Load a run's networks from a checkpoint ('latest', a step number, or 'best')."""
    require_run_dir(run_dir)
    state = load_checkpoint(latest_checkpoint(run_dir, checkpoint))
    if state.get("kind", "gan") != "gan":
        raise CheckpointError(f"{run_dir} is a {state.get('kind')} run, not a GAN run")
    cfg = config_mod.from_dict(state["config"])
    shape = tuple(state.get("data_shape") or _data_shape(cfg))
    kind = "points" if len(shape) == 1 else "image"
    G, D = build_models(cfg.model, shape, kind)
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    if state["G_ema"]:
        ema = make_ema(G, cfg.ema_half_life or 1.0)
        ema.load_state_dict(state["G_ema"])
        if int(ema.n_averaged) > 0:
            G = ema.module
    device = resolve_device(device)
    return LoadedRun(run_dir, cfg, G.to(device).eval(), D.to(device).eval(), state["step"], kind, shape)


def _data_shape(cfg: Config) -> tuple:
    from .data import get_dataset

    return get_dataset(cfg.data, "train", cfg.image_size, cfg.channels, cfg.data_root).shape()


@torch.no_grad()
def generate(run: LoadedRun, n: int, seed: int = 0, batch_size: int = 256) -> torch.Tensor:
    """n samples from the run's generator; the same seed gives the same samples."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, run.config.model.z_dim, generator=g)
    device = next(run.G.parameters()).device
    return torch.cat([run.G(chunk.to(device)).cpu() for chunk in z.split(batch_size)]) if n else z.new_zeros(0)
