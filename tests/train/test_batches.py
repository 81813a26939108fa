"""The batch stream: the same batches with or without worker processes, across epochs and resumes;
image folders decoded once into a cache keyed by their contents."""
import os

import pytest
import torch
from PIL import Image
from torch.testing import assert_close

from ganforge.data import get_dataset
from ganforge.data.cache import cache_decoded_images
from ganforge.errors import ConfigError
from ganforge.train.batches import BatchStream


@pytest.fixture
def folder(tmp_path):
    """10 distinct 12x12 RGB images (batches of 4: 2 per epoch, the last 2 images dropped)."""
    root = tmp_path / "imgs"
    root.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(10):
        pixels = torch.randint(0, 256, (12, 12, 3), generator=g, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(root / f"{i:02d}.png")
    return str(root)


def take(stream, n):
    return [stream.next()[0] for _ in range(n)]


def test_workers_give_the_batches_of_the_main_process_across_epochs_and_resume(folder):
    data = get_dataset(folder, image_size=8, channels=3)
    plain = take(BatchStream(data.dataset, 4, seed=1, device="cpu"), 5)
    workers = BatchStream(data.dataset, 4, seed=1, device="cpu", workers=2, prefetch_factor=3)
    assert_close(take(workers, 5), plain, rtol=0, atol=0)  # 2.5 epochs, prefetching across their ends
    assert workers.state_dict() == {"epoch": 2, "position": 1}
    resumed = BatchStream(data.dataset, 4, seed=1, device="cpu", workers=2)
    resumed.load_state_dict({"epoch": 1, "position": 1})  # mid-epoch
    assert_close(take(resumed, 2), plain[3:5], rtol=0, atol=0)
    resumed.load_state_dict({"epoch": 0, "position": 2})  # written after an epoch's last batch (older format)
    assert_close(take(resumed, 1), plain[2:3], rtol=0, atol=0)


def test_channels_last_batches(folder):
    x, _ = BatchStream(get_dataset(folder, image_size=8, channels=3).dataset, 4, 0, "cpu", memory_format=torch.channels_last).next()
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def test_image_cache_decodes_once_and_follows_the_files(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    data = get_dataset(folder, image_size=8, channels=3)
    cached = cache_decoded_images(data)
    assert cached.in_memory and cached.shape() == data.shape() == (3, 8, 8)
    decoded = torch.stack([data.dataset[i][0] for i in range(len(data.dataset))])
    # uint8 storage: the resized pixels are rounded to the nearest of 256 levels, half a level at most
    assert_close(cached.dataset.images, decoded, rtol=0, atol=1 / 255 + 1e-6)
    files = os.listdir(tmp_path / "cache" / "images")
    assert len(files) == 1
    assert_close(cache_decoded_images(data).dataset.images, cached.dataset.images, rtol=0, atol=0)  # read back
    assert os.listdir(tmp_path / "cache" / "images") == files
    cache_decoded_images(get_dataset(folder, image_size=4, channels=3))  # another size: another entry
    Image.new("RGB", (12, 12), "red").save(os.path.join(folder, "03.png"))  # a changed image: rebuilt
    os.utime(os.path.join(folder, "03.png"), ns=(1, 1))
    changed = cache_decoded_images(get_dataset(folder, image_size=8, channels=3))
    assert len(os.listdir(tmp_path / "cache" / "images")) == 3
    assert_close(changed.dataset.images[3], torch.tensor([1.0, -1.0, -1.0]).view(3, 1, 1).expand(3, 8, 8))


def test_image_cache_refuses_datasets_that_are_not_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    fake = get_dataset("fake", image_size=8, channels=1)
    assert cache_decoded_images(fake) is fake  # already in memory: nothing to cache
    lazy = type(fake)(fake.name, torch.utils.data.TensorDataset(torch.zeros(4, 1, 8, 8)), "image", 8, 1, 0)
    with pytest.raises(ConfigError, match="cache_images=true works on image folders"):
        cache_decoded_images(lazy)


def test_trainer_trains_on_the_cached_folder(folder, tmp_path, monkeypatch, tiny_overrides):
    from ganforge.presets import resolve_config
    from ganforge.runs import build_trainer

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    cfg = resolve_config("dcgan", [dict(tiny_overrides, data=folder, image_size=8, channels=3, batch_size=4, cache_images=True,
                                        model={"g": {"width": 4}, "d": {"width": 4}})])  # fmt: skip
    t = build_trainer(cfg, progress=False)
    assert t.data.in_memory and "decoded once" in t.data.description
    assert t.train(str(tmp_path / "run")).step == 4
