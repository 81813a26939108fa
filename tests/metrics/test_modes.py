"""Mode coverage on constructed sample sets: all modes, one mode, off-mode noise."""
import math

import pytest
import torch

from ganforge.data.synthetic import grid25_means, ring8_means, sample_mixture
from ganforge.errors import ConfigError, DataError
from ganforge.metrics import EvalInputs, compute_metrics
from ganforge.metrics.modes import (
    class_coverage,
    classify_stacked_mnist,
    expected_modes_covered,
    kl_divergence,
    mixture_coverage,
    stacked_mnist_coverage,
    stacked_mnist_labels,
)


def test_class_coverage_all_modes_one_mode_and_a_foreign_class():
    every = torch.arange(10).repeat(7)
    cov = class_coverage(every, 10)
    assert (cov.modes_covered, cov.kl_gen_data, cov.n) == (10, 0.0, 70)
    assert cov.histogram.tolist() == [7] * 10
    one = class_coverage(torch.full((50,), 4), 10)
    assert one.modes_covered == 1 and one.kl_gen_data == pytest.approx(math.log(10), abs=1e-12)
    # Data without class 9: a generator that makes class 9 has infinite KL(gen || data).
    data = torch.tensor([1.0] * 9 + [0.0])
    assert class_coverage(every, 10, data).kl_gen_data == math.inf
    assert class_coverage(torch.arange(9), 10, data).kl_gen_data == pytest.approx(0.0, abs=1e-12)


def test_kl_divergence_by_hand():
    assert kl_divergence([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]) == pytest.approx(math.log(2), abs=1e-12)


@pytest.mark.parametrize("name, means_fn", [("ring8", ring8_means), ("grid25", grid25_means)])
def test_mixture_points_on_every_mode_on_one_mode_and_off_mode(name, means_fn):
    means = means_fn()
    k = len(means)
    every = mixture_coverage(means.repeat(4, 1), name)
    assert (every.modes_covered, every.high_quality_share, every.kl_gen_data) == (k, 1.0, 0.0)
    one = mixture_coverage(means[[0] * 40], name)
    assert one.modes_covered == 1 and one.kl_gen_data == pytest.approx(math.log(k), abs=1e-12)
    # Half the samples halfway between two modes (far beyond 3 std of either): not high quality.
    off = (means[0] + means[1]) / 2
    half = mixture_coverage(torch.cat([means, off.repeat(k, 1)]), name)
    assert (half.modes_covered, half.high_quality_share, half.kl_gen_data) == (k, 0.5, 0.0)
    none = mixture_coverage(off.repeat(10, 1), name)
    assert (none.modes_covered, none.high_quality_share, none.kl_gen_data) == (0, 0.0, math.inf)


def test_samples_from_the_true_mixture_are_high_quality_at_the_gaussian_rate():
    # A 2D isotropic Gaussian puts 1 - exp(-9/2) = 98.89 % of its mass within 3 std.
    points, _ = sample_mixture("ring8", 20_000, seed=0)
    cov = mixture_coverage(points, "ring8")
    assert cov.modes_covered == 8
    assert cov.high_quality_share == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    assert cov.kl_gen_data < 0.002


def test_stacked_mnist_modes_from_channel_digits():
    digits = torch.cartesian_prod(torch.arange(10), torch.arange(10), torch.arange(10))
    labels = stacked_mnist_labels(digits)
    assert labels.tolist() == list(range(1000))
    full = stacked_mnist_coverage(labels)
    assert (full.modes_covered, full.kl_gen_data) == (1000, 0.0)
    collapsed = stacked_mnist_coverage(labels[[123] * 100])
    assert collapsed.modes_covered == 1 and collapsed.kl_gen_data == pytest.approx(math.log(1000), abs=1e-12)
    with pytest.raises(DataError, match=r"\(N, 3\) digits"):
        stacked_mnist_labels(torch.tensor([[1, 2, 10]]))


def test_classify_stacked_mnist_reads_each_channel_in_rgb_order():
    # A stand-in digit classifier that reads the digit d from a channel filled with d / 10.
    def classifier(x):
        digit = (x.mean((1, 2, 3)) * 10).round().long()
        return torch.nn.functional.one_hot(digit, 10).float()

    digits = torch.tensor([[1, 2, 3], [9, 0, 5]])
    images = (digits.float() / 10)[:, :, None, None].expand(2, 3, 28, 28)
    assert classify_stacked_mnist(images, classifier, batch_size=1).tolist() == [123, 905]


def test_expected_coverage_of_a_perfect_generator():
    assert expected_modes_covered(1, [0.5, 0.5]) == 1.0
    assert expected_modes_covered(2, [0.5, 0.5]) == 1.5
    assert expected_modes_covered(26_000, [1e-3] * 1000) == pytest.approx(1000, abs=0.01)


def test_cards_from_points_and_from_labels():
    cards = compute_metrics(["modes"], EvalInputs(gen_points=ring8_means()[[0, 1, 2]], mixture="ring8"))
    assert [(c.metric, c.value) for c in cards] == [
        ("modes/covered", 3.0),
        ("modes/kl", pytest.approx(math.log(8 / 3))),
        ("modes/high_quality", 1.0),
    ]
    assert "cover only about" in cards[0].warnings[0] and cards[0].extractor is None
    logits = torch.nn.functional.one_hot(torch.arange(10).repeat(100), 10).float()
    covered, kl = compute_metrics(["modes"], EvalInputs(gen_logits=logits, extractor="mnist-cnn"))
    assert (covered.value, kl.value, covered.warnings) == (10.0, 0.0, [])


def test_missing_inputs_and_unknown_mixture_are_clear_errors():
    with pytest.raises(ConfigError, match="gen_points"):
        compute_metrics(["modes"], EvalInputs())
    with pytest.raises(ConfigError, match="valid: grid25, ring8"):
        mixture_coverage(torch.zeros(3, 2), "ring9")
