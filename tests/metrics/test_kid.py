"""KID: equal to torch-fidelity's for the same features and seed; exact on a hand-computed case."""
import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric

from ganforge.errors import DataError
from ganforge.metrics import EvalInputs, compute_metrics
from ganforge.metrics.kid import kid_from_features


def features(n, d, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


@pytest.mark.parametrize("subset_size, shift", [(50, 0.2), (120, 0.0)])
def test_equals_torch_fidelity_for_the_same_seed(subset_size, shift):
    gen, ref = features(150, 16, seed=1, shift=shift), features(200, 16, seed=2)
    theirs = kid_features_to_metric(
        gen, ref, kid_subsets=20, kid_subset_size=subset_size, rng_seed=7, verbose=False
    )
    ours = kid_from_features(gen, ref, subsets=20, subset_size=subset_size, seed=7)
    torch.testing.assert_close(ours.mean, theirs["kernel_inception_distance_mean"], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(ours.std, theirs["kernel_inception_distance_std"], rtol=1e-9, atol=1e-12)


def test_unbiased_mmd_by_hand():
    # Linear kernel k(x, y) = x y on 1-D features, every sample in every subset:
    # sum_{i!=j} g_i g_j / 6 = (36 - 14) / 6, sum_{i!=j} r_i r_j / 6 = (36 - 26) / 6, cross 2 * 2 * 2 = 8.
    gen = torch.tensor([[1.0], [2.0], [3.0]])
    ref = torch.tensor([[0.0], [1.0], [5.0]])
    result = kid_from_features(gen, ref, subsets=4, subset_size=3, degree=1, gamma=1.0, coef0=0.0)
    torch.testing.assert_close(result.mean, 22 / 6 + 10 / 6 - 8, rtol=1e-12, atol=1e-12)
    assert result.std == pytest.approx(0.0, abs=1e-12)


def test_subset_larger_than_the_samples_is_a_clear_error():
    with pytest.raises(DataError, match="subset size is 1000"):
        kid_from_features(features(100, 4, 0), features(2000, 4, 1))


def test_card_reports_std_and_shrinks_subsets_with_a_warning():
    gen, ref = features(300, 8, seed=3, shift=0.5), features(400, 8, seed=4)
    inputs = EvalInputs(gen_features=gen, ref_features=ref, ref_split="test")
    (card,) = compute_metrics(["kid"], inputs, {"kid": {"subsets": 10}})
    # 300 generated samples: subsets of all 300 would be one set reshuffled, so halves (150) are used.
    expected = kid_from_features(gen, ref, subsets=10, subset_size=150, seed=2020)
    assert card.value == expected.mean and card.extra["std"] == expected.std > 0
    assert card.extra["subset_size"] == 150 and card.seed == 2020
    assert "subsets of 300 samples instead of 1,000" in card.warnings[0]
    assert "halved to 150" in card.warnings[1]


def test_subsets_of_a_whole_set_have_no_spread_so_the_card_halves_them():
    gen, ref = features(1000, 8, seed=3, shift=0.5), features(1000, 8, seed=4)
    whole = kid_from_features(gen, ref, subsets=10, subset_size=1000)
    assert whole.std < 1e-9 * abs(whole.mean)  # the std over "subsets" that are the whole sets is meaningless
    (card,) = compute_metrics(["kid"], EvalInputs(gen_features=gen, ref_features=ref, ref_split="test"), {"kid": {"subsets": 10}})
    assert card.extra["subset_size"] == 500 and card.extra["std"] > 1e-3 * abs(card.value)
    assert any("halved to 500" in w for w in card.warnings)
