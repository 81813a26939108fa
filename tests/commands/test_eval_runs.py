"""`ganforge eval --ckpt all|START:END:STEP` and `--repeats K`: whole-run scores, skipped when already
measured the same way, mean ± sd over sampling seeds, and the metric-vs-step curves (PNG and report)."""
import json
import math
import os
import shutil

import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.cli import main
from ganforge.metrics import list_metrics
from ganforge.metrics.evaluate import expected_protocols, prepare_reference, score
from ganforge.metrics.evaluator import Evaluator, resolve_evaluator
from ganforge.metrics.features import ModuleFeatures
from ganforge.metrics.records import protocol_of
from ganforge.report.metric_curves import curve_lines, points_of, reference_of
from ganforge.runs import resume, select_checkpoints
from ring_runs import lines, ring_run

METRICS = ["--metrics", "fid,modes", "-n", "100"]


def fid_steps(run):
    return [e["step"] for e in lines(run) if e["metric"] == "fid"]


def test_ckpt_all_scores_each_kept_checkpoint_once_then_only_the_new_ones_after_resuming(tmp_path, capsys):
    run = ring_run(tmp_path / "ring", keep_checkpoints=3)  # checkpoints 5..20 saved, 10, 15, 20 kept
    assert main(["eval", run, "--ckpt", "all", *METRICS]) == 0
    out = capsys.readouterr().out
    assert "--ckpt all: 3 of the 3 checkpoints" in out and "(steps 10, 15, 20)" in out
    assert fid_steps(run) == [10, 15, 20]
    assert [e["checkpoint"] for e in lines(run) if e["metric"] == "fid"] == ["ckpt-0000010.pt", "ckpt-0000015.pt", "ckpt-0000020.pt"]
    assert os.path.join(run, "metrics", "curve-fid.png") in out and os.path.join(run, "metrics", "curve-modes-covered.png") in out
    with Image.open(os.path.join(run, "metrics", "curve-fid.png")) as png:
        assert png.format == "PNG" and png.width > 200

    # Again: everything is already scored under this protocol, so nothing is drawn or appended.
    before = lines(run)
    assert main(["eval", run, "--ckpt", "all", *METRICS]) == 0
    out = capsys.readouterr().out
    assert "skipped 3 already scored with this protocol (steps 10, 15, 20)" in out and "nothing new to score" in out
    assert lines(run) == before

    # Another protocol (more samples) is not the same score: step 20 is scored again.
    assert main(["eval", run, "--ckpt", "20:20", "--metrics", "fid,modes", "-n", "120"]) == 0
    assert "skipped" not in capsys.readouterr().out
    assert fid_steps(run) == [10, 15, 20, 20]

    # Trained further: 25 and 30 are new (10 and 15 were pruned), 20 was scored already.
    resume(run, [{"steps": 30}], progress=False)
    assert main(["eval", run, "--ckpt", "all", *METRICS]) == 0
    out = capsys.readouterr().out
    assert "3 of the 3 checkpoints" in out and "(steps 20, 25, 30)" in out
    assert "skipped 1 already scored with this protocol (steps 20)" in out
    assert fid_steps(run) == [10, 15, 20, 20, 25, 30]

    # A whole-run score is the score `--ckpt STEP` gives: the same samples (seed 0), the same number.
    single = str(tmp_path / "single")
    shutil.copytree(run, single)
    shutil.rmtree(os.path.join(single, "metrics"))
    assert main(["eval", single, "--ckpt", "25", *METRICS]) == 0
    expected = {e["metric"]: e["value"] for e in lines(single)}
    whole = {e["metric"]: e["value"] for e in lines(run) if e["step"] == 25}
    assert whole == expected


def test_ckpt_ranges_select_the_kept_checkpoints_in_range(tmp_path, capsys):
    run = ring_run(tmp_path / "ring", keep_checkpoints=0)  # keeps every one: 5, 10, 15, 20
    assert select_checkpoints(run, "all") == [(5, "5"), (10, "10"), (15, "15"), (20, "20")]
    assert select_checkpoints(run, "5:20:10") == [(5, "5"), (15, "15")]  # END included, steps from START
    assert select_checkpoints(run, "10:") == [(10, "10"), (15, "15"), (20, "20")]
    assert select_checkpoints(run, ":10") == [(5, "5"), (10, "10")]
    assert select_checkpoints(run, "::10") == [(10, "10"), (20, "20")]

    assert main(["eval", run, "--ckpt", "5:20:10", *METRICS]) == 0
    assert "--ckpt 5:20:10: 2 of the 4 checkpoints" in capsys.readouterr().out
    assert fid_steps(run) == [5, 15]

    for bad, message in (
        ("100:200", "--ckpt 100:200 matches none of"), ("20:10", "needs END >= START"), ("5:20:0", "STEP >= 1"),
    ):  # fmt: skip
        assert main(["eval", run, "--ckpt", bad, *METRICS]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ganforge: error: ") and err.count("\n") == 1 and message in err, err
    assert main(["eval", run, "--repeats", "0"]) == 2
    assert "--repeats 0" in capsys.readouterr().err

    # The best checkpoint stands in for a step whose numbered file was pruned.
    ckpts = os.path.join(run, "checkpoints")
    os.replace(os.path.join(ckpts, "ckpt-0000005.pt"), os.path.join(ckpts, "ckpt-best.pt"))
    with open(os.path.join(run, "metrics", "best.json"), "w") as f:
        json.dump({"metric": "fid", "value": 1.0, "step": 5, "higher_is_better": False}, f)
    assert select_checkpoints(run, ":10") == [(5, "best"), (10, "10")]


def test_repeats_record_the_mean_and_sample_sd_over_seeds(tmp_path, capsys):
    run = ring_run(tmp_path / "ring")
    assert main(["eval", run, "--ckpt", "20", "--repeats", "2", "--seed", "3", "--metrics", "fid,kid", "-n", "100"]) == 0
    out = capsys.readouterr().out
    assert "mean of 2 sample sets (seeds 3..4)" in out and "over 2 seeds" in out
    repeated = {e["metric"]: e for e in lines(run)}
    for seed in (3, 4):
        assert main(["eval", run, "--ckpt", "20", "--seed", str(seed), "--metrics", "fid,kid", "-n", "100"]) == 0
    singles = lines(run)[2:]
    for name in ("fid", "kid"):
        a, b = (e["value"] for e in singles if e["metric"] == name)
        card = repeated[name]
        assert card["seed"] == 3 and card["extra"]["repeats"] == 2 and card["extra"]["repeat_seeds"] == [3, 4]
        assert card["extra"]["repeat_values"] == [a, b]
        torch.testing.assert_close(card["value"], (a + b) / 2)
        torch.testing.assert_close(card["extra"]["repeat_std"], abs(a - b) / math.sqrt(2))  # divisor K - 1
        assert protocol_of(card)["repeats"] == 2 and protocol_of(singles[0])["repeats"] == 1


def test_repeated_curves_carry_their_spread_and_show_in_the_report(tmp_path, capsys):
    run = ring_run(tmp_path / "ring", keep_checkpoints=0)
    assert main(["eval", run, "--ckpt", "10::10", "--repeats", "2", *METRICS]) == 0
    out = capsys.readouterr().out
    assert os.path.join(run, "metrics", "curve-fid.png") in out
    fid = [e for e in lines(run) if e["metric"] == "fid"]
    points = points_of(curve_lines(lines(run), "fid", protocol_of(fid[-1])))  # what the plot draws
    assert [(p.step, p.value, p.std, p.repeats) for p in points] == [(e["step"], e["value"], e["extra"]["repeat_std"], 2) for e in fid]
    assert main(["report", run]) == 0
    text = open(os.path.join(run, "report.html")).read()
    section = text.split('<section id="eval-curves">')[1].split("</section>")[0]
    drawn = sorted(n for n in os.listdir(os.path.join(run, "metrics")) if n.startswith("curve-"))
    assert "curve-fid.png" in drawn and "curve-modes-covered.png" in drawn
    assert section.count('src="data:image/png;base64,') == len(drawn) and all(n in section for n in drawn)
    assert "mean ± " in text.split('<section id="metrics">')[1]  # the latest card says it is a mean


def test_one_step_draws_no_curve(tmp_path, capsys):
    run = ring_run(tmp_path / "ring")
    assert main(["eval", run, *METRICS]) == 0
    assert "curve:" not in capsys.readouterr().out
    assert not any(n.startswith("curve-") for n in os.listdir(os.path.join(run, "metrics")))
    assert main(["report", run]) == 0
    assert "no curves yet" in open(os.path.join(run, "report.html")).read()


def _cards_against_expected(cards, expected):
    written = {c.metric: protocol_of(c.to_dict()) for c in cards if c.metric.count("/") < 2}
    assert written == expected


def test_expected_protocols_are_those_the_points_metrics_write():
    """Skipping rests on knowing each card's protocol before scoring: here checked against real cards."""
    ev = resolve_evaluator("ring8", "points", 0, "auto")
    names = ["fid", "kid", "pr", "dc", "modes", "memorization"]
    ref = prepare_reference("ring8", ev, names, n_ref=60, n_train=80)
    cards = score(torch.randn(50, 2), ref, ev, names, seed=7)
    _cards_against_expected(cards, expected_protocols(names, "points", ev, 50, 60, 80, 7))


def test_expected_protocols_are_those_the_image_metrics_write():
    reader = ModuleFeatures(nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)), "a linear digit reader")
    ev = Evaluator(reader, 10, lambda x: reader.features_and_logits(x)[1].argmax(1), "a linear digit reader")
    names = ["fid", "kid", "pr", "dc", "is", "modes", "memorization", "conditional", "intra-fid"]
    assert sorted(names) == sorted(n for n, _ in list_metrics())  # a new metric must join expected_protocols' table
    ref = prepare_reference("digits", ev, names, n_ref=50, n_train=60)
    classes = torch.arange(40) % 10
    options = {"conditional": {"classes": classes}, "intra-fid": {"classes": classes}}
    cards = score(torch.rand(40, 1, 8, 8) * 2 - 1, ref, ev, names, seed=2, options=options)
    expected = expected_protocols(names, "image", ev, 40, 50, 60, 2, repeats=1)
    _cards_against_expected(cards, expected)
    assert expected["fid"]["extractor"] == "a linear digit reader" and expected["memorization"]["ref_split"] == "train"


@pytest.mark.parametrize("which", ["latest", "20"])
def test_one_checkpoint_is_always_scored(tmp_path, capsys, which):
    """Skipping is for selections of many: naming one checkpoint scores it, as before."""
    run = ring_run(tmp_path / "ring")
    for _ in range(2):
        assert main(["eval", run, "--ckpt", which, *METRICS]) == 0
    assert "skipped" not in capsys.readouterr().out
    assert fid_steps(run) == [20, 20]


def test_each_curve_gets_its_own_reference_line():
    """The dashed line is the metric's own: modes cards share their extras, but each has its own floor."""
    extra = {"perfect_generator_modes_covered": 7.99, "perfect_generator_kl_bias": 0.035}
    assert reference_of({"metric": "modes/covered", "extra": extra}) == (7.99, "perfect generator")
    assert reference_of({"metric": "modes/kl", "extra": extra}) == (0.035, "perfect generator (plug-in bias)")
    assert reference_of({"metric": "modes/high_quality", "extra": extra}) is None
    assert reference_of({"metric": "fid", "extra": {"real_vs_real": 1.5, "real_vs_real_n": 100}}) == (1.5, "real vs real (n=100)")
    assert reference_of({"metric": "memorization", "extra": {"baseline_share": 0.01}}) == (0.01, "real-vs-real baseline")
    assert reference_of({"metric": "kid", "extra": {"real_vs_real": "nan"}}) is None
