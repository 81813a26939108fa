"""The adversarial losses as pure functions of D's raw logits.

Each loss returns a dict with a 'loss' entry (what the loop back-propagates) and the terms behind it.
`d(real_logits, fake_logits)` is minimised by D, `g(fake_logits)` by G. Logits never pass through an
explicit sigmoid: log(sigmoid(l)) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l) keep the
maths finite for any logit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..registry import Registry

Tensor = torch.Tensor
LOSSES: Registry = Registry("loss")


@dataclass(frozen=True)
class AdversarialLoss:
    name: str
    d: Callable[..., dict]  # (real_logits, fake_logits, real_target=1.0) -> {'loss', ...}
    g: Callable[[Tensor], dict]  # (fake_logits) -> {'loss'}
    probabilistic: bool  # D's output is a probability logit (report D(x) as sigmoid) or a raw score
    citation: str


def _register(loss: AdversarialLoss) -> AdversarialLoss:
    return LOSSES.register(loss.name)(loss)


def get_loss(name: str) -> AdversarialLoss:
    return LOSSES.get(name)


def bce_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> dict:
    """D maximises log D(x) + log(1 - D(G(z)))  <=>  minimises BCE(real, t) + BCE(fake, 0).

    real_target < 1 is one-sided label smoothing (Salimans et al. 2016): only the real target moves.
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    fake = F.softplus(fake_logits).mean()  # -log(1 - sigmoid(l))
    return {"loss": real + fake, "real": real, "fake": fake}


def minimax_g(fake_logits: Tensor) -> dict:
    """The paper's G objective: minimise log(1 - D(G(z))) = -softplus(l). Saturates when D wins."""
    return {"loss": -F.softplus(fake_logits).mean()}


def nonsaturating_g(fake_logits: Tensor) -> dict:
    """Goodfellow et al.'s practical G objective: maximise log D(G(z)) = minimise softplus(-l)."""
    return {"loss": F.softplus(-fake_logits).mean()}


def least_squares_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> dict:
    """Mao et al. 2017, eq. (2) with a=0, b=1: 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]."""
    real = 0.5 * (real_logits - real_target).pow(2).mean()
    fake = 0.5 * fake_logits.pow(2).mean()
    return {"loss": real + fake, "real": real, "fake": fake}


def least_squares_g(fake_logits: Tensor) -> dict:
    """Mao et al. 2017, eq. (2) with c=1: 1/2 E[(D(G(z)) - c)^2]."""
    return {"loss": 0.5 * (fake_logits - 1.0).pow(2).mean()}


def wasserstein_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> dict:
    """Arjovsky et al. 2017: the critic maximises E[f(x)] - E[f(G(z))]. (No labels to smooth.)"""
    real, fake = real_logits.mean(), fake_logits.mean()
    return {"loss": fake - real, "real": -real, "fake": fake, "wasserstein": real - fake}


def wasserstein_g(fake_logits: Tensor) -> dict:
    return {"loss": -fake_logits.mean()}


def hinge_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> dict:
    """Lim & Ye 2017; Miyato et al. 2018: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    real = F.relu(1.0 - real_logits).mean()
    fake = F.relu(1.0 + fake_logits).mean()
    return {"loss": real + fake, "real": real, "fake": fake}


_register(AdversarialLoss("minimax", bce_d, minimax_g, True, "Goodfellow et al. 2014, eq. 1 (G minimises log(1 - D(G(z))))"))
_register(AdversarialLoss("nonsaturating", bce_d, nonsaturating_g, True, "Goodfellow et al. 2014, sec. 3 (G maximises log D(G(z)))"))
_register(AdversarialLoss("least-squares", least_squares_d, least_squares_g, False, "Mao et al. 2017, LSGAN eq. 2 (a=0, b=1, c=1)"))
_register(AdversarialLoss("wasserstein", wasserstein_d, wasserstein_g, False, "Arjovsky et al. 2017, WGAN"))
_register(AdversarialLoss("hinge", hinge_d, wasserstein_g, False, "Lim & Ye 2017; Miyato et al. 2018"))
