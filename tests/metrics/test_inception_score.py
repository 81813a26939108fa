"""Inception Score: equal to torch-fidelity's on the same logits; exact on one-hot probabilities."""
import math

import pytest
import torch
from torch_fidelity.metric_isc import isc_features_to_metric

from ganforge.errors import ConfigError, DataError
from ganforge.metrics import EvalInputs, compute_metrics
from ganforge.metrics.inception_score import inception_score


def test_equals_torch_fidelity_on_the_same_logits():
    logits = 3 * torch.randn(500, 20, generator=torch.Generator().manual_seed(0))
    theirs = isc_features_to_metric(logits, splits=5, shuffle=True, rng_seed=3)
    ours = inception_score(logits, splits=5, seed=3)
    torch.testing.assert_close(ours.mean, theirs["inception_score_mean"], rtol=1e-9, atol=0)
    torch.testing.assert_close(ours.std, theirs["inception_score_std"], rtol=1e-9, atol=1e-12)


def test_one_hot_probabilities_give_the_number_of_classes():
    # Confident and evenly spread over K classes: KL(p(y|x) || p(y)) = log K for every sample, IS = K.
    probs = torch.eye(10).repeat(20, 1)
    assert inception_score(probs=probs, splits=1) == pytest.approx((10.0, 0.0, 1), rel=1e-12)
    # One class only, or no confidence at all: IS = 1.
    assert inception_score(probs=torch.eye(10)[[3] * 50], splits=1).mean == pytest.approx(1.0, abs=1e-12)
    assert inception_score(probs=torch.full((50, 10), 0.1), splits=1).mean == pytest.approx(1.0, abs=1e-12)


def test_logits_and_probabilities_agree():
    logits = torch.randn(100, 7, generator=torch.Generator().manual_seed(1))
    a = inception_score(logits, splits=4, seed=5)
    b = inception_score(probs=logits.double().softmax(1), splits=4, seed=5)
    torch.testing.assert_close((a.mean, a.std), (b.mean, b.std), rtol=1e-9, atol=1e-12)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ConfigError, match="exactly one of"):
        inception_score(torch.zeros(4, 3), probs=torch.zeros(4, 3))
    with pytest.raises(DataError, match="sum to 1"):
        inception_score(probs=torch.ones(4, 3), splits=1)
    with pytest.raises(ConfigError, match="splits"):
        inception_score(torch.zeros(4, 3), splits=5)


def test_card_warns_with_few_samples():
    logits = torch.log(torch.eye(10).repeat(30, 1) + 1e-12)
    (card,) = compute_metrics(["is"], EvalInputs(gen_logits=logits), {"is": {"splits": 1}})
    assert card.value == pytest.approx(10.0, rel=1e-6) and card.n_gen == 300 and card.ref_split is None
    assert "IS from 300 samples" in card.warnings[0] and card.extra["splits"] == 1
    assert math.isfinite(card.extra["std"])
