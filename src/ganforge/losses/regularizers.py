"""Regularizers of D: weight clipping (WGAN), gradient penalty (WGAN-GP), R1 (Mescheder et al. 2018)."""
from __future__ import annotations

import torch
import torch.nn as nn


@torch.no_grad()
def clip_weights(D: nn.Module, clip_value: float) -> None:
    """Arjovsky et al. 2017, Algorithm 1 line 7: w <- clip(w, -c, c) after every critic update."""
    for p in D.parameters():
        p.clamp_(-clip_value, clip_value)


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, c=None) -> torch.Tensor:
    """Gulrajani et al. 2017, Algorithm 1: E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = eps x + (1 - eps) x~,
    eps ~ U[0, 1] per sample. Multiply by lambda (10 in the paper) in the caller."""
    eps = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    logits = D(x_hat, c)
    (grad,) = torch.autograd.grad(logits.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mescheder et al. 2018, eq. 9 without the gamma/2 factor: E[||grad_x D(x)||^2] on real data.
    `real` must have requires_grad=True before D(real) was computed."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()
