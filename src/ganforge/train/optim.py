"""Optimizers by name, from an OptimConfig."""
from __future__ import annotations

import torch

from ..errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd")


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    if cfg.lr <= 0:
        raise ConfigError(f"learning rate must be positive, got {cfg.lr}")
    if cfg.name == "adam":
        if len(cfg.betas) != 2:
            raise ConfigError(f"adam betas must be two numbers, got {cfg.betas}")
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.alpha, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer '{cfg.name}'; valid: {', '.join(OPTIMIZERS)}")
