"""Discriminator rejection sampling (train/rejection.py): the calibration, the sampler on a 1-D problem
whose exact answer is known, and a trained run sampled through it (`ganforge generate`, `ganforge eval`)."""
import math
import os

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.train.rejection import Calibration, calibrate, rejection_sample


def test_calibration_recovers_the_log_density_ratio():
    # Real scores ~ N(1, 1), fake ~ N(-1, 1): the log ratio of the two densities is 2 s, so the
    # logistic fit of a * s + b must find a = 2, b = 0.
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(20000, generator=g) + 1, torch.randn(20000, generator=g) - 1
    cal = calibrate(0.5 * real, 0.5 * fake, percentile=50)  # D's scores at half the log ratio's scale
    assert cal.scale == pytest.approx(4.0, abs=0.15) and cal.offset == pytest.approx(0.0, abs=0.05)
    assert cal.max_logit == pytest.approx(cal.scale * 0.5 * fake.max().item() + cal.offset, rel=1e-6)


def test_gamma_sets_the_acceptance_rate():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(5000, generator=g) + 1, torch.randn(5000, generator=g) - 1
    rates = [calibrate(real, fake, p).acceptance(fake).mean().item() for p in (20, 50, 80, 95)]
    assert all(a > b for a, b in zip(rates, rates[1:])), rates  # a higher percentile keeps fewer draws


def test_exact_rejection_sampling_of_a_shifted_normal():
    # G draws N(0, 1), the data is N(1, 1): the optimal D's logit is log N(x; 1, 1) / N(x; 0, 1) = x - 1/2.
    # With gamma = 0, acceptance is p_data / (M p_G) exactly: what is kept must be N(1, 1), not N(0, 1).
    g = torch.Generator().manual_seed(2)
    burn_in = torch.randn(5000, generator=g)
    cal = Calibration(scale=1.0, offset=-0.5, max_logit=burn_in.max().item() - 0.5, gamma=0.0)
    kept, stats = rejection_sample(lambda slots: torch.randn(len(slots), generator=g), lambda x, slots: x,
                                   n=4000, calibration=cal, generator=g, max_draws=500)  # fmt: skip
    assert stats.unfilled == 0 and stats.draws > 4000 * 5  # about 1 in M = e^(max - 1/2) kept
    assert kept.mean().item() == pytest.approx(1.0, abs=0.06) and kept.std().item() == pytest.approx(1.0, abs=0.05)


def test_a_slot_with_no_draw_kept_takes_the_best_rated_draw():
    cal = Calibration(scale=1.0, offset=0.0, max_logit=0.0, gamma=1e9)  # rejects everything
    values = iter([torch.tensor([0.0, 5.0]), torch.tensor([3.0, 1.0]), torch.tensor([1.0, 2.0])])
    kept, stats = rejection_sample(lambda slots: next(values)[slots], lambda x, slots: x, n=2, calibration=cal,
                                   generator=torch.Generator().manual_seed(0), max_draws=3)  # fmt: skip
    assert kept.tolist() == [3.0, 5.0] and stats.unfilled == 2 and stats.draws == 6
    assert math.isfinite(cal.max_logit) and cal.max_logit == 5.0  # D_M rose to the largest logit seen


TRAIN = ["--preset", "mnist-demo", "--data", "fake", "--image-size", "16", "--batch-size", "8", "--steps", "3", "--no-progress",
         "channels=1", "n_samples=4", "model.z_dim=8", "model.g.width=4", "model.d.width=4", "drs_percentile=80"]  # fmt: skip


def test_a_run_with_drs_generates_and_scores_through_it(tmp_path, capsys):
    run = tmp_path / "drs"
    assert main(["train", *TRAIN, "--out", str(run)]) == 0
    out = {name: tmp_path / f"{name}.npz" for name in ("a", "b", "plain")}
    assert main(["generate", str(run), "-n", "20", "-o", str(out["a"]), "--seed", "3"]) == 0
    assert main(["generate", str(run), "-n", "20", "-o", str(out["b"]), "--seed", "3"]) == 0
    assert main(["generate", str(run), "-n", "20", "-o", str(out["plain"]), "--seed", "3", "--no-drs"]) == 0
    a, b, plain = (np.load(p) for p in out.values())
    assert np.array_equal(a["samples"], b["samples"])  # same seed, same samples
    assert not np.array_equal(a["samples"], plain["samples"])  # rejection changed them ...
    assert np.array_equal(a["labels"], plain["labels"])  # ... not the classes asked
    capsys.readouterr()
    assert main(["eval", str(run), "-n", "20", "--metrics", "memorization", "--evaluator", "none"]) == 0
    assert "samples: discriminator rejection sampling, gamma at percentile 80" in capsys.readouterr().out
    lines = (run / "metrics" / "metrics.jsonl").read_text()
    assert '"sampling": "discriminator rejection sampling, gamma at percentile 80"' in lines


def test_an_acgan_run_is_judged_by_its_realness_head(tmp_path):
    # ACGAN's D answers (realness, class logits): rejection must read the first, one score per image.
    import ganforge as gf

    run = tmp_path / "acgan"
    assert main(["train", "--preset", "acgan", *TRAIN[2:], "--out", str(run)]) == 0
    loaded = gf.load_run(str(run))
    x = gf.generate(loaded, 12, seed=1)
    assert x.shape == (12, 1, 16, 16) and torch.isfinite(x).all()
    assert loaded.algorithm.d_scores(loaded, x, torch.zeros(12, dtype=torch.long)).shape == (12,)


@pytest.mark.parametrize("extra, message", [
    (["--preset", "infogan-demo"], "the infogan algorithm has no discriminator rejection sampling"),
    (["pack=2"], "PacGAN's D judges packs of samples"),
])  # fmt: skip
def test_drs_is_refused_where_it_cannot_apply(tmp_path, capsys, extra, message):
    assert main(["train", *TRAIN, *extra, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error:") and "\n" not in err and message in err


def test_no_drs_is_refused_for_a_run_without_it(tmp_path, capsys):
    run = tmp_path / "plain"
    assert main(["train", *TRAIN, "drs_percentile=0", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["generate", str(run), "-n", "4", "-o", str(tmp_path / "x.png"), "--no-drs"]) == 2
    assert "does not use discriminator rejection sampling" in capsys.readouterr().err


def test_eval_no_drs_scores_g_own_samples_as_a_protocol_of_its_own(tmp_path, capsys):
    from ganforge.metrics.records import eval_lines, read_metrics

    drs, plain = tmp_path / "drs", tmp_path / "plain"
    assert main(["train", *TRAIN, "--out", str(drs)]) == 0
    assert main(["train", *TRAIN, "drs_percentile=0", "--out", str(plain)]) == 0
    score = ["-n", "20", "--metrics", "memorization", "--evaluator", "none"]
    assert main(["eval", str(drs), *score]) == 0 and main(["eval", str(plain), *score]) == 0
    capsys.readouterr()
    # A rejection-sampled run against one scored on G's own samples is not like for like: refused, saying how.
    assert main(["compare", str(drs), str(plain), "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err
    assert "sampling discriminator rejection sampling, gamma at percentile 80 (drs), G's own samples (plain)" in err
    assert "--no-drs scores a rejection-sampled run on G's own samples" in err

    assert main(["eval", str(drs), *score, "--no-drs"]) == 0
    assert "samples:" not in capsys.readouterr().out
    scored = eval_lines(read_metrics(str(drs)))
    assert [line["step"] for line in scored] == [3, 3]
    assert [(line.get("extra") or {}).get("sampling") for line in scored] == [
        "discriminator rejection sampling, gamma at percentile 80", None]  # fmt: skip
    # Each way's card points at a picture of its own pairs.
    pictures = [line["extra"]["png"] for line in scored]
    assert [os.path.basename(p) for p in pictures] == ["memorization-0000003.png", "memorization-0000003-no-drs.png"]
    assert all(os.path.isfile(p) for p in pictures)
    # Each way is its own protocol: both are already scored, so neither is scored again ...
    for way in ([], ["--no-drs"]):
        assert main(["eval", str(drs), *score, "--ckpt", "all", *way]) == 0
        assert "nothing new to score" in capsys.readouterr().out
    # ... and compare picks the way both runs were scored.
    assert main(["compare", str(drs), str(plain), "--out", str(tmp_path / "alike")]) == 0
    assert main(["eval", str(plain), *score, "--no-drs"]) == 2
    assert "does not use discriminator rejection sampling" in capsys.readouterr().err
