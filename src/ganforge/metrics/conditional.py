"""Conditional accuracy: does a class-conditional generator make the class it is asked for?

The evaluator's classifier labels each generated sample; the score is the share whose predicted
class equals the class G was given (per class k: over the samples asked for class k; the mean over
classes is the headline, as in the "classification accuracy" of AC-GAN-style evaluations, Odena et
al. 2017 sec. 4.1). A perfect conditional generator scores the classifier's own held-out accuracy,
not 1; chance is 1/K.

Inputs: `inputs.gen_labels` (the evaluator's predictions) and the option `classes` (the (N,) classes
G was given), which `ganforge eval` passes for conditional runs.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from . import METRICS
from .inputs import EvalInputs
from .protocol import ProtocolCard


def conditional_accuracy(predicted: torch.Tensor, asked: torch.Tensor, num_classes: int) -> tuple[float, list[float | None]]:
    """(mean over classes of per-class accuracy, per-class accuracy; None for a class never asked)."""
    predicted, asked = predicted.long().cpu(), asked.long().cpu()
    per_class: list[float | None] = []
    for k in range(num_classes):
        mine = asked == k
        per_class.append(float((predicted[mine] == k).double().mean()) if mine.any() else None)
    seen = [a for a in per_class if a is not None]
    return (sum(seen) / len(seen) if seen else float("nan")), per_class


@METRICS.register("conditional")
def conditional_metric(inputs: EvalInputs, classes: torch.Tensor | None = None) -> list[ProtocolCard]:
    """Conditional accuracy: the evaluator's class of each sample vs the class G was asked for (mean and per class)."""
    inputs.require("conditional", "gen_labels", "num_classes")
    if classes is None:
        raise ConfigError("metric 'conditional' scores class-conditional runs: it needs the classes G was given")
    if len(classes) != len(inputs.gen_labels):
        raise ConfigError(f"metric 'conditional': {len(classes)} classes for {len(inputs.gen_labels)} samples")
    mean, per_class = conditional_accuracy(inputs.gen_labels, classes, inputs.num_classes)
    protocol = inputs.protocol()
    extra = {"chance": 1.0 / inputs.num_classes}
    cards = [ProtocolCard("conditional/accuracy", mean, len(classes), None, **protocol, extra=dict(extra, per_class=per_class))]
    cards += [
        ProtocolCard(f"conditional/accuracy/{k}", acc, int((classes == k).sum()), None, **protocol, extra=dict(extra))
        for k, acc in enumerate(per_class) if acc is not None
    ]  # fmt: skip
    return cards
