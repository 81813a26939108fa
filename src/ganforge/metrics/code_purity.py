"""Categorical code purity: does an InfoGAN categorical code pick the data's class?

For each value v of the code, n samples with the code set to v (noise and other codes random) are
classified by the data's classifier (the offline evaluator), giving counts[v, class]. Two scores:
  purity    sum_v max_class counts[v, class] / N: each value read as its most frequent class
            (many values may share a class);
  accuracy  the best one-to-one assignment of values to classes (Hungarian algorithm,
            scipy.optimize.linear_sum_assignment), the matched share of all samples: the InfoGAN
            paper's "5% error" on MNIST reads the same way (1 - accuracy).
Chance is about 1 / K for both when the code does nothing (purity a bit above it: each row's maximum).
"""
from __future__ import annotations

import numpy as np
import torch


def assignment_scores(counts: np.ndarray) -> dict:
    """counts (values, classes) -> purity, one-to-one accuracy and the assignment value -> class."""
    from scipy.optimize import linear_sum_assignment

    counts = np.asarray(counts)
    total = counts.sum()
    rows, cols = linear_sum_assignment(-counts)
    return {
        "purity": float(counts.max(1).sum() / total),
        "accuracy": float(counts[rows, cols].sum() / total),
        "assignment": {int(r): int(c) for r, c in zip(rows, cols)},
    }


@torch.no_grad()
def code_purity(run, code: int, classify, num_classes: int, n: int = 500, seed: int = 0) -> dict:
    """Score categorical code `code` of an InfoGAN run with `classify` (images -> (N,) classes)."""
    k = run.algorithm.categorical_codes(run.config)[code]
    counts = np.zeros((k, num_classes), dtype=np.int64)
    for value in range(k):
        images = run.algorithm.samples_with_code(run, code, value, n, seed=seed + value)
        labels = classify(images).cpu().numpy()
        counts[value] = np.bincount(labels, minlength=num_classes)[:num_classes]
    return {**assignment_scores(counts), "n_per_value": n, "counts": counts.tolist()}
