"""pix2pix on tiny paired folders: side-by-side AB images and A/ B/ folders; mismatched pairs are named."""
import os

import pytest
from PIL import Image

from ganforge.errors import DataError
from ganforge.presets import resolve_config
from ganforge.runs import load_run, train
from ganforge.data.paired import load_paired

from test_cyclegan import tiny, write_pngs  # noqa: E402 (pytest puts this folder on sys.path)


def test_short_run_on_side_by_side_pairs(tmp_path):
    write_pngs(str(tmp_path / "ab" / "train"), 4, size=(24, 12))
    write_pngs(str(tmp_path / "ab" / "test"), 2, size=(24, 12), seed=5)
    cfg = resolve_config("pix2pix", [tiny(str(tmp_path / "ab"), model={"g": {"width": 4}, "d": {"width": 4, "n_layers": 1}})])
    result = train(cfg, out=str(tmp_path / "run"), progress=False)
    assert Image.open(result.final_samples).size == (3 * 10 + 2, 2 * 10 + 2)  # (input, output, target) x 2
    run = load_run(result.run_dir)
    assert set(run.nets) == {"G", "D"} and run.G is run.nets["G"]
    assert run.algorithm.generate(run, 2).shape == (2, 3, 8, 8)


def test_ab_halves_split_and_folder_pairs_align(tmp_path):
    write_pngs(str(tmp_path / "ab"), 2, size=(16, 8))
    data = load_paired(str(tmp_path / "ab"))
    assert data.test_a.images.shape == (2, 3, 8, 8)  # no test/ folder: the training pairs, at the size
    assert data.train_a.images.shape == (2, 3, 9, 9)  # training images at the jitter's load size (8 x 286/256)
    full = Image.open(tmp_path / "ab" / "im0.png")
    assert data.test_b.images[0, 0, 0, 0] == full.getpixel((8, 0))[0]  # B is the right half
    for side in ("A", "B"):
        write_pngs(str(tmp_path / "ff" / side), 3, size=(8, 8))
    assert load_paired(str(tmp_path / "ff")).train_a.names == ["im0.png", "im1.png", "im2.png"]


def test_bad_pairs_are_named(tmp_path):
    write_pngs(str(tmp_path / "p" / "A"), 3, prefix="x")
    write_pngs(str(tmp_path / "p" / "B"), 2, prefix="x")
    write_pngs(str(tmp_path / "p" / "B"), 1, prefix="y")
    with pytest.raises(DataError, match=r"only in A/: x2.png; only in B/: y0.png"):
        load_paired(str(tmp_path / "p"))
    os.makedirs(tmp_path / "q" / "A")
    write_pngs(str(tmp_path / "q" / "B"), 1)
    with pytest.raises(DataError, match="empty"):
        load_paired(str(tmp_path / "q"))
    write_pngs(str(tmp_path / "odd"), 1, size=(15, 8))
    with pytest.raises(DataError, match="even width"):
        load_paired(str(tmp_path / "odd"))


def test_eval_scores_the_test_pairs(tmp_path):
    import torch
    from torch.testing import assert_close

    from ganforge.data.domains import to_float
    from ganforge.metrics.translation import l1_error, psnr, ssim

    write_pngs(str(tmp_path / "ab" / "train"), 2, size=(32, 16))
    write_pngs(str(tmp_path / "ab" / "test"), 3, size=(32, 16), seed=5)
    cfg = resolve_config("pix2pix", [tiny(str(tmp_path / "ab"), image_size=16, steps=2, model={"g": {"width": 4}, "d": {"width": 4, "n_layers": 1}})])
    run = load_run(train(cfg, out=str(tmp_path / "run"), progress=False).run_dir)
    cards, note = run.algorithm.evaluate_run(run, n=3)
    values = {c.metric: c.value for c in cards}
    assert list(values) == ["paired/AtoB/l1", "paired/AtoB/psnr", "paired/AtoB/ssim"]  # one direction: no cycle
    data = load_paired(str(tmp_path / "ab"), 16)
    a, b = to_float(data.test_a.images), to_float(data.test_b.images)
    with torch.no_grad():
        fake = run.nets["G"].eval()(a)
    assert_close(values["paired/AtoB/l1"], l1_error(fake, b).mean().item())
    unit = lambda x: ((x.double() + 1) / 2).clamp(0, 1)  # noqa: E731  (PSNR and SSIM in [0, 1], L = 1)
    assert_close(values["paired/AtoB/psnr"], psnr(unit(fake), unit(b), 1.0).mean().item())
    assert_close(values["paired/AtoB/ssim"], ssim(unit(fake), unit(b), 1.0).mean().item())
    assert "no evaluator" in note
