"""The trained network of a ganforge run, for the tools that look inside networks (saliency, stylize).

A classifier run (`kind: classifier` in its config.yaml) gives its classifier: images (N, C, H, W) in
[-1, 1] -> class logits (N, K). A GAN run gives its discriminator: images -> logits (N,) ("real").
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import yaml
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..runtime.rundir import require_run_dir


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


def load_run_network(run_dir: str, device: str = "cpu", class_: int | None = None) -> RunNetwork:
    """The classifier of a classifier run, or the discriminator D of a GAN run, ready in eval mode.
    `class_`: the class a class-conditional D (concat, projection) judges the images as."""
    if run_kind(run_dir) == "classifier":
        if class_ is not None:
            raise ConfigError("a class is given to a conditional GAN's discriminator; a classifier explains a class with --target")
        return _load_classifier(run_dir, device)
    return _load_discriminator(run_dir, device, class_)


class JudgedAsClass(nn.Module):
    """A class-conditional D with its class fixed: images -> "real image of class k" logits."""

    def __init__(self, D: nn.Module, class_: int):
        super().__init__()
        self.D, self.class_ = D, class_

    def forward(self, x):
        return self.D(x, torch.full((len(x),), self.class_, dtype=torch.long, device=x.device))


def _load_discriminator(run_dir: str, device: str, class_: int | None = None) -> RunNetwork:
    from ..runs import load_run

    run = load_run(run_dir, device=device)
    if run.kind != "image":
        raise ConfigError(f"{run_dir} models 2D points, not images: there are no pixels to explain")
    channels, height, _ = run.shape
    description = f"the discriminator of {run_dir} (step {run.step})"
    D = run.D.eval()
    if run.config.model.conditional_d in ("concat", "projection"):  # D reads a class with the image
        if class_ is None or not 0 <= class_ < run.num_classes:
            raise ConfigError(f"this run's discriminator is class-conditional: say which class it judges the images "
                              f"as with --class K (0..{run.num_classes - 1})" + ("" if class_ is None else f", got {class_}"))
        D, description = JudgedAsClass(D, class_).eval(), f"{description}, judging them as class {class_}"
    elif class_ is not None:
        raise ConfigError("--class is for a class-conditional discriminator (model.conditional_d concat or projection); "
                          "this run's D judges images alone")
    return RunNetwork(D, "discriminator", channels, height, None, description)


def _load_classifier(run_dir: str, device: str) -> RunNetwork:
    from ..classify import load_classifier

    model, facts = load_classifier(run_dir, device=device)
    # Progressive-resizing runs end at the last phase's size: the size the classifier knows best.
    last_phase = (facts.get("schedule") or [{}])[-1]
    resolution = last_phase.get("image_size") or facts["input"]["resolution"]
    description = f"the {facts['config'].model} classifier of {run_dir} (step {facts['step']})"
    return RunNetwork(model.eval(), "classifier", facts["input"]["channels"], resolution, None, description)
