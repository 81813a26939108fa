"""data_limit: a fixed, class-balanced, seed-independent subset of the training split (data/limit.py)."""
import pytest
import torch

from ganforge.config import merge
from ganforge.data import get_dataset
from ganforge.data.limit import limit_indices
from ganforge.errors import ConfigError
from ganforge.metrics.evaluate import prepare_reference
from ganforge.metrics.evaluator import Evaluator
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer

TINY = {"data": "mnist5k", "image_size": 16, "batch_size": 8, "n_samples": 4, "tensorboard": False,
        "model": {"g": {"width": 4}, "d": {"width": 4}}}  # fmt: skip


def class_counts(info) -> list[int]:
    return torch.bincount(info.dataset.labels, minlength=10).tolist()


@pytest.mark.parametrize("n, expected", [
    (500, [50] * 10),
    (503, [51, 51, 51] + [50] * 7),  # the remainder goes to the first classes
    (10, [1] * 10),
    (7, [1] * 7 + [0] * 3),
])  # fmt: skip
def test_subset_has_exactly_n_balanced_over_classes(n, expected):
    info = get_dataset("mnist5k", data_limit=n)
    assert len(info.dataset) == n and len(info.dataset.images) == n
    assert class_counts(info) == expected
    assert len({img.numpy().tobytes() for img in info.dataset.images}) == n  # n distinct images
    assert "data_limit" in info.description


def test_subsets_are_nested_and_the_test_split_is_not_cut():
    small, large = get_dataset("mnist5k", data_limit=500), get_dataset("mnist5k", data_limit=4500)
    large_rows = {img.numpy().tobytes() for img in large.dataset.images}
    assert all(img.numpy().tobytes() in large_rows for img in small.dataset.images)
    assert len(get_dataset("mnist5k", "test", data_limit=100).dataset) == 500


def test_a_class_short_of_its_share_gives_it_to_the_others():
    labels = torch.tensor([0] * 2 + [1] * 20 + [2] * 20)  # class 0 has 2 of its 6
    idx = limit_indices(len(labels), 18, labels)
    assert torch.bincount(labels[idx], minlength=3).tolist() == [2, 8, 8]
    assert len(set(idx.tolist())) == 18


def test_unlabelled_data_takes_the_permutations_first_n():
    info = get_dataset("lfw-faces", data_limit=30)  # faces: no classes
    full = get_dataset("lfw-faces")
    idx = limit_indices(len(full.dataset), 30)
    assert full.num_classes == 0 and torch.equal(info.dataset.images, full.dataset.images[idx])
    assert "class-balanced" not in info.description


def test_the_subset_does_not_depend_on_the_runs_seed():
    """Runs with seeds 0 and 7 train on the same 50 digits (the global RNG state does not matter either)."""
    data = []
    for seed in (0, 7):
        torch.manual_seed(seed + 100)
        trainer = build_trainer(resolve_config("dcgan-demo", [TINY, {"seed": seed, "data_limit": 50}]), progress=False)
        data.append(trainer.data.dataset)
    assert torch.equal(data[0].images, data[1].images) and torch.equal(data[0].labels, data[1].labels)
    assert class_counts(trainer.data) == [5] * 10


def test_a_limit_larger_than_the_split_names_the_key_and_the_size():
    with pytest.raises(ConfigError, match=r"^data_limit=4501 is larger than mnist5k's training split \(4500 images\)"):
        build_trainer(resolve_config("dcgan-demo", [TINY, {"data_limit": 4501}]), progress=False)
    with pytest.raises(ConfigError, match="config key 'data_limit' must be >= 0, got -1"):
        merge(resolve_config("dcgan-demo", [TINY]), {"data_limit": -1})


def test_memorization_compares_with_the_images_trained_on():
    trainer = build_trainer(resolve_config("dcgan-demo", [TINY, {"data_limit": 50}]), progress=False)
    ref = prepare_reference("mnist5k", Evaluator(None, note="none"), ["memorization"], image_size=16, data_limit=50)
    trained = sorted(img.numpy().tobytes() for img in trainer.data.dataset.images)
    assert sorted(img.numpy().tobytes() for img in ref.train) == trained
    assert len(ref.ref) == 500  # the held-out split, whole


def test_a_limited_folder_is_a_smaller_folder_with_its_own_cache_key(tmp_path):
    from PIL import Image

    from ganforge.data.cache import cache_key

    for i in range(6):
        Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / f"im{i}.png")
    full, limited = get_dataset(str(tmp_path), image_size=8), get_dataset(str(tmp_path), image_size=8, data_limit=3)
    assert len(limited.dataset) == 3 and set(limited.dataset.paths) < set(full.dataset.paths)
    assert cache_key(limited.dataset, 8) != cache_key(full.dataset, 8)
