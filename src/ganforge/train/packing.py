"""PacGAN packing (Lin et al. 2018): D judges m samples at once, stacked along channels.

A batch of N samples (N, C, H, W) becomes N/m groups (N/m, m*C, H, W): group g holds samples
g*m ... g*m + m - 1, in order (a plain reshape). Points (N, 2) become (N/m, 2m). Real groups hold only
real samples and fake groups only fake ones, so D's loss is the usual one over N/m packed logits.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError


def check_pack(pack: int, batch_size: int) -> None:
    """A clear error unless `pack` samples divide every batch D sees."""
    if pack < 1:
        raise ConfigError(f"pack must be at least 1 (1 = no packing), got {pack}")
    if batch_size % pack:
        raise ConfigError(f"pack={pack} does not divide the batch of {batch_size}: use a batch_size that is a multiple of {pack}")


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(N, C, ...) -> (N/m, m*C, ...): consecutive groups of m samples concatenated along dim 1."""
    if m == 1:
        return x
    if len(x) % m:
        raise ConfigError(f"pack={m} does not divide the batch of {len(x)}")
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])
