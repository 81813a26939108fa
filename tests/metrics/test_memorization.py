"""Memorization flags exact copies of training images and not fresh samples."""
import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import get_dataset
from ganforge.errors import ConfigError
from ganforge.metrics import EvalInputs, compute_metrics
from ganforge.metrics.memorization import memorization_report, nearest_neighbours, save_memorization_png


@pytest.fixture(scope="module")
def mnist():
    """Training digits, held-out digits (the baseline) and fresh digits (novel samples), all disjoint."""
    train = get_dataset("mnist5k", "train").dataset.images[:2000]
    test = get_dataset("mnist5k", "test").dataset.images
    return train, test[:400], test[400:]


def random_features(images, d=32):
    """A fixed random projection of the pixels: a stand-in evaluator feature space."""
    proj = torch.randn(images[0].numel(), d, generator=torch.Generator().manual_seed(0))
    return images.flatten(1) @ proj


def test_nearest_neighbours_finds_the_copied_index():
    bank = torch.randn(50, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    nn = nearest_neighbours(bank[[7, 3, 7]] + 1e-4, bank)
    assert nn.index.tolist() == [7, 3, 7] and (nn.distance < 1e-3).all()


def test_exact_copies_are_flagged_and_fresh_samples_are_not(mnist):
    train, heldout, fresh = mnist
    copies = train[torch.arange(0, 2000, 40)]  # 50 training images handed back verbatim
    gen = torch.cat([copies, fresh[:50]])
    report = memorization_report(
        gen, train, heldout, random_features(gen), random_features(train), random_features(heldout), quantile=0.01
    )
    for space in ("pixels", "features"):
        flags = report.spaces[space].near_copy
        assert flags[:50].all(), space  # every copy
        assert flags[50:].sum() <= 3, space  # fresh digits: about 1 % expected, as for held-out ones
    assert report.spaces["pixels"].neighbours.index[:50].tolist() == list(range(0, 2000, 40))
    assert report.exact_copies == 50
    assert report.baseline_share <= 0.02
    assert 0.5 <= report.share <= 0.53


def test_memorization_png_shows_the_closest_pairs(mnist, tmp_path):
    train, _, fresh = mnist
    gen = torch.cat([fresh[:10], train[[5, 9]]])
    nn = nearest_neighbours(gen, train)
    shown = save_memorization_png(tmp_path / "memorization.png", gen, train, nn, n_pairs=4, pairs_per_row=2)
    assert sorted(shown[:2].tolist()) == [10, 11]  # the two copies are the closest pairs
    png = np.asarray(Image.open(tmp_path / "memorization.png"))
    assert png.shape == (2 + 2 * 30, 2 + 4 * 30, 3)  # 2 rows x (2 pairs x 2 images) of 28 px + 2 px padding
    first_gen, first_train = png[2:30, 2:30], png[2:30, 32:60]
    assert np.array_equal(first_gen, first_train)  # a copy and its training image look the same


def test_card_through_the_registry(mnist, tmp_path):
    train, heldout, fresh = mnist
    gen = torch.cat([train[:20], fresh[:80]])
    inputs = EvalInputs(gen_images=gen, train_images=train, ref_images=heldout, ref_split="test")
    (card,) = compute_metrics(["memorization"], inputs, {"memorization": {"png_path": str(tmp_path / "m.png")}})
    assert card.metric == "memorization" and (card.n_gen, card.n_ref) == (100, 2000)
    assert 0.2 <= card.value <= 0.24 and card.extra["exact_copies"] == 20
    assert card.extra["baseline_share"] <= 0.02 and (tmp_path / "m.png").exists()
    assert card.extractor is None and card.ref_split == "train"


def test_a_training_reference_split_is_no_baseline():
    images = torch.zeros(5, 1, 4, 4)
    with pytest.raises(ConfigError, match="held-out"):
        inputs = EvalInputs(gen_images=images, train_images=images, ref_images=images, ref_split="train")
        compute_metrics(["memorization"], inputs)
