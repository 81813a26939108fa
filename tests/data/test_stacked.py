"""Stacked MNIST: three mnist5k digits as RGB, labels 100 d0 + 10 d1 + d2, splits that share no digit."""
import torch

from ganforge.data import DATASETS, get_dataset


def digit_lookup(split):
    """Exact image -> digit label for every mnist5k image of a split."""
    data = get_dataset("mnist5k", split).dataset
    return {img.numpy().tobytes(): int(y) for img, y in zip(data.images[:, 0], data.labels)}


def test_test_split_shape_labels_and_channels():
    info = get_dataset("stacked-mnist", "test")
    images, labels = info.dataset.images, info.dataset.labels
    assert images.shape == (5000, 3, 28, 28) and info.shape() == (3, 28, 28)
    assert info.num_classes == 1000 and labels.min() >= 0 and labels.max() < 1000
    assert labels.unique().numel() > 950  # 5,000 uniform draws over 1,000 modes cover ~993
    test_digits = digit_lookup("test")
    for img, label in zip(images[:50], labels[:50]):
        d = [test_digits[img[c].numpy().tobytes()] for c in range(3)]  # every channel is a test digit
        assert int(label) == 100 * d[0] + 10 * d[1] + d[2]
    torch.testing.assert_close(get_dataset("stacked-mnist", "test").dataset.images, images)  # fixed seed


def test_train_split_uses_only_training_digits():
    info = DATASETS.get("stacked-mnist")(split="train", image_size=None, channels=None, root=None, n=200)
    train_digits, test_digits = digit_lookup("train"), digit_lookup("test")
    for img, label in zip(info.dataset.images, info.dataset.labels):
        keys = [img[c].numpy().tobytes() for c in range(3)]
        assert all(k in train_digits and k not in test_digits for k in keys)
        assert int(label) == sum(m * train_digits[k] for m, k in zip((100, 10, 1), keys))


def test_resizes_like_other_datasets():
    info = DATASETS.get("stacked-mnist")(split="test", image_size=32, channels=None, root=None, n=10)
    assert info.dataset.images.shape == (10, 3, 32, 32) and info.resolution == 32
