"""Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019), through
torch.optim.swa_utils.AveragedModel, parametrised by a half-life in G-steps."""
from __future__ import annotations

import torch.nn as nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def ema_decay(half_life_steps: float) -> float:
    """beta such that beta ** half_life = 1/2: an update's weight halves after `half_life` steps."""
    return 0.5 ** (1.0 / half_life_steps)


def make_ema(G: nn.Module, half_life_steps: float) -> AveragedModel | None:
    if half_life_steps <= 0:
        return None
    # use_buffers=True also averages BatchNorm running statistics, so G_ema is usable in eval mode.
    ema = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(ema_decay(half_life_steps)), use_buffers=True)
    ema.requires_grad_(False)
    return ema
