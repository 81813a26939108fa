"""The learning-rate range test for a classifier: `lr_find` on the trainer's first phase."""
from __future__ import annotations

import torch

from ..optim.lr_finder import LRFinderResult, lr_find
from .config import ClassifyConfig
from .data import flip_and_crop
from .trainer import ClassifierTrainer, train_step


def classifier_lr_find(cfg: ClassifyConfig, start: float = 1e-6, end: float = 10.0, num: int = 100,
                       mode: str = "exp", diverge: float = 4.0) -> LRFinderResult:
    """Sweep the lr of the optimizer the config's first phase names (its momentum and weight decay
    too), on that phase's data, one batch per lr; the model is built fresh and thrown away after."""
    trainer = ClassifierTrainer(cfg, progress=False)
    phase = trainer.schedule.phases[0]
    data, bs = trainer.train_data(phase), trainer._batch_size(phase)
    optimizer = trainer.popt.prepare(0)
    generator = torch.Generator().manual_seed(cfg.seed)
    batches_per_pass = len(data) // bs
    order = torch.randperm(len(data), generator=generator)
    position = 0

    def step() -> torch.Tensor:
        nonlocal order, position
        if position == batches_per_pass:  # a sweep longer than an epoch reshuffles
            order, position = torch.randperm(len(data), generator=generator), 0
        idx = order[position * bs : (position + 1) * bs].to(data.images.device)
        position += 1
        x, y = data.images[idx], data.labels[idx]
        if cfg.augment:
            x = flip_and_crop(x)
        loss, _ = train_step(trainer.model, optimizer, trainer.scaler, x, y, trainer.amp, cfg.label_smoothing)
        return loss

    trainer.model.train()
    return lr_find(step, optimizer, start, end, num, mode, diverge)
