"""A discriminator seen as a trunk phi(x) and a logit layer psi: D(x) = psi(phi(x)).

Heads on D's features (projection, ACGAN's class head, minibatch discrimination) need phi(x). A
family's D qualifies when it keeps its layers in one nn.Sequential attribute `main` or `net` whose
last layer maps the features to the single logit (a Linear, or DCGAN's b x b Conv2d, which is a
Linear on the flattened b x b map). The trunk reuses D's own layers, so its initialisation stays.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..errors import ConfigError


def split_discriminator(D: nn.Module, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module, int]:
    """(trunk phi, logit layer psi, F): phi(x) is (N, ...) with F values per sample, psi(phi(x)) the logits."""
    layers = next((getattr(D, a) for a in ("main", "net") if isinstance(getattr(D, a, None), nn.Sequential)), None)
    if layers is None or len(layers) < 2 or not isinstance(layers[-1], (nn.Linear, nn.Conv2d)):
        raise ConfigError(
            f"{type(D).__name__} does not expose a trunk and a logit layer (an nn.Sequential `main` or `net` "
            "ending in the logit layer), so projection, ACGAN and minibatch-discrimination heads cannot be "
            "added to it; the dcgan and mlp families can"
        )
    trunk, psi = nn.Sequential(*layers[:-1]), layers[-1]
    was_training = trunk.training
    trunk.eval()  # a dry run to count the features must not touch BatchNorm statistics
    with torch.no_grad():
        features = math.prod(trunk(torch.zeros(2, *shape)).shape[1:])
    trunk.train(was_training)
    return trunk, psi, features
