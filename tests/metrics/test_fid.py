"""FID: equal to torch-fidelity's on the same features, zero for a set against itself, and equal to the
closed form for Gaussians."""
import json
import math

import numpy as np
import pytest
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from ganforge.errors import DataError
from ganforge.metrics import EvalInputs, compute_metrics
from ganforge.metrics.fid import FeatureStats, feature_stats, fid_from_features, fid_sampling_floor, frechet_distance


def random_features(n, d, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)  # correlated features
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ mix + shift


def exact_moment_samples(mu, sigma, n, seed):
    """n samples whose sample mean is exactly mu and unbiased sample covariance exactly sigma."""
    x = np.random.default_rng(seed).standard_normal((n, len(mu)))
    x -= x.mean(0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False))).T  # sample covariance -> I
    return x @ np.linalg.cholesky(sigma).T + mu


@pytest.mark.parametrize("n_gen, n_ref, d", [(600, 500, 32), (300, 300, 64), (50, 80, 64)])
def test_equals_torch_fidelity_on_the_same_features(n_gen, n_ref, d):
    gen, ref = random_features(n_gen, d, seed=1, shift=0.3), random_features(n_ref, d, seed=2)
    theirs = fid_statistics_to_metric(fid_features_to_statistics(gen), fid_features_to_statistics(ref), verbose=False)
    torch.testing.assert_close(fid_from_features(gen, ref), theirs["frechet_inception_distance"], rtol=1e-4, atol=0)


def test_a_set_against_itself_scores_zero():
    x = random_features(400, 48, seed=3)
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-9 * np.trace(np.cov(x.numpy(), rowvar=False)))


def test_commuting_gaussians_match_closed_form():
    # Same eigenvectors: FID = |mu_a - mu_b|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    a, b = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([4.0, 1.0, 9.0, 0.25, 5.0])
    mu_a, mu_b = np.arange(5.0), np.arange(5.0)[::-1].copy()
    stats_a = FeatureStats(mu_a, q @ np.diag(a) @ q.T, 1000)
    stats_b = FeatureStats(mu_b, q @ np.diag(b) @ q.T, 1000)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    torch.testing.assert_close(frechet_distance(stats_a, stats_b), float(expected), rtol=1e-10, atol=1e-10)


def gaussian_2d_closed_form(mu_a, s_a, mu_b, s_b):
    # For 2x2 matrices with non-negative eigenvalues, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
    m = s_a @ s_b
    tr_sqrt = math.sqrt(np.trace(m) + 2 * math.sqrt(np.linalg.det(m)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * tr_sqrt)


def test_gaussian_feature_sets_match_closed_form():
    # Non-commuting covariances; feature sets whose sample moments are exactly the Gaussians' moments.
    mu_a, s_a = np.array([0.0, 1.0]), np.array([[2.0, 0.9], [0.9, 1.0]])
    mu_b, s_b = np.array([1.5, -0.5]), np.array([[0.5, -0.2], [-0.2, 3.0]])
    gen, ref = exact_moment_samples(mu_a, s_a, 500, 0), exact_moment_samples(mu_b, s_b, 700, 1)
    expected = gaussian_2d_closed_form(mu_a, s_a, mu_b, s_b)
    torch.testing.assert_close(fid_from_features(gen, ref), expected, rtol=1e-9, atol=1e-9)


def test_saved_statistics_give_the_same_fid(tmp_path):
    gen, ref = random_features(200, 16, seed=4, shift=1.0), random_features(300, 16, seed=5)
    feature_stats(ref).save(tmp_path / "ref.npz")
    loaded = FeatureStats.load(tmp_path / "ref.npz")
    assert loaded.n == 300
    assert frechet_distance(feature_stats(gen), loaded) == fid_from_features(gen, ref)


def test_bad_features_are_clear_errors():
    with pytest.raises(DataError, match="different feature sizes"):
        fid_from_features(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(DataError, match="NaN"):
        fid_from_features(torch.full((10, 3), float("nan")), torch.zeros(10, 3))
    with pytest.raises(DataError, match=r"\(samples, features\)"):
        fid_from_features(torch.zeros(10), torch.zeros(10))


def test_sampling_floor_falls_with_more_samples():
    ref = random_features(2000, 8, seed=6)
    small, _ = fid_sampling_floor(ref, 100, repeats=3)
    large, _ = fid_sampling_floor(ref, 400, repeats=3)
    assert small > 2 * large > 0


def test_card_warns_of_upward_bias_with_few_samples():
    gen, ref = random_features(300, 8, seed=7, shift=0.5), random_features(1500, 8, seed=8)
    (card,) = compute_metrics(["fid"], EvalInputs(gen_features=gen, ref_features=ref, ref_split="test", seed=1))
    assert card.metric == "fid" and (card.n_gen, card.n_ref) == (300, 1500)
    assert card.value == fid_from_features(gen, ref)
    floor = card.extra["sampling_floor_mean"]
    assert floor > 0 and f"{floor:.4g}" in card.warnings[0] and "biased upward" in card.warnings[0]
    assert json.loads(card.to_json())["extra"]["sampling_floor_mean"] == floor
