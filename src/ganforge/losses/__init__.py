"""Adversarial losses (pure functions on D's raw logits) and regularizers, by name."""
from .adversarial import LOSSES, AdversarialLoss, get_loss
from .regularizers import (clip_weights, drift_penalty, gradient_norm_penalty, gradient_penalty, orthogonal_penalty,
                           path_length_penalty, r1_penalty)
from . import began  # noqa: F401  registers the `began` loss (D outputs reconstruction errors, not logits)

__all__ = ["LOSSES", "AdversarialLoss", "get_loss", "clip_weights", "drift_penalty", "gradient_norm_penalty", "gradient_penalty",
           "orthogonal_penalty", "path_length_penalty", "r1_penalty"]  # fmt: skip
