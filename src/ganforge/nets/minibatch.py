"""Minibatch discrimination (Salimans et al. 2016, sec. 3.2), a layer on D's features.

For features f(x_i) in R^A and a learned tensor T in R^{A x B x C}:
  M_i = f(x_i) T                     (B x C)
  c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_1)
  o(x_i)_b = sum_j c_b(x_i, x_j)     (the sum runs over the whole minibatch, j = i included)
and D's logit is read from [f(x_i), o(x_i)]: D sees how close each sample is to the others, so a
generator that collapses (all samples alike, every o near N) is easy to tell apart.
Config: `model.minibatch_discrimination: B` (C = 5, as in the paper's code); any D that heads.py can split.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .heads import split_discriminator

KERNEL_DIM = 5  # C


class MinibatchDiscrimination(nn.Module):
    """(N, A) features -> (N, A + B): the features and o(x_i)."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int = KERNEL_DIM):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        M = (f @ self.T).view(len(f), self.kernels, self.kernel_dim)  # (N, B, C)
        l1 = (M[:, None] - M[None]).abs().sum(-1)  # (N, N, B): ||M_i,b - M_j,b||_1
        o = torch.exp(-l1).sum(1)  # (N, B)
        return torch.cat([f, o], 1)


class MinibatchDiscriminator(nn.Module):
    """D(x) = Linear([phi(x), o(phi(x))]): the family's trunk, the layer above, a new logit layer."""

    def __init__(self, base: nn.Module, shape: tuple[int, ...], kernels: int):
        super().__init__()
        self.trunk, _, features = split_discriminator(base, shape)  # psi is replaced: its input grows by B
        self.minibatch = MinibatchDiscrimination(features, kernels)
        self.head = nn.Linear(features + kernels, 1)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.head(self.minibatch(self.trunk(x).flatten(1))).view(-1)
