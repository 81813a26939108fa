"""Sample grids: small image grids are enlarged (nearest neighbour, whole factor) to be readable;
scatter plots of 2D points are not."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import save_image

import ganforge.commands.generate as generate_command
from ganforge.cli import main
from ganforge.train.samples import MIN_GRID_SIDE, save_samples


def digits(n: int, size: int = 28) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_64_mnist_samples_become_a_readable_grid_of_whole_pixels(tmp_path):
    # 8 x 8 digits of 28 px with 2-px padding: 242 px; x3 (the least whole factor reaching 512) = 726 px.
    samples = digits(64)
    save_samples(samples, tmp_path / "grid.png")
    save_image(samples, tmp_path / "torchvision.png", nrow=8, normalize=True, value_range=(-1, 1), padding=2)
    big, small = pixels(tmp_path / "grid.png"), pixels(tmp_path / "torchvision.png")
    assert small.shape[:2] == (242, 242) and big.shape[:2] == (726, 726) and MIN_GRID_SIDE == 512
    # Nearest neighbour by a whole factor: every 3x3 block is one pixel of torchvision's grid, unchanged.
    np.testing.assert_array_equal(big, small.repeat(3, axis=0).repeat(3, axis=1))


@pytest.mark.parametrize("n, size, expected", [
    (3, 28, (192, 552)),  # one column of 3: 32 x 92 px, x6 -> the long side 552 >= 512
    (4, 256, (518, 518)),  # 2 x 2 of 256 px: already 518 px, left as it is
])  # fmt: skip
def test_the_long_side_reaches_512_by_the_least_whole_factor(tmp_path, n, size, expected):
    save_samples(digits(n, size), tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == expected


def test_scatter_plots_of_points_keep_their_size(tmp_path):
    save_samples(torch.randn(100, 2), tmp_path / "points.png", reference=torch.randn(100, 2))
    with Image.open(tmp_path / "points.png") as im:
        assert im.size == (400, 400)


def test_generate_png_grid_is_enlarged_too(tmp_path, monkeypatch, capsys):
    # A stand-in run: what `generate` reads of a loaded run, and 64 digits as its samples.
    run = SimpleNamespace(config=SimpleNamespace(model=SimpleNamespace(conditional_g=False)), step=7, kind="image")
    monkeypatch.setattr(generate_command, "load_run", lambda *a, **k: run)
    monkeypatch.setattr(generate_command, "generate", lambda loaded, n, seed=0, **o: digits(n))
    assert main(["generate", "RUN", "-n", "64", "-o", str(tmp_path / "grid.png")]) == 0
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == (726, 726)
    assert "wrote 64 samples from RUN (step 7)" in capsys.readouterr().out
