"""G's regularisers, shared by every algorithm whose G update uses them (the gan family):

    path length  every pl_interval-th G update, on a fresh half batch (the reference's pl_batch_shrink 2):
                 pl_weight * pl_interval * E[(||J_w^T y||_2 - a)^2],  a <- a + 0.01 (mean length - a)
                 (Karras et al. 2020, StyleGAN2, sec. 3.2; losses.path_length_penalty)
    ortho        beta sum_W ||W W^T * (1 - I)||_F^2 over G's weights      (Brock et al. 2019, BigGAN, sec. 3.1)

Each is a switch of train/d_pipeline.SWITCHES (there, the one place every switch is declared and an
algorithm that does not apply it refuses it). An algorithm's G update adds `terms(...)` to G's loss
before its backward.

Path length needs the ws G's images are made from: G(z, return_ws=True) -> (img, ws), which
nets/stylegan2.py's G gives (`returns_ws`); another G is refused with an error naming pl_weight. As
ganforge's lazy R1, the penalty joins the due G update's loss (one optimizer step), where the reference
runs it as a phase of its own with lr and betas scaled by interval / (interval + 1) to make up for that
extra step: with no extra step, no scaling is needed. Its running mean a and the count of G updates
are state: `state_dict` goes into the checkpoint.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..config import Config
from ..errors import ConfigError
from ..losses import orthogonal_penalty, path_length_penalty

PL_DECAY = 0.01  # training/loss.py StyleGAN2Loss pl_decay
PL_BATCH_SHRINK = 2  # the penalty's batch is G's batch / 2 (pl_batch_shrink)


class GRegularizers:
    """`terms(G_view, G, noise, n, stats)` in each G update gives what to add to G's loss (0.0 when none)."""

    def __init__(self, cfg: Config, device=None):
        self.pl, self.pl_every = cfg.pl_weight, cfg.pl_interval
        self.ortho = cfg.ortho_weight
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

    def terms(self, G_view: Callable, G: torch.nn.Module, noise: Callable[[int], torch.Tensor], n: int, stats: dict):
        """The due terms, each named in `stats` (Loss/G/<name>); counts the update. Path length calls the
        training view as G_view(z, return_ws=True) on noise(max(1, n // 2)); ortho reads the bare G's
        weights (not a DDP or compiled view)."""
        total = 0.0
        if self.ortho > 0:
            ortho = orthogonal_penalty(G)
            stats["Loss/G/ortho"] = ortho.detach()
            total = total + self.ortho * ortho
        due = self.pl > 0 and self.g_updates % self.pl_every == 0
        self.g_updates += 1
        if due:
            img, ws = G_view(noise(max(1, n // PL_BATCH_SHRINK)), return_ws=True)
            penalty, self.pl_mean = path_length_penalty(img, ws, self.pl_mean, PL_DECAY)
            stats["Loss/G/pl"] = penalty.mean().detach()
            stats["pl_mean"] = self.pl_mean
            total = total + self.pl * self.pl_every * penalty.mean()
        return total

    def state_dict(self) -> dict:
        return {"pl_mean": self.pl_mean.cpu(), "g_updates": self.g_updates} if self.pl > 0 else {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            self.pl_mean = state["pl_mean"].to(self.pl_mean.device)
            self.g_updates = int(state["g_updates"])
