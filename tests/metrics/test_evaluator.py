"""Choosing the feature space (`--features`) next to the evaluator: the default is what the evaluator
gives, a named space replaces it with one protocol for every card, contradictions and unknown names are
one error line, and the real-vs-real floors come in every space."""
import json
import os

import pytest
import torch

from ganforge.cli import main
from ganforge.errors import ConfigError
from ganforge.metrics.evaluate import default_metrics, prepare_reference, score
from ganforge.metrics.evaluator import FEATURE_SPACES, check_feature_options, resolve_evaluator
from ganforge.metrics.fid import fid_from_features
from ganforge.presets import resolve_config
from ganforge.runs import train


def test_an_unknown_feature_space_lists_the_valid_ones(capsys, tmp_path):
    assert main(["eval", str(tmp_path), "--features", "dinov3"]) == 2  # checked before the run is read
    err = capsys.readouterr().err
    assert err == ("ganforge: error: unknown feature space 'dinov3' (did you mean 'dinov2-vits14'?); valid: "
                   "dinov2-vitb14, dinov2-vitl14, dinov2-vits14, evaluator, inception, pixels\n")  # fmt: skip
    assert sorted(FEATURE_SPACES) == ["dinov2-vitb14", "dinov2-vitl14", "dinov2-vits14", "evaluator", "inception", "pixels"]


@pytest.mark.parametrize("args, says", [
    (["--features", "dinov2-vits14", "--evaluator", "offline"], "--features dinov2-vits14 and --evaluator offline name two"),
    (["--features", "pixels", "--evaluator", "none"], "--features pixels and --evaluator none name two"),
    (["--features", "dinov2-vits14", "--inception-weights", "w.pth"], "--inception-weights are unused with --features dinov2-vits14"),
    (["--features-weights", "w.pth"], "--features evaluator (the default) reads no weights file"),
    (["--features", "pixels", "--features-weights", "w.pth"], "--features pixels reads no weights file"),
    (["--features", "inception", "--inception-weights", "a.pth", "--features-weights", "b.pth"], "given twice"),
])  # fmt: skip
def test_contradictory_flags_are_one_error_line(args, says, capsys, tmp_path):
    assert main(["eval", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge: error: ") and says in err and err.count("\n") == 1


def test_consistent_flags_pass():
    assert check_feature_options(None) is None  # the default: the evaluator's features, as before
    assert check_feature_options("inception", "inception", "w.pth") == "inception"
    assert check_feature_options("evaluator", "offline") == "evaluator"
    assert check_feature_options("dinov2-vitb14", "auto", None, "dinov2_vitb14_pretrain.pth") == "dinov2-vitb14"
    assert check_feature_options("inception", "auto", None, "pt_inception.pth") == "inception"


def test_a_named_space_replaces_the_evaluator_and_keeps_no_classes(tmp_path):
    ev = resolve_evaluator("digits", "image", 10, features="pixels", resolution=8, cache_dir=str(tmp_path))
    assert ev.extractor.space == "pixels" and ev.num_classes is None and ev.labels is None
    assert default_metrics("image", ev) == ["fid", "kid", "pr", "memorization"]  # no IS, modes or conditional
    with pytest.raises(ConfigError, match="2D point data are scored on the plane; --features pixels"):
        resolve_evaluator("ring8", "points", 0, features="pixels")
    assert resolve_evaluator("ring8", "points", 0, features="evaluator").extractor.space == "points"
    # said out loud, 'evaluator' must have features: unlabelled faces without Inception weights have none
    with pytest.raises(ConfigError, match="--features evaluator: the evaluator gives no features here"):
        resolve_evaluator("lfw-faces", "image", 0, features="evaluator", cache_dir=str(tmp_path))


def test_every_feature_metric_scores_in_pixel_space_with_its_real_floor():
    ev = resolve_evaluator("digits", "image", 10, features="pixels", resolution=8)
    names = ["fid", "kid", "pr", "dc", "memorization"]
    ref = prepare_reference("digits", ev, names, n_ref=60, n_train=80)
    gen = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cards = score(gen, ref, ev, names)
    assert [c.metric for c in cards] == ["fid", "kid", "precision", "recall", "density", "coverage", "memorization"]
    for c in cards:
        assert (c.feature_space, c.input_size, c.extractor, c.extractor_weights_sha256) == ("pixels", 8, "pixels", None)
        assert c.resize == "none (the data's own size)"
    for c in cards[:-1]:  # the floor: as many real training images (40) against the same reference
        assert c.extra["real_vs_real_n"] == 40
    fid = cards[0]
    floor = fid_from_features(ref.train[:40].flatten(1), ref.ref.flatten(1))
    assert fid.extra["real_vs_real"] == pytest.approx(floor, rel=1e-12) and floor < fid.value  # noise is far from digits
    assert cards[-1].extra["baseline_share"] >= 0  # memorization keeps its own held-out baseline
    with pytest.raises(ConfigError, match="metric 'is' needs class logits; pixels gives none"):
        score(gen, ref, ev, ["is"])
    with pytest.raises(ConfigError, match="metric 'modes' needs the data's classes, and the pixels feature space has none"):
        score(gen, ref, ev, ["modes"])


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """Two steps of a small GAN on the 8x8 digits: enough to have a checkpoint to score."""
    run = str(tmp_path_factory.mktemp("digits") / "run")
    cfg = resolve_config("gan", [{
        "data": "digits", "steps": 2, "threads": 1, "batch_size": 16, "log_every": 1, "sample_every": 1000,
        "ckpt_every": 2, "n_samples": 4, "model": {"z_dim": 8, "g": {"hidden": [16]}, "d": {"hidden": [16]}},
    }])  # fmt: skip
    train(cfg, out=run, progress=False)
    return run


def test_the_eval_command_writes_the_space_on_every_card(digits_run, capsys, tmp_path):
    assert main(["eval", digits_run, "--features", "pixels", "--metrics", "fid,pr", "-n", "60"]) == 0
    out = capsys.readouterr().out
    assert "feature space pixels, input 8x8" in out and "real-vs-real" in out
    with open(os.path.join(digits_run, "metrics", "metrics.jsonl")) as f:
        cards = [json.loads(line) for line in f]
    assert [c["metric"] for c in cards] == ["fid", "precision", "recall"]
    assert all(c["feature_space"] == "pixels" and c["input_size"] == 8 for c in cards)
    foreign = tmp_path / "classifier.pth"
    torch.save({"head.weight": torch.zeros(10, 64)}, foreign)
    assert main(["eval", digits_run, "--features", "dinov2-vits14", "--features-weights", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ganforge: error: {foreign} does not hold DINOv2 ViT-S/14 weights") and err.count("\n") == 1
