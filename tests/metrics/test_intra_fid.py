"""Per-class FID (intra-FID, metrics/conditional.py): each class's generated features against that class's
held-out features, with a real-vs-real floor per class."""
import pytest
import torch
from torch.testing import assert_close

from ganforge.errors import ConfigError
from ganforge.metrics.conditional import intra_fid_metric, per_class_fid
from ganforge.metrics.evaluate import Reference, score
from ganforge.metrics.evaluator import Evaluator
from ganforge.metrics.features import PixelFeatures
from ganforge.metrics.fid import fid_from_features
from ganforge.metrics.inputs import EvalInputs

K, D = 4, 3


def clusters(n_per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(K * n, D) features: class k ~ N(4 k e_0, I), far apart; and their (K * n,) classes."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(K).repeat_interleave(n_per_class)
    features = torch.randn(len(labels), D, generator=g, dtype=torch.float64)
    features[:, 0] += 4.0 * labels
    return features, labels


def test_identical_features_per_class_score_zero():
    ref, ref_y = clusters(30, seed=0)
    per_class = per_class_fid(ref, ref_y, ref, ref_y, ref, ref_y, K)
    for k, c in enumerate(per_class):
        assert c["fid"] == pytest.approx(0.0, abs=1e-9) and c["floor"] == pytest.approx(0.0, abs=1e-9)
        assert (c["n_gen"], c["n_ref"], c["n_train"]) == (30, 30, 30)


def test_a_generator_that_draws_the_wrong_class_scores_worse_class_by_class():
    ref, ref_y = clusters(50, seed=0)
    train, train_y = clusters(200, seed=1)
    gen, asked = clusters(100, seed=2)  # a right G: each class's samples come from that class
    right = per_class_fid(gen, asked, ref, ref_y, train, train_y, K)
    wrong = per_class_fid(gen, (asked + 1) % K, ref, ref_y, train, train_y, K)  # asked for k+1, it drew k
    for k in range(K):
        assert right[k]["fid"] < 1.0 and wrong[k]["fid"] > 10.0  # the class means are 4 apart: FID about 16
        assert right[k]["floor"] == wrong[k]["floor"]  # the floor reads only real images
        # the floor: as many training images of class k as G drew for it, against held-out class k
        assert_close(right[k]["floor"], fid_from_features(train[train_y == k][:100], ref[ref_y == k]))


def test_the_card_through_score_with_its_floor_and_per_class_values():
    """Pixels as features: 2x2 one-channel images whose pixels are a class's cluster (plus a constant pixel)."""
    def images(features):
        return torch.cat([features, torch.zeros(len(features), 1, dtype=features.dtype)], 1).float().view(-1, 1, 2, 2) / 20

    ref, ref_y = clusters(20, seed=0)
    train, train_y = clusters(60, seed=1)
    gen, asked = clusters(30, seed=2)
    reference = Reference("image", "fake", images(ref), images(train), ref_labels=ref_y, train_labels=train_y)
    ev = Evaluator(PixelFeatures(), note="pixels")
    reference.ref_features, reference.train_features = ev.extractor(reference.ref), ev.extractor(reference.train)
    cards = score(images(gen), reference, ev, ["intra-fid"], options={"intra-fid": {"classes": asked}})
    (card,) = cards
    assert card.metric == "conditional/fid" and card.n_gen == 120 and card.n_ref == 80
    per_class = per_class_fid(ev.extractor(images(gen)), asked, reference.ref_features, ref_y, reference.train_features, train_y, K)
    assert_close(card.extra["per_class"], [c["fid"] for c in per_class])
    assert_close(card.value, sum(c["fid"] for c in per_class) / K)
    assert_close(card.extra["real_vs_real"], sum(c["floor"] for c in per_class) / K)
    assert card.extra["n_train_per_class"] == [30] * K and card.extra["real_vs_real_n"] == 120
    with pytest.raises(ConfigError, match="metric 'intra-fid' scores class-conditional runs: it needs the classes G was given"):
        score(images(gen), reference, ev, ["intra-fid"])
    unlabelled = Reference("image", "faces", reference.ref, reference.train, ref_labels=torch.full((80,), -1))
    with pytest.raises(ConfigError, match="the data 'faces' has no class labels"):
        score(images(gen), unlabelled, ev, ["intra-fid"], options={"intra-fid": {"classes": asked}})


def test_a_class_with_too_few_samples_is_left_out_of_the_mean_with_a_warning():
    ref, ref_y = clusters(20, seed=0)
    gen, asked = clusters(10, seed=2)
    asked[asked == 3] = 2  # class 3 never asked for...
    asked[0] = 3  # ...but once: one sample has no covariance
    inputs = EvalInputs(gen_features=gen, ref_features=ref, ref_labels=ref_y, train_features=ref, train_labels=ref_y)
    (card,) = intra_fid_metric(inputs, classes=asked)
    assert card.extra["per_class"][3] is None and card.extra["classes_scored"] == 3
    assert any("classes 3 have fewer than two" in w for w in card.warnings)
