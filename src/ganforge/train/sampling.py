"""Drawing from a generator, in one place: latent codes and their classes, the rank-sliced draws of a
distributed run, and chunked sampling in eval mode.

Training, `ganforge generate`, in-training evaluation, the report's latent walks and the monitors all
sample through these functions, so a sample means the same thing everywhere:
  - `rank_slice(draw, n, world)`: this rank's n rows of one global draw of n x world_size rows. Every
    rank draws the whole (keeping the RNGs in step) and keeps its part, so the ranks' parts together
    are exactly what one process would draw;
  - `latent_labels(...)`: the classes asked of a class-conditional G (grids: class r mod K in row r;
    every class as often as the others, to one);
  - `sample_in_chunks(G, z, labels, ...)`: G's images for CPU codes, a batch at a time, on the CPU;
  - `evaluating(net)`: eval mode (BatchNorm running statistics, no dropout) for the duration;
  - `truncating(G, psi)`: the truncation trick for the duration, for a G that has it (StyleGAN2's
    average w, BigGAN's truncated z): the one place that decides how a run's G is truncated.
An algorithm supplies its own latent distribution (`Algorithm.latent`); these functions take it as
given.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..errors import ConfigError


def rank_slice(draw: Callable[[int], torch.Tensor], n: int, world) -> torch.Tensor:
    """This rank's n rows of `draw(n * world_size)`; `draw(n)` itself in one process."""
    if not world.enabled:
        return draw(n)
    return draw(n * world.world_size)[world.rank * n : (world.rank + 1) * n]


def latent_labels(conditional: bool, num_classes: int, n: int, class_: int | None = None) -> torch.Tensor | None:
    """The classes of n samples of a class-conditional G (None when G is not conditional): all
    `class_`, or row by row as the sample grids lay them out (row r of a sqrt(n)-wide grid: class
    r mod K) for as many whole cycles of K rows as n holds, so a grid shows the classes in order, and
    the classes in turn after the last whole cycle. So every class is asked for n // K or n // K + 1
    times: a scored draw is as balanced as training's uniform labels (rows alone asked 2,000 samples
    for 220 of five classes, 196 of one and 176 of four: a class KL of 0.005 from the layout alone)."""
    if not conditional:
        if class_ is not None:
            raise ConfigError("a class was asked for, but this run's generator is not class-conditional (model.conditional_g)")
        return None
    if class_ is None:
        per_row = max(1, int(n**0.5))
        whole = n // (per_row * num_classes) * per_row * num_classes
        return torch.cat([(torch.arange(whole) // per_row) % num_classes, torch.arange(n - whole) % num_classes])
    if not 0 <= class_ < num_classes:
        raise ConfigError(f"class {class_} is out of range: this run's classes are 0..{num_classes - 1}")
    return torch.full((n,), class_, dtype=torch.long)


def call_G(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """G(z), or G(z, labels) for a class-conditional G (an unconditional G is called as it always was)."""
    return G(z) if labels is None else G(z, labels)


@torch.no_grad()
def sample_in_chunks(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None, device, batch_size: int) -> torch.Tensor:
    """G's float32 images (on the CPU) for CPU draws z (and classes), batch_size at a time on `device`."""
    label_chunks = labels.split(batch_size) if labels is not None else [None] * len(z)
    return torch.cat([
        call_G(G, chunk.to(device), None if c is None else c.to(device)).float().cpu()
        for chunk, c in zip(z.split(batch_size), label_chunks)
    ])  # fmt: skip


@torch.no_grad()
def translate_in_chunks(G: torch.nn.Module, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """An image-to-image G's outputs (on the CPU) for `images`, batch_size at a time, in eval mode."""
    device = next(G.parameters()).device
    with evaluating(G) as net:
        return torch.cat([net(chunk.to(device)).float().cpu() for chunk in images.split(batch_size)])


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


# The models whose generator has a truncation trick, and how (see `truncating`); tests/nets/test_models.py
# checks this list against a generator of every registered model.
TRUNCATION_MODELS = {"biggan": "z from a normal truncated at 2, times PSI", "stylegan2": "w pulled toward the average w"}


class truncating:
    """`with truncating(G, psi) as trick:` samples G with the truncation trick for the duration, psi in
    [0, 1] (1 = off; None leaves G as it is). G has the trick through a capability of one of its modules:
      - `truncation_psi` (a mapping network's average w; StyleGAN2): w' = w_avg + psi (w - w_avg)
        (Karras et al. 2019 eq. 3), set for the duration and restored after; psi = 0 gives the average
        w's image for every sample;
      - `truncate_latent(z, psi, generator)` (a G fed z ~ N(0, I) directly; BigGAN, nets/biggan.py): the
        latent itself is drawn otherwise, so the caller feeds G `trick.latent(z, generator)` of its draw:
        psi times z truncated at 2 (Brock et al. 2019 sec. 3.1); psi = 0 gives z = 0, one image per class.
    A generator with neither is refused with an error naming `model` and the models that have one."""

    def __init__(self, G: torch.nn.Module, psi: float | None, model: str | None = None):
        self.psi, self.nets, self.redraws = psi, [], []
        if psi is None:
            return
        if not 0.0 <= psi <= 1.0:
            raise ConfigError(f"truncation psi must be in [0, 1] (1 = off, 0 = the average w or z of 0), got {psi:g}")
        self.nets = [m for m in G.modules() if hasattr(m, "truncation_psi")]
        self.redraws = [m.truncate_latent for m in G.modules() if hasattr(m, "truncate_latent")]
        if not (self.nets or self.redraws):
            have = "; ".join(f"{name}: {how}" for name, how in TRUNCATION_MODELS.items())
            who = f"model '{model}'" if model else "this generator"
            raise ConfigError(f"truncation: {who} has no truncation trick (models with one: {have})")

    def latent(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """What G is fed for the draw z ~ N(0, I): truncated where G's trick redraws its latent, else z."""
        return self.redraws[0](z, self.psi, generator) if self.redraws else z

    def __enter__(self):
        self.saved = [m.truncation_psi for m in self.nets]
        for m in self.nets:
            m.truncation_psi = self.psi
        return self

    def __exit__(self, *exc):
        for m, psi in zip(self.nets, self.saved):
            m.truncation_psi = psi
        return False
