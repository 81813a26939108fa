"""DiffAugment (Zhao et al. 2020): the same differentiable augmentation of real and generated images
before D, in D's and in G's phase, so D cannot overfit the few real images and G still gets gradients.

Policies (config `diffaugment: color,translation,cutout`), on images in [-1, 1], each with its own
random draw per sample (the paper's ranges):
  color        brightness  x + (u - 0.5)                                   u ~ U[0, 1)
               saturation  (x - mean_c x) * 2u + mean_c x                 (mean over channels)
               contrast    (x - mean_chw x) * (u + 0.5) + mean_chw x      (mean over the image)
  translation  shift by up to 1/8 of the side in each direction, zeros shifted in
  cutout       one square of half the side set to zero, centred anywhere in the image
The uniform draws come from `rand(*shape)`: the trainer passes its rank-aware draw on the training
RNG, so a checkpoint (which keeps that RNG) resumes the same augmentations.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError

Rand = Callable[..., torch.Tensor]  # rand(*shape) -> U[0, 1) on x's device


def brightness(x: torch.Tensor, rand: Rand) -> torch.Tensor:
    return x + (rand(len(x), 1, 1, 1).to(x.dtype) - 0.5)


def saturation(x: torch.Tensor, rand: Rand) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (rand(len(x), 1, 1, 1).to(x.dtype) * 2) + mean


def contrast(x: torch.Tensor, rand: Rand) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (rand(len(x), 1, 1, 1).to(x.dtype) + 0.5) + mean


def _randint(rand: Rand, n: int, low: int, high: int) -> torch.Tensor:
    """n integers uniform in [low, high], from uniform draws."""
    return (rand(n) * (high - low + 1)).long().clamp(max=high - low) + low


def translation(x: torch.Tensor, rand: Rand, ratio: float = 0.125) -> torch.Tensor:
    """out[i, :, y, x] = in[i, :, y - dy_i, x - dx_i], zero outside; |dy| <= H*ratio, |dx| <= W*ratio."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy, dx = _randint(rand, n, -sh, sh).to(x.device), _randint(rand, n, -sw, sw).to(x.device)
    padded = F.pad(x, [sw, sw, sh, sh])  # zeros around: what shifts in
    rows = torch.arange(h, device=x.device)[None] + sh - dy[:, None]  # (n, h) rows of `padded`
    cols = torch.arange(w, device=x.device)[None] + sw - dx[:, None]  # (n, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (n, h, w, C) -> (n, C, h, w)


def cutout(x: torch.Tensor, rand: Rand, ratio: float = 0.5) -> torch.Tensor:
    """Zero a (H*ratio) x (W*ratio) square per sample, its centre anywhere in the image (clipped at the border)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(rand, n, 0, h - (ch % 2)).to(x.device)  # the paper's range [0, H + (1 - ch % 2))
    cx = _randint(rand, n, 0, w - (cw % 2)).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    top, left = (cy - ch // 2)[:, None, None], (cx - cw // 2)[:, None, None]
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)  # (n, h, w)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}


def parse_policy(policy: str) -> list[str]:
    """'color,translation' -> ['color', 'translation']; an unknown name is an error naming the valid ones."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for name in names:
        if name not in POLICIES:
            raise ConfigError(f"unknown diffaugment policy '{name}'; valid: {', '.join(POLICIES)} (comma-separated)")
    return names


def diff_augment(x: torch.Tensor, policy: list[str], rand: Rand = torch.rand) -> torch.Tensor:
    """x (N, C, H, W) augmented by each policy in turn; an empty policy returns x itself."""
    for name in policy:
        for fn in POLICIES[name]:
            x = fn(x, rand)
    return x
