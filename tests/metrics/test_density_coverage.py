"""Density and coverage (Naeem et al., 2020): by hand on 1-D points, identical sets, the authors' `prdc`
package on random features, the registered metric's cards."""
import pytest
import torch

from ganforge.errors import ConfigError, DataError
from ganforge.metrics import EvalInputs, compute_metrics
from ganforge.metrics.density_coverage import density_coverage
from ganforge.metrics.evaluate import check_best_metric


def features(n, d, seed, shift=0.0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift


def column(*xs):
    return torch.tensor(xs, dtype=torch.float64)[:, None]


def test_by_hand_on_the_line():
    # Real 0, 1, 2, 4 with k = 1: ball radii 1, 1, 1, 2.
    real = column(0, 1, 2, 4)
    # 0.5 lies in the balls of 0 and 1; 3.5 in that of 4; 9 in none: density (2 + 1 + 0) / (1 * 3) = 1.
    # Covered: 0 and 1 (0.5 away), 4 (0.5 away, radius 2); not 2 (nearest fake 1.5 away): 3 / 4.
    assert density_coverage(column(0.5, 3.5, 9), real, k=1)[:2] == pytest.approx((1.0, 0.75))
    # 3 sits on the boundary of 2's ball (distance 1 = radius): outside, as in the authors' code; inside 4's.
    assert density_coverage(column(3), real, k=1)[:2] == pytest.approx((1.0, 0.25))
    # k = 2: radii 2, 1, 2, 3. Fake 1.5 is inside all four balls: density 4 / (2 * 1); coverage 1.
    assert density_coverage(column(1.5), real, k=2)[:2] == pytest.approx((2.0, 1.0))


def test_identical_sets_cover_everything_at_density_near_one():
    real = features(500, 4, seed=3)
    density, coverage, k = density_coverage(real, real)
    assert k == 5 and coverage == 1.0 and density == pytest.approx(1.0, abs=0.1)
    far = features(200, 4, seed=4, shift=100.0)
    assert density_coverage(far, real)[:2] == (0.0, 0.0)


def test_equals_the_prdc_package_on_random_features():
    prdc = pytest.importorskip("prdc", reason="the authors' prdc package is not installed (pip install prdc)")
    gen, ref = features(300, 10, seed=1, shift=0.3, scale=0.8), features(400, 10, seed=2)
    theirs = prdc.compute_prdc(real_features=ref.numpy(), fake_features=gen.numpy(), nearest_k=5)
    ours = density_coverage(gen, ref, k=5, batch_size=64)  # small batches: the batching must not matter
    assert (ours.density, ours.coverage) == pytest.approx((theirs["density"], theirs["coverage"]), rel=1e-9)
    assert ours.density > 1 and 0 < ours.coverage < 1  # fakes crowd the dense centre, missing the rim


def test_the_dc_metric_gives_density_and_coverage_cards():
    gen, ref = features(60, 3, seed=5), features(80, 3, seed=6)
    cards = compute_metrics(["dc"], EvalInputs(gen_features=gen, ref_features=ref, extractor="x", resize="none"))
    assert [c.metric for c in cards] == ["density", "coverage"]
    assert [c.value for c in cards] == pytest.approx(list(density_coverage(gen, ref)[:2]))
    assert all(c.extra == {"k": 5} and c.n_gen == 60 and c.n_ref == 80 and c.extractor == "x" for c in cards)
    assert "inflates coverage" in cards[0].warnings[0]
    with pytest.raises(ConfigError, match="needs gen_features"):
        compute_metrics(["dc"], EvalInputs(ref_features=ref))


def test_bad_inputs_and_best_metric():
    with pytest.raises(DataError, match="k=5 needs"):
        density_coverage(features(10, 2, 0), features(5, 2, 1))
    with pytest.raises(ConfigError, match="k >= 1"):
        density_coverage(features(10, 2, 0), features(10, 2, 1), k=0)
    check_best_metric("coverage", ["dc"])
    with pytest.raises(ConfigError, match="unknown best_metric 'density'"):  # ideal is ~1: neither direction
        check_best_metric("density", ["dc"])


def test_scoring_adds_the_real_vs_real_baseline_to_dc_cards():
    from ganforge.metrics.evaluate import Reference, score
    from ganforge.metrics.evaluator import resolve_evaluator

    ref, train, gen = features(80, 2, seed=7), features(80, 2, seed=8), features(50, 2, seed=9, scale=0.5)
    reference = Reference("points", "ring8", ref.float(), train.float(), ref.float(), train.float())
    cards = score(gen.float(), reference, resolve_evaluator("ring8", "points", 0), ["dc"])
    baseline = density_coverage(train[:50], ref)
    assert [c.metric for c in cards] == ["density", "coverage"]
    assert [c.extra["real_vs_real"] for c in cards] == pytest.approx(list(baseline[:2]))
    assert all(c.extra["real_vs_real_n"] == 50 for c in cards)
