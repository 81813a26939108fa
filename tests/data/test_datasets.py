import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import get_dataset, list_datasets
from ganforge.errors import DataError

OFFLINE = {"mnist5k": (4500, 500, (1, 28, 28), 10), "digits": (1497, 300, (1, 8, 8), 10), "lfw-faces": (90, 10, (1, 25, 25), 0)}


@pytest.mark.parametrize("name", sorted(OFFLINE))
def test_bundled_sets_split_and_scale(name):
    n_train, n_test, shape, classes = OFFLINE[name]
    train, test = get_dataset(name, "train"), get_dataset(name, "test")
    assert (len(train.dataset), len(test.dataset)) == (n_train, n_test)
    assert train.shape() == shape and train.num_classes == classes
    x = train.dataset.images
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.9 and x.max() > 0.5
    if classes:  # shuffled before splitting: every class in both splits
        assert len(train.dataset.labels.unique()) == classes and len(test.dataset.labels.unique()) == classes
    # train and test are disjoint images
    assert not any(torch.equal(test.dataset.images[0], im) for im in x)


def test_resize_and_channel_conversion():
    d = get_dataset("mnist5k", image_size=32, channels=3)
    assert d.shape() == (3, 32, 32)
    assert torch.equal(d.dataset.images[:, 0], d.dataset.images[:, 1])


def test_mixtures():
    ring = get_dataset("ring8")
    assert ring.kind == "points" and ring.shape() == (2,) and ring.num_classes == 8
    radius = ring.dataset.images.norm(dim=1)
    assert abs(radius.mean().item() - 1.0) < 0.01
    grid = get_dataset("grid25").dataset
    assert grid.labels.unique().numel() == 25
    assert grid.images.abs().max() < 4.5


def test_single_image_and_fake():
    s = get_dataset("single-image", image_size=32)
    assert s.shape() == (3, 32, 32) and len(s.dataset) == 2048
    f = get_dataset("fake", image_size=16, channels=1)
    assert f.shape() == (1, 16, 16)


def test_every_dataset_has_a_description():
    rows = list_datasets()
    assert {"mnist5k", "digits", "lfw-faces", "single-image", "ring8", "grid25", "mnist", "fashion-mnist", "cifar10", "lsun-bedroom", "celeba", "fake"} <= {n for n, _ in rows}
    assert all(text for _, text in rows)


def _write_images(folder, n, size=(20, 12), mode="RGB"):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray((np.random.rand(size[1], size[0], 3) * 255).astype("uint8")).convert(mode).save(folder / f"im{i}.png")


def test_image_folder_recursive_resized_and_converted(tmp_path):
    _write_images(tmp_path / "a", 3)
    _write_images(tmp_path / "a" / "sub", 2, mode="L")
    d = get_dataset(str(tmp_path / "a"), image_size=16, channels=3)
    assert len(d.dataset) == 5 and d.shape() == (3, 16, 16)
    x, y = d.dataset[4]
    assert x.shape == (3, 16, 16) and -1 <= x.min() and x.max() <= 1 and y == -1


def test_empty_folder_and_bad_image_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images in .*empty"):
        get_dataset(str(tmp_path / "empty"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        get_dataset(str(tmp_path / "bad"))
    with pytest.raises(DataError, match="no such image folder"):
        get_dataset(str(tmp_path / "missing/"))


def test_bad_image_mid_folder_is_named_when_read(tmp_path):
    _write_images(tmp_path, 2)
    (tmp_path / "zz-broken.jpg").write_bytes(b"garbage")
    d = get_dataset(str(tmp_path))
    with pytest.raises(DataError, match="zz-broken.jpg"):
        d.dataset[2]


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DataError, match="did you mean 'mnist5k'.*digits"):
        get_dataset("mnist5")


def test_network_datasets_fail_offline_with_instructions(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*a, **k):
        raise RuntimeError("Error downloading: <urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match="--data-root"):
        get_dataset("cifar10", root=str(tmp_path))
