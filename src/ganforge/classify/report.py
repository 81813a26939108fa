"""Evaluation of a classifier: loss, accuracy, confusion matrix (and its picture)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .data import LabelledImages


@dataclass
class Evaluation:
    loss: float
    accuracy: float  # fraction in [0, 1]
    confusion: torch.Tensor  # (K, K) int64: row = true class, column = predicted class

    def as_stats(self, prefix: str) -> dict:
        return {f"Loss/{prefix}": self.loss, f"Accuracy/{prefix}": self.accuracy}


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """counts[i, j] = how many of class i were predicted as j."""
    flat = labels.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes).cpu()


@torch.no_grad()
def evaluate(model: nn.Module, data: LabelledImages, batch_size: int = 500, amp: bool = False) -> Evaluation:
    """Mean cross-entropy and accuracy of `model` (in eval mode) over all of `data`."""
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=data.images.device)
    predictions = []
    for i in range(0, len(data), batch_size):
        x, y = data.images[i : i + batch_size], data.labels[i : i + batch_size]
        with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp):
            logits = model(x)
        total_loss += F.cross_entropy(logits.float(), y, reduction="sum")
        predictions.append(logits.argmax(1))
    model.train(was_training)
    predictions = torch.cat(predictions)
    confusion = confusion_matrix(data.labels, predictions, data.num_classes)
    return Evaluation(
        loss=float(total_loss) / len(data),
        accuracy=float(confusion.diag().sum()) / len(data),
        confusion=confusion,
    )


def save_confusion_matrix(confusion: torch.Tensor, path: str, title: str = "", class_names=None) -> None:
    """A confusion-matrix image: counts in each cell, rows true classes, columns predictions."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    k = confusion.shape[0]
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    counts = confusion.numpy()
    fig = Figure(figsize=(1.2 + 0.5 * k, 1.0 + 0.5 * k), constrained_layout=True)
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), names, rotation=90 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        threshold = counts.max() / 2
        for i in range(k):
            for j in range(k):
                ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if counts[i, j] > threshold else "black")
    accuracy = counts.trace() / max(1, counts.sum())
    ax.set_title(f"{title}  accuracy {100 * accuracy:.2f}%".strip())
    fig.savefig(path, dpi=100)
