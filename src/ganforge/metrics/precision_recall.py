"""Improved precision and recall (Kynkäänniemi et al., 2019): k-NN estimates of each manifold.

Each set's manifold is the union of balls around its samples, each ball reaching the sample's k-th
nearest neighbour within the same set (k = 3). Then

    precision = share of generated samples inside the real manifold   (how many fakes look real)
    recall    = share of real samples inside the generated manifold   (how much of the data is covered)

A point on a ball's boundary counts as inside (<=), as in the paper's code and torch-fidelity, whose
function `tests/metrics/test_precision_recall.py` compares against. Written here because torch-fidelity's
version is internal and reads global options; this one works on features from any extractor, in float64,
in row batches so memory stays at batch x M distances.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..errors import ConfigError
from . import METRICS
from ._arrays import as_float64_tensor, check_min_samples, check_same_width
from .inputs import EvalInputs
from .protocol import PR_MIN_SAMPLES, ProtocolCard, sample_size_warning


class PRResult(NamedTuple):
    precision: float
    recall: float
    k: int


def kth_neighbour_radii(x: torch.Tensor, k: int, batch_size: int = 4096) -> torch.Tensor:
    """(N,) distance from each row of x to its k-th nearest other row (self, at distance 0, skipped)."""
    return torch.cat([torch.cdist(xb, x).kthvalue(k + 1, dim=1).values for xb in x.split(batch_size)])


def share_inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, batch_size: int = 4096) -> float:
    """Share of `points` that lie within distance radii[j] of some centres[j]."""
    inside = [(torch.cdist(pb, centres) <= radii[None, :]).any(1) for pb in points.split(batch_size)]
    return torch.cat(inside).double().mean().item()


def precision_recall(gen_features, ref_features, k: int = 3, batch_size: int = 4096) -> PRResult:
    """Precision and recall of generated (N, D) against real (M, D) features with k-NN manifolds."""
    if k < 1:
        raise ConfigError(f"precision/recall needs k >= 1, got {k}")
    gen = as_float64_tensor(gen_features, "generated features")
    ref = as_float64_tensor(ref_features, "reference features")
    check_same_width(gen, ref, "generated and reference features")
    for x, name in ((gen, "generated features"), (ref, "reference features")):
        check_min_samples(x, k + 1, name, f"a k-NN radius with k={k} needs k other samples")
    precision = share_inside(gen, ref, kth_neighbour_radii(ref, k, batch_size), batch_size)
    recall = share_inside(ref, gen, kth_neighbour_radii(gen, k, batch_size), batch_size)
    return PRResult(precision, recall, k)


@METRICS.register("pr")
def pr_metric(inputs: EvalInputs, k: int = 3) -> list[ProtocolCard]:
    """Improved precision and recall of evaluator features (Kynkäänniemi et al., 2019), k = 3."""
    inputs.require("pr", "gen_features", "ref_features")
    result = precision_recall(inputs.gen_features, inputs.ref_features, k)
    return knn_cards(inputs, "precision/recall", {"precision": result.precision, "recall": result.recall}, k,
                     "k-NN balls from few samples are wide, which inflates both precision and recall")  # fmt: skip


def knn_cards(inputs: EvalInputs, what: str, values: dict, k: int, why_few_mislead: str) -> list[ProtocolCard]:
    """One card per value of a k-NN-manifold metric, each warned when either side has few samples."""
    n_gen, n_ref = len(inputs.gen_features), len(inputs.ref_features)
    # the papers measure with tens of thousands of samples per side
    warnings = sample_size_warning(what, min(n_gen, n_ref), PR_MIN_SAMPLES, why_few_mislead)
    return [
        ProtocolCard(name, value, n_gen, n_ref, **inputs.protocol(), warnings=list(warnings), extra={"k": k})
        for name, value in values.items()
    ]
