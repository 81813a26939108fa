"""Inception Score (Salimans et al., 2016) from an evaluator's class probabilities.

    IS = exp( E_x KL(p(y|x) || p(y)) ),  p(y) = E_x p(y|x)

computed on `splits` equal chunks of the samples (10 by convention) and reported as mean and std over
chunks. Chunks are taken after a seeded shuffle, the way torch-fidelity does it (numpy
RandomState(seed).permutation, chunk i = samples [i N / splits, (i + 1) N / splits)), so for the same
logits and seed the two agree; `tests/metrics/test_inception_score.py` checks that. Written here because
ganforge also scores probabilities from any classifier (not only Inception logits) and wants clear
errors; the maths is five lines.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..errors import ConfigError, DataError
from . import METRICS
from .inputs import EvalInputs
from .protocol import IS_MIN_SAMPLES, ProtocolCard, sample_size_warning


class ISResult(NamedTuple):
    mean: float
    std: float  # population std over splits (as torch-fidelity)
    splits: int


def inception_score(
    logits: torch.Tensor | None = None,
    *,
    probs: torch.Tensor | None = None,
    splits: int = 10,
    shuffle: bool = True,
    seed: int = 2020,
) -> ISResult:
    """IS from (N, K) class logits or (N, K) class probabilities (rows summing to 1); one of the two."""
    if (logits is None) == (probs is None):
        raise ConfigError("inception_score needs exactly one of logits or probs")
    x = torch.as_tensor(logits if logits is not None else probs).detach().cpu().double()
    if x.ndim != 2:
        raise DataError(f"class scores must be (samples, classes), got shape {tuple(x.shape)}")
    n = x.shape[0]
    if not 1 <= splits <= n:
        raise ConfigError(f"IS splits must be between 1 and the number of samples ({n}), got {splits}")
    if shuffle:
        x = x[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    if logits is not None:
        log_p = x.log_softmax(1)
        p = log_p.exp()
    else:
        if (x < 0).any() or not torch.allclose(x.sum(1), torch.ones(n, dtype=x.dtype), atol=1e-6):
            raise DataError("class probabilities must be non-negative and each row must sum to 1")
        p, log_p = x, None
    scores = []
    for i in range(splits):
        chunk = slice(i * n // splits, (i + 1) * n // splits)
        p_c = p[chunk]
        p_y = p_c.mean(0, keepdim=True)
        # KL(p(y|x) || p(y)) per sample; xlogy gives 0 log 0 = 0 for probabilities that are exactly zero.
        plogp = p_c * log_p[chunk] if log_p is not None else torch.special.xlogy(p_c, p_c)
        kl = (plogp - torch.special.xlogy(p_c, p_y.expand_as(p_c))).sum(1)
        scores.append(kl.mean().exp().item())
    return ISResult(float(np.mean(scores)), float(np.std(scores)), splits)


@METRICS.register("is")
def is_metric(inputs: EvalInputs, splits: int = 10) -> list[ProtocolCard]:
    """Inception Score of the evaluator's logits on generated samples (Salimans et al., 2016)."""
    inputs.require("is", "gen_logits")
    n = len(inputs.gen_logits)
    result = inception_score(inputs.gen_logits, splits=min(splits, n), seed=inputs.seed)
    warnings = sample_size_warning(
        "IS", n, IS_MIN_SAMPLES, "each split's p(y) comes from few samples, which biases IS downward"
    )
    extra = {"std": result.std, "splits": result.splits, "num_classes": int(inputs.gen_logits.shape[1])}
    protocol = inputs.protocol()
    protocol["ref_split"] = None  # IS reads no reference data
    return [ProtocolCard("is", result.mean, n, None, **protocol, warnings=warnings, extra=extra)]
