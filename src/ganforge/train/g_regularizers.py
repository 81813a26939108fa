"""G's regularisers, shared by every algorithm whose G update uses them (the gan family):

    ortho  beta sum_W ||W W^T * (1 - I)||_F^2 over G's weights      (Brock et al. 2019, BigGAN, sec. 3.1)

Each is a switch of train/d_pipeline.SWITCHES (there, the one place every switch is declared and an
algorithm that does not apply it refuses it). An algorithm's G update adds `regs.terms(G, stats)` to
G's loss before its backward; `G` is the bare network (its weights, not a DDP or compiled view).
"""
from __future__ import annotations

import torch

from ..config import Config
from ..losses import orthogonal_penalty


class GRegularizers:
    def __init__(self, cfg: Config):
        self.ortho = cfg.ortho_weight

    def terms(self, G: torch.nn.Module, stats: dict):
        """The terms to add to G's loss (0.0 when none), each named in `stats` (Loss/G/<name>)."""
        total = 0.0
        if self.ortho > 0:
            stats["Loss/G/ortho"] = orthogonal_penalty(G)
            total = total + self.ortho * stats["Loss/G/ortho"]
        return total
