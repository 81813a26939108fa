"""BEGAN's losses (Berthelot, Schumm & Metz 2017, arXiv:1703.10717, eq. 4), on reconstruction errors.

D is an autoencoder and its "logits" are each image's reconstruction error L(v) = |v - D(v)| (an
energy, not a probability: `probabilistic` is False, so no D(x) bands or BCE health ranges apply):
    L_D = L(x) - k_t L(G(z_D))      D reconstructs real images well and generated ones badly
    L_G = L(G(z_G))                 G makes images D reconstructs well
k_t (the equilibrium control, the `began` algorithm's state) weighs how hard D pushes on fakes.
"""
from __future__ import annotations

import torch

from .adversarial import AdversarialLoss, _register


def began_d(real_errors: torch.Tensor, fake_errors: torch.Tensor, real_target: float = 1.0, k: float | torch.Tensor = 0.0) -> dict:
    """L_D = L(x) - k L(G(z)) on (N,) per-image errors. (real_target: no labels to smooth.)"""
    real, fake = real_errors.mean(), fake_errors.mean()
    return {"loss": real - k * fake, "real": real, "fake": fake}


def began_g(real_errors: torch.Tensor | None, fake_errors: torch.Tensor) -> dict:
    return {"loss": fake_errors.mean()}


_register(AdversarialLoss("began", began_d, began_g, False, "Berthelot et al. 2017, BEGAN eq. 4 (D outputs reconstruction errors)"))
