"""How G is held in check, shared by the algorithms of the gan family: lazy path-length regularisation
(Karras et al. 2020, StyleGAN2, sec. 3.2 and 3.1).

    every pl_interval-th G update, add to G's loss
        pl_weight * pl_interval * E[(||J_w^T y||_2 - a)^2]      (losses.path_length_penalty)
    on a fresh half batch (the reference's pl_batch_shrink 2), a <- a + 0.01 (mean length - a).

The paper's weight is 2 and its interval 4 (`pl_weight`, `pl_interval`: switches of
train.d_pipeline.SWITCHES, refused where an algorithm does not apply them). Its G must expose the ws
its images are made from: G(z, return_ws=True) -> (img, ws), which nets/stylegan2.py's G does
(`returns_ws`); another G is refused with an error naming pl_weight.

As ganforge's lazy R1, the penalty is added to the due G update's loss (one optimizer step), where the
reference runs it as a phase of its own with its own optimizer step and the lr and betas scaled by
interval / (interval + 1) to make up for that extra step: with no extra step, no scaling is needed.
The running mean a and the count of G updates are state: `state_dict` goes into the checkpoint.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..config import Config
from ..errors import ConfigError
from ..losses import path_length_penalty

PL_DECAY = 0.01  # training/loss.py StyleGAN2Loss pl_decay
PL_BATCH_SHRINK = 2  # the penalty's batch is G's batch / 2 (pl_batch_shrink)


class GRegularizers:
    """`terms(G, noise, n, stats)` in each G update gives what to add to G's loss (0.0 when none is due)."""

    def __init__(self, cfg: Config, device=None):
        self.pl, self.pl_every = cfg.pl_weight, cfg.pl_interval
        self.pl_mean = torch.zeros([], device=device)
        self.g_updates = 0  # G updates done (the lazy interval counts them)

    @property
    def differentiates_twice(self) -> bool:
        return self.pl > 0

    def check_generator(self, G: torch.nn.Module, model: str) -> None:
        if self.pl > 0 and not getattr(G, "returns_ws", False):
            raise ConfigError(f"this run does not apply pl_weight (path-length regularisation): it differentiates G's images by "
                              f"the ws of a mapping network, and the '{model}' generator has none; use model.name=stylegan2 "
                              "(unconditional) or remove pl_weight")  # fmt: skip

    def terms(self, G: Callable, noise: Callable[[int], torch.Tensor], n: int, stats: dict):
        """The due penalties, G called as G(z, return_ws=True) on noise(max(1, n // 2)); counts the update."""
        due = self.pl > 0 and self.g_updates % self.pl_every == 0
        self.g_updates += 1
        if not due:
            return 0.0
        img, ws = G(noise(max(1, n // PL_BATCH_SHRINK)), return_ws=True)
        penalty, self.pl_mean = path_length_penalty(img, ws, self.pl_mean, PL_DECAY)
        stats["Loss/G/pl"] = penalty.mean().detach()
        stats["pl_mean"] = self.pl_mean
        return self.pl * self.pl_every * penalty.mean()

    def state_dict(self) -> dict:
        return {"pl_mean": self.pl_mean.cpu(), "g_updates": self.g_updates} if self.pl > 0 else {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            self.pl_mean = state["pl_mean"].to(self.pl_mean.device)
            self.g_updates = int(state["g_updates"])
