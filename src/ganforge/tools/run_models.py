"""The trained network of a ganforge run, for the tools that look inside networks (saliency, stylize).

A classifier run (`kind: classifier` in its config.yaml) gives its classifier: images (N, C, H, W) in
[-1, 1] -> class logits (N, K). A GAN run gives its discriminator: images -> logits (N,) ("real").
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import yaml
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..train.rundir import require_run_dir


@dataclass
class RunNetwork:
    module: nn.Module  # eval mode, on `device`
    kind: str  # "classifier" or "discriminator"
    channels: int
    resolution: int
    class_names: list[str] | None
    description: str


def run_kind(run_dir: str) -> str:
    """'classifier' or 'gan', from the run's config.yaml."""
    require_run_dir(run_dir)
    try:
        with open(os.path.join(run_dir, "config.yaml")) as f:
            config = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise CheckpointError(f"cannot read {run_dir}/config.yaml: {e}") from None
    return "classifier" if isinstance(config, dict) and config.get("kind") == "classifier" else "gan"


def load_run_network(run_dir: str, device: str = "cpu") -> RunNetwork:
    """The classifier of a classifier run, or the discriminator D of a GAN run, ready in eval mode."""
    if run_kind(run_dir) == "classifier":
        return _load_classifier(run_dir, device)
    return _load_discriminator(run_dir, device)


def _load_discriminator(run_dir: str, device: str) -> RunNetwork:
    from ..runs import load_run

    run = load_run(run_dir, device=device)
    if run.kind != "image":
        raise ConfigError(f"{run_dir} models 2D points, not images: there are no pixels to explain")
    channels, height, _ = run.shape
    return RunNetwork(run.D.eval(), "discriminator", channels, height, None, f"the discriminator of {run_dir} (step {run.step})")


def _load_classifier(run_dir: str, device: str) -> RunNetwork:
    from .classify import load_classifier

    model, facts = load_classifier(run_dir, device=device)
    # Progressive-resizing runs end at the last phase's size: the size the classifier knows best.
    last_phase = (facts.get("schedule") or [{}])[-1]
    resolution = last_phase.get("image_size") or facts["input"]["resolution"]
    description = f"the {facts['config'].model} classifier of {run_dir} (step {facts['step']})"
    return RunNetwork(model.eval(), "classifier", facts["input"]["channels"], resolution, None, description)
