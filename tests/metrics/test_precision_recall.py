"""Improved precision/recall: equal to torch-fidelity's on the same features; exact on constructed sets."""
import pytest
import torch
from torch_fidelity.metric_prc import prc_features_to_metric

from ganforge.errors import DataError
from ganforge.metrics import EvalInputs, compute_metrics
from ganforge.metrics.precision_recall import precision_recall


def features(n, d, seed, shift=0.0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift


def test_equals_torch_fidelity_on_the_same_features():
    gen, ref = features(300, 10, seed=1, shift=0.4, scale=0.7), features(400, 10, seed=2)
    theirs = prc_features_to_metric(
        gen, ref, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False
    )
    ours = precision_recall(gen, ref, k=3, batch_size=64)  # small batches: the batching must not matter
    # torch-fidelity averages in float32; the counts behind the shares are the same.
    assert (ours.precision, ours.recall) == pytest.approx((theirs["precision"], theirs["recall"]), rel=1e-6)
    assert 0 < ours.precision < 1 and 0 < ours.recall < 1


def test_identical_disjoint_and_half_real_sets():
    ref = features(200, 5, seed=3)
    assert precision_recall(ref, ref) == pytest.approx((1.0, 1.0, 3))
    far = features(200, 5, seed=4, shift=100.0)
    assert precision_recall(far, ref)[:2] == (0.0, 0.0)
    # Half the generated samples are real ones, half far away: precision is exactly one half.
    half = torch.cat([ref[:100], far[:100]])
    assert precision_recall(half, ref).precision == 0.5


def test_too_few_samples_is_a_clear_error():
    with pytest.raises(DataError, match="k=3 needs"):
        precision_recall(features(3, 2, 0), features(10, 2, 1))


def test_cards_for_precision_and_recall():
    gen, ref = features(100, 4, seed=5), features(120, 4, seed=6)
    cards = compute_metrics(["pr"], EvalInputs(gen_features=gen, ref_features=ref, ref_split="test"))
    assert [c.metric for c in cards] == ["precision", "recall"]
    assert (cards[0].value, cards[1].value) == precision_recall(gen, ref)[:2]
    assert all("precision/recall from 100 samples" in c.warnings[0] for c in cards)
