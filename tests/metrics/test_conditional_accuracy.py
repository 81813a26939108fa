"""Conditional accuracy: the evaluator's class of each sample against the class G was asked for."""
import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.metrics.conditional import conditional_accuracy
from ganforge.metrics.evaluate import Reference, score
from ganforge.metrics.evaluator import Evaluator


def test_conditional_accuracy_per_class_and_mean():
    mean, per_class = conditional_accuracy(torch.tensor([0, 0, 1, 2, 2]), torch.tensor([0, 1, 1, 2, 2]), 4)
    assert per_class == [1.0, 0.5, 1.0, None]  # class 3 was never asked for
    assert mean == pytest.approx((1.0 + 0.5 + 1.0) / 3)


def test_conditional_metric_through_the_evaluator():
    # An "evaluator" that reads the class off the first pixel: samples made for classes 0, 1, 1, 2, 2.
    gen = torch.tensor([0.0, 0.0, 1.0, 2.0, 2.0]).view(5, 1, 1, 1).expand(5, 1, 2, 2)
    ev = Evaluator(None, num_classes=3, labels=lambda x: x[:, 0, 0, 0].long(), note="first pixel")
    ref = Reference("image", "fake", torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    cards = score(gen, ref, ev, ["conditional"], options={"conditional": {"classes": torch.tensor([0, 1, 1, 2, 2])}})
    values = {c.metric: c.value for c in cards}
    assert values == {"conditional/accuracy": pytest.approx(2.5 / 3), "conditional/accuracy/0": 1.0,
                      "conditional/accuracy/1": 0.5, "conditional/accuracy/2": 1.0}  # fmt: skip
    assert cards[0].extra["chance"] == pytest.approx(1 / 3)
    with pytest.raises(ConfigError, match="needs the classes G was given"):
        score(gen, ref, ev, ["conditional"])
    with pytest.raises(ConfigError, match="needs an image evaluator with the data's classes"):
        score(gen, ref, Evaluator(None, note="none"), ["conditional"])
