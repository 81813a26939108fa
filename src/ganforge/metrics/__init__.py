"""Evaluation metrics by name: FID, KID, IS, precision/recall, density/coverage, mode coverage, memorization,
and for class-conditional runs conditional accuracy and per-class FID.

Each registered metric is a function `metric(inputs: EvalInputs, **options) -> list[ProtocolCard]`:
it reads the features, logits, labels, points or pixels it needs from `inputs` (a missing one is a
ConfigError naming it) and returns one card per score, each carrying the protocol it was measured under.
The maths lives in plain functions on arrays (`fid_from_features`, `kid_from_features`, ...) that the
training loop can call directly.

    cards = compute_metrics(["fid", "kid"], EvalInputs(gen_features=g, ref_features=r, **ex.describe()))
"""
from __future__ import annotations

from ..registry import Registry

METRICS: Registry = Registry("metric")

# Importing the modules registers their metrics.
from . import fid, inception_score, kid, memorization, modes, precision_recall  # noqa: E402,F401
from . import conditional, density_coverage  # noqa: E402,F401
from .inputs import EvalInputs  # noqa: E402
from .protocol import ProtocolCard  # noqa: E402

__all__ = ["METRICS", "EvalInputs", "ProtocolCard", "compute_metrics", "get_metric", "list_metrics"]


def get_metric(name: str):
    """The metric function registered as `name`; an unknown name is a ConfigError listing the valid ones."""
    return METRICS.get(name)


def list_metrics() -> list[tuple[str, str]]:
    """(name, one-line description) of every registered metric."""
    return [(name, METRICS.get(name).__doc__.strip().splitlines()[0]) for name in METRICS.list()]


def compute_metrics(names: list[str], inputs: EvalInputs, options: dict | None = None) -> list:
    """Cards of the named metrics, in order. `options` maps a metric name to its keyword options.

    All names are checked before any metric runs, so a typo fails fast instead of after an hour of FID.
    """
    metrics = [(name, get_metric(name)) for name in names]
    options = options or {}
    cards = []
    for name, metric in metrics:
        cards.extend(metric(inputs, **options.get(name, {})))
    return cards
