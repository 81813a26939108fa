"""InfoGAN's mutual-information loss (Chen et al. 2016, arXiv:1606.03657, sec. 5, eq. 4-6).

InfoGAN maximises a lower bound of I(c; G(z, c)):
    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)} [log Q(c | x)] + H(c)  <=  I(c; G(z, c))
H(c) is a constant of the prior, so G and Q minimise the negative log-likelihood -E[log Q(c | x)] of
the codes G was given, weighted by lambda:
  categorical code: cross-entropy of Q's logits against the code's value. Its minimum, a Q that is
                    sure and right, is 0, and then L_I = H(c) = log K: all of the code's information.
  continuous code:  Q is a factored Gaussian (the paper, sec. 7: "simply treating it as a factored
                    Gaussian is sufficient"). With `fixed` std 1 (the official code's MNIST setting,
                    `Uniform(1, fix_std=True)`) the NLL is (c - mu)^2 / 2 + log(2 pi) / 2 per code: its
                    minimum, mu = c, is the constant log(2 pi) / 2 ~ 0.919 (the Gaussian's entropy), so
                    only the squared error trains. With `learned` std, log sigma + (c - mu)^2 / (2 sigma^2)
                    + log(2 pi) / 2, which has no minimum as sigma -> 0 at mu = c (we clamp log sigma).
Each function returns the batch mean of the NLL summed over the codes of its kind.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
MIN_LOG_STD = -5.0  # a learned std never below e^-5: the NLL stays bounded


def categorical_nll(logits: list[torch.Tensor], values: list[torch.Tensor]) -> torch.Tensor:
    """sum over codes of the mean cross-entropy: logits[i] (N, K_i), values[i] (N,) integers."""
    return sum((F.cross_entropy(lg.float(), v) for lg, v in zip(logits, values)), torch.zeros((), device=values[0].device))


def gaussian_nll(mean: torch.Tensor, target: torch.Tensor, log_std: torch.Tensor | None = None) -> torch.Tensor:
    """-log N(target; mean, std) summed over the (N, D) codes, averaged over N; std 1 when log_std is None."""
    mean, target = mean.float(), target.float()
    if log_std is None:
        nll = 0.5 * (target - mean).pow(2) + HALF_LOG_2PI
    else:
        log_std = log_std.float().clamp(min=MIN_LOG_STD)
        nll = log_std + 0.5 * ((target - mean) * torch.exp(-log_std)).pow(2) + HALF_LOG_2PI
    return nll.sum(1).mean()
