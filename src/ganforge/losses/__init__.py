"""Adversarial losses (pure functions on D's raw logits) and regularizers, by name."""
from .adversarial import LOSSES, AdversarialLoss, get_loss
from .regularizers import clip_weights, gradient_penalty, r1_penalty

__all__ = ["LOSSES", "AdversarialLoss", "get_loss", "clip_weights", "gradient_penalty", "r1_penalty"]
