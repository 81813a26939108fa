"""TensorBoard logging as a monitor: `tensorboard --logdir runs/` shows every run.

Events go to RUN/tensorboard/. Logged, by step:
  every numeric entry of a tick's record under its stats.jsonl name (Loss/D, Loss/G, D(x), D(G(z)),
    LR/G, LR/D, it/s, Loss/D/gp, Wasserstein, evaluation scores the loop adds...);
  Metrics/<name>: the protocol cards written to metrics/*.jsonl since the last tick;
  Diagnoses: each diagnosis raised, as text (message and advice);
  D/logits_real, D/logits_fake: histograms of D's raw logits on a fixed real batch and on the fixed
    noise's samples (D and G in eval mode, no gradients: training's state and RNG are untouched);
  Samples: the fixed-noise grid whenever the loop saves one (every sample_every steps), Reals once.
The tensorboard package is optional (`pip install 'ganforge[tensorboard]'`); this module imports it
only when a monitor is built.
"""
from __future__ import annotations

import io
import math
import os

import torch

from ..train.monitor import Monitor

HISTOGRAM_BATCH = 64  # real images in the fixed batch whose D logits are histogrammed


class TensorBoardMonitor(Monitor):
    def __init__(self, log_subdir: str = "tensorboard"):
        self.log_subdir = log_subdir
        self.writer = None
        self._metric_lines = 0
        self._real_batch = None
        self._real_labels = None

    def on_start(self, trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step: after a resume from step N, events an earlier session logged past N (it crashed
        # after the checkpoint) are dropped, so each step's curve point appears once.
        purge = trainer.step + 1 if trainer.step else None
        self.writer = SummaryWriter(os.path.join(trainer.run_dir, self.log_subdir), purge_step=purge)
        data = trainer.data
        n = min(HISTOGRAM_BATCH, len(data.dataset))
        if data.kind == "image":
            self._real_batch = torch.stack([data.dataset[i][0] for i in range(n)])
            if trainer.step == 0:
                self.writer.add_images("Reals", _to_unit(self._real_batch), 0)
        else:
            self._real_batch = data.dataset.images[:n]
        self._real_labels = torch.tensor([int(data.dataset[i][1]) for i in range(n)])  # for a class-conditional D
        self._metric_lines = len(_metric_cards(trainer.run_dir))
        self.writer.flush()

    def on_tick(self, trainer, record: dict) -> None:
        w, step = self.writer, trainer.step
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                w.add_scalar(key, value, step)
        for d in record.get("diagnoses") or []:
            if isinstance(d, dict):
                advice = "".join(f"\n- {a}" for a in d.get("advice") or [])
                w.add_text("Diagnoses", f"**{d.get('name')}** ({d.get('severity')}): {d.get('message')}{advice}", step)
        cards = _metric_cards(trainer.run_dir)
        for card in cards[self._metric_lines:]:
            value = card.get("value")
            if isinstance(value, (int, float)) and math.isfinite(value):
                w.add_scalar(f"Metrics/{card['metric']}", value, card.get("step") or step)
        self._metric_lines = len(cards)
        fake = self._d_logits_and_samples(trainer)
        c = trainer.cfg
        if step % c.sample_every == 0 or step == c.steps:
            self._add_samples(trainer, fake, step)
        w.flush()

    def on_end(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()

    @torch.no_grad()
    def _d_logits_and_samples(self, trainer) -> torch.Tensor:
        """Histogram D's logits on the fixed real batch and the fixed noise's samples; returns the samples."""
        fake = trainer.fixed_samples()  # eval mode, no state changed
        D = trainer.D
        was_training = D.training
        D.eval()  # BatchNorm: use running statistics, update none
        try:
            # as training presents them (packed for PacGAN, with the labels for a conditional D)
            real_logits = trainer.d_logits(self._real_batch.to(trainer.device), self._real_labels)
            fake_logits = trainer.d_logits(fake, trainer.fixed_c)
        finally:
            D.train(was_training)
        self.writer.add_histogram("D/logits_real", real_logits.float().cpu(), trainer.step)
        self.writer.add_histogram("D/logits_fake", fake_logits.float().cpu(), trainer.step)
        return fake.cpu()

    def _add_samples(self, trainer, fake: torch.Tensor, step: int) -> None:
        if fake.dim() == 4:
            from torchvision.utils import make_grid

            grid = make_grid(_to_unit(fake), nrow=max(1, int(math.sqrt(len(fake)))), padding=2)
            self.writer.add_image("Samples", grid, step)
        else:  # 2D points: the same scatter as samples/step-N.png
            import numpy as np
            from PIL import Image

            from ..train.samples import save_scatter

            buf = io.BytesIO()
            save_scatter(fake, buf, reference=self._real_batch)
            image = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
            self.writer.add_image("Samples", image, step, dataformats="HWC")


def _to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], as TensorBoard expects for float images."""
    return ((images.detach().float().cpu() + 1) / 2).clamp(0, 1)


def _metric_cards(run_dir: str) -> list[dict]:
    from ..report.run_info import read_metrics

    return read_metrics(run_dir)
