"""Categorical code purity: does an InfoGAN categorical code pick the data's class?

For each value v of the code, n samples with the code set to v (noise and other codes random) are
classified by the data's classifier (the offline evaluator), giving counts[v, class]. Two scores:
  accuracy  the best one-to-one assignment of values to classes (Hungarian algorithm,
            scipy.optimize.linear_sum_assignment), the matched share of all samples: the InfoGAN
            paper's "5% error" on MNIST reads the same way (1 - accuracy). The score to lead with.
  purity    mean_v max_class counts[v, class] / sum_class counts[v, class]: the mean over values of
            each value's majority share. Each value is scored alone, so many values may share a class:
            ten values that all draw the same digit have purity 1.0 and accuracy 0.1.
With K values and C classes, a code that does nothing scores accuracy about min(K, C) / (K C) (0.1 for
10 and 10); purity a bit above 1 / C (each row's maximum).
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
    per_value = counts.sum(1)
    majority_share = np.divide(counts.max(1), per_value, out=np.zeros(len(counts)), where=per_value > 0)
    return {
        "purity": float(majority_share.mean()),
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
