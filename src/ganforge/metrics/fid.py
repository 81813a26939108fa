"""Fréchet distance between two feature sets (FID when the features are Inception-v3 pool3).

Heusel et al. (2017) fit a Gaussian to each feature set and report the squared Fréchet (Wasserstein-2)
distance between the two Gaussians:

    FID = |mu_g - mu_r|^2 + tr(S_g) + tr(S_r) - 2 tr((S_g S_r)^(1/2))

Why this is written here rather than called from torch-fidelity: its FID function is internal (not part
of its public API) and takes its own statistics dicts, while ganforge needs FID on features from any
extractor, on cached reference statistics, and with clear errors for bad input. The maths is the same
and `tests/metrics/test_fid.py` checks equality with torch-fidelity's own function on the same features.

All work is in float64. The trace of the matrix square root uses the symmetric form
tr((S_g S_r)^(1/2)) = tr((A S_r A)^(1/2)) with A = S_g^(1/2): S_g S_r is not symmetric and its computed
eigenvalues can come out complex or negative from round-off, while A S_r A is symmetric positive
semi-definite, so `eigvalsh` gives real eigenvalues and only round-off below zero is clipped.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from . import METRICS
from ._arrays import as_float64, check_min_samples, check_same_width
from .inputs import EvalInputs
from .protocol import FID_MIN_SAMPLES, FID_PAPER_SAMPLES, ProtocolCard


@dataclass(frozen=True)
class FeatureStats:
    """Mean (D,) and unbiased covariance (D, D) of N feature vectors, float64 (as np.cov)."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    def save(self, path: str | os.PathLike) -> None:
        """Write to an .npz (arrays `mu`, `sigma`, `n`), e.g. to cache a reference set's statistics."""
        np.savez(path, mu=self.mu, sigma=self.sigma, n=np.int64(self.n))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureStats":
        try:
            with np.load(path) as f:
                return cls(f["mu"].astype(np.float64), f["sigma"].astype(np.float64), int(f["n"]))
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"cannot read feature statistics from {path}: {e}") from None


def feature_stats(features) -> FeatureStats:
    """Fit the Gaussian of FID to (N, D) features: mean and unbiased (N - 1) covariance."""
    x = as_float64(features, "features")
    check_min_samples(x, 2, "features", "a covariance needs two samples")
    return FeatureStats(mu=x.mean(0), sigma=np.atleast_2d(np.cov(x, rowvar=False)), n=x.shape[0])


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (round-off negative eigenvalues set to 0)."""
    w, v = np.linalg.eigh(sigma)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(stats_a: FeatureStats, stats_b: FeatureStats) -> float:
    """Squared Fréchet distance between the Gaussians N(mu_a, S_a) and N(mu_b, S_b)."""
    if stats_a.mu.shape != stats_b.mu.shape:
        raise DataError(f"feature statistics differ in size: {stats_a.mu.shape[0]} and {stats_b.mu.shape[0]}")
    diff = stats_a.mu - stats_b.mu
    root_a = _psd_sqrt(stats_a.sigma)
    middle = root_a @ stats_b.sigma @ root_a
    middle = (middle + middle.T) / 2  # symmetric up to round-off; make it exactly so for eigvalsh
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum()
    fid = diff @ diff + np.trace(stats_a.sigma) + np.trace(stats_b.sigma) - 2.0 * tr_covmean
    # A squared distance: a value below zero can only be round-off (e.g. a set against itself).
    return float(max(fid, 0.0))


def fid_from_features(gen_features, ref_features) -> float:
    """FID between two (N, D) and (M, D) feature sets."""
    gen, ref = as_float64(gen_features, "generated features"), as_float64(ref_features, "reference features")
    check_same_width(gen, ref, "generated and reference features")
    return frechet_distance(feature_stats(gen), feature_stats(ref))


def fid_sampling_floor(ref_features, n: int, repeats: int = 3, seed: int = 0) -> tuple[float, float]:
    """FID that a perfect generator would score with `n` samples: mean and std over `repeats` draws.

    Each draw takes `n` random reference samples as the "generated" set and scores them against the
    remaining M - n reference samples (disjoint, so no sample is compared with itself). FID's estimator
    is biased upward by roughly a constant over n (Chong & Forsyth, 2020), so this floor is the part of a
    reported FID that comes from the sample size alone. Needs M >= n + 2.
    """
    ref = as_float64(ref_features, "reference features")
    if ref.shape[0] < n + 2:
        raise DataError(f"the sampling floor at n={n} needs at least {n + 2} reference samples, got {ref.shape[0]}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(repeats):
        perm = rng.permutation(ref.shape[0])
        values.append(frechet_distance(feature_stats(ref[perm[:n]]), feature_stats(ref[perm[n:]])))
    return float(np.mean(values)), float(np.std(values))


def fid_warnings(n_gen: int, n_ref: int, dim: int, floor: tuple[float, float] | None) -> list[str]:
    """Reliability warnings for an FID from n_gen generated and n_ref reference D-dim features."""
    warnings = []
    n = min(n_gen, n_ref)
    if n <= dim:
        warnings.append(
            f"FID from {n:,} samples of {dim}-dimensional features: the covariance is singular (rank < {dim}); "
            "the score is dominated by sampling error"
        )
    if n_gen < FID_MIN_SAMPLES:
        how_much = (
            f"a generator that sampled the reference data exactly would score about {floor[0]:.4g} "
            f"(± {floor[1]:.2g}) at this sample size"
            if floor is not None
            else "the reference set was too small to measure by how much"
        )
        warnings.append(
            f"FID from {n_gen:,} generated samples (fewer than {FID_MIN_SAMPLES:,}) is biased upward: {how_much}; "
            "the bias shrinks roughly as 1/n"
        )
    elif n_gen < FID_PAPER_SAMPLES:
        warnings.append(
            f"FID from {n_gen:,} generated samples: papers report FID-10k or FID-50k, and FID's upward bias "
            "falls with n, so compare only with scores from the same number of samples"
        )
    return warnings


@METRICS.register("fid")
def fid_metric(inputs: EvalInputs, floor_repeats: int = 3) -> list[ProtocolCard]:
    """Fréchet distance of evaluator features (Heusel et al., 2017), with its sample-size bias estimate."""
    inputs.require("fid", "gen_features", "ref_features")
    gen = as_float64(inputs.gen_features, "generated features")
    ref = as_float64(inputs.ref_features, "reference features")
    check_same_width(gen, ref, "generated and reference features")
    value = frechet_distance(feature_stats(gen), feature_stats(ref))
    n_gen, n_ref, dim = gen.shape[0], ref.shape[0], gen.shape[1]
    floor = None
    if n_gen < FID_MIN_SAMPLES and n_ref >= n_gen + 2:
        floor = fid_sampling_floor(ref, n_gen, repeats=floor_repeats, seed=inputs.seed)
    extra = {"feature_dim": dim}
    if floor is not None:
        extra.update(sampling_floor_mean=floor[0], sampling_floor_std=floor[1], sampling_floor_repeats=floor_repeats)
    warnings = fid_warnings(n_gen, n_ref, dim, floor)
    return [ProtocolCard("fid", value, n_gen, n_ref, **inputs.protocol(), warnings=warnings, extra=extra)]


__all__ = [
    "FeatureStats",
    "feature_stats",
    "frechet_distance",
    "fid_from_features",
    "fid_sampling_floor",
    "fid_warnings",
    "fid_metric",
]
