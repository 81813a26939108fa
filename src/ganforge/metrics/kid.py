"""Kernel Inception Distance (Binkowski et al., 2018): unbiased MMD^2 with a polynomial kernel.

    k(x, y) = (gamma x.y + coef0)^degree,  gamma = 1/D by default (degree 3, coef0 1)
    MMD^2_u = sum_{i!=j} k(g_i, g_j) / (m(m-1)) + sum_{i!=j} k(r_i, r_j) / (m(m-1)) - 2 sum_{i,j} k(g_i, r_j) / m^2

computed on `subsets` random subsets of `subset_size` from each side; KID is the mean over subsets and
its standard deviation over subsets is the spread a reader needs to judge it. Unlike FID the estimator
is unbiased, so small sample sizes widen the spread instead of shifting the mean.

Written here (a few lines of torch, float64; torch's matmul is much faster than numpy's threaded
OpenBLAS on these small matrices) rather than called from torch-fidelity because its KID function is
internal and reads its options from a global kwargs table; the subsets are drawn exactly as torch-fidelity
draws them (numpy RandomState(seed), generated indices then reference indices), so for the same seed the
two agree to float precision, which `tests/metrics/test_kid.py` checks.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..errors import ConfigError
from . import METRICS
from ._arrays import as_float64_tensor, check_min_samples, check_same_width
from .inputs import EvalInputs
from .protocol import KID_SUBSET_SIZE, ProtocolCard


class KIDResult(NamedTuple):
    mean: float
    std: float  # population standard deviation over subsets (as torch-fidelity)
    subsets: int
    subset_size: int
    values: np.ndarray  # (subsets,) MMD^2 of each subset


def polynomial_kernel(
    x: torch.Tensor, y: torch.Tensor, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> torch.Tensor:
    """(gamma x.y + coef0)^degree for all pairs of rows: (n, D), (m, D) -> (n, m)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(k_gg: torch.Tensor, k_gr: torch.Tensor, k_rr: torch.Tensor) -> float:
    """Unbiased MMD^2 from the three m x m kernel matrices (within-set diagonals left out)."""
    m = k_gg.shape[0]
    within = (k_gg.sum() - k_gg.trace() + k_rr.sum() - k_rr.trace()) / (m * (m - 1))
    return float(within - 2.0 * k_gr.sum() / (m * m))


def kid_from_features(
    gen_features,
    ref_features,
    subsets: int = 100,
    subset_size: int = KID_SUBSET_SIZE,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 2020,
) -> KIDResult:
    """KID mean and std over `subsets` random subsets of `subset_size` samples from each set."""
    gen = as_float64_tensor(gen_features, "generated features")
    ref = as_float64_tensor(ref_features, "reference features")
    check_same_width(gen, ref, "generated and reference features")
    if subsets < 1 or subset_size < 2:
        raise ConfigError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    for x, name in ((gen, "generated features"), (ref, "reference features")):
        check_min_samples(x, subset_size, name, f"KID subset size is {subset_size}; pass a smaller subset_size")
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        g = gen[torch.from_numpy(rng.choice(len(gen), subset_size, replace=False))]
        r = ref[torch.from_numpy(rng.choice(len(ref), subset_size, replace=False))]
        k_gg, k_gr, k_rr = (polynomial_kernel(a, b, degree, gamma, coef0) for a, b in ((g, g), (g, r), (r, r)))
        values[i] = mmd2_unbiased(k_gg, k_gr, k_rr)
    return KIDResult(float(values.mean()), float(values.std()), subsets, subset_size, values)


@METRICS.register("kid")
def kid_metric(inputs: EvalInputs, subsets: int = 100, subset_size: int = KID_SUBSET_SIZE) -> list[ProtocolCard]:
    """Kernel distance of evaluator features (Binkowski et al., 2018): mean and std over subsets."""
    inputs.require("kid", "gen_features", "ref_features")
    n_gen, n_ref = len(inputs.gen_features), len(inputs.ref_features)
    warnings = []
    size = min(subset_size, n_gen, n_ref)
    if size < subset_size:
        warnings.append(
            f"KID subsets of {size:,} samples instead of {subset_size:,} (only {min(n_gen, n_ref):,} available): "
            "the estimate stays unbiased but its spread grows; see the std over subsets"
        )
    if size > min(n_gen, n_ref) // 2:
        # Subsets as large as a whole set are that set reshuffled: every subset gives the same MMD and the
        # std over subsets is ~0, a spread that says nothing. Halves differ from draw to draw, so their
        # spread is a (rough: the halves overlap) uncertainty; the mean stays unbiased at any size.
        size = max(2, min(n_gen, n_ref) // 2)
        warnings.append(
            f"KID subsets halved to {size:,} samples: subsets of all {min(n_gen, n_ref):,} samples would all be "
            "the same set and their std would be a meaningless ~0; the std over overlapping halves is a rough spread"
        )
    result = kid_from_features(inputs.gen_features, inputs.ref_features, subsets, size, seed=inputs.seed)
    # The std over subsets is the uncertainty to quote: KID = mean ± std.
    if result.std > abs(result.mean):
        warnings.append(
            f"KID's spread over subsets ({result.std:.3g}) exceeds its mean ({result.mean:.3g}): "
            "the score cannot be told apart from zero at this sample size"
        )
    extra = {"std": result.std, "subsets": subsets, "subset_size": size, "kernel": "poly(degree=3, gamma=1/D, coef0=1)"}
    return [ProtocolCard("kid", result.mean, n_gen, n_ref, **inputs.protocol(), warnings=warnings, extra=extra)]
