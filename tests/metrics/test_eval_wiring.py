"""`ganforge eval`, `fit-evaluator` and in-training evaluation, end to end on tiny runs."""
import io
import json
import os
import sys

import pytest
import torch
from torch import nn

from ganforge.cli import main
from ganforge.metrics.evaluate import prepare_reference, score
from ganforge.metrics.evaluator import Evaluator, resolve_evaluator
from ganforge.metrics.features import ModuleFeatures
from ganforge.monitors.evaluation import EVAL_SEED
from ganforge.metrics.protocol import state_dict_sha256
from ganforge.presets import resolve_config
from ganforge.runs import load_run, train
from ganforge.classify import load_classifier

QUICK = {"threads": 1, "batch_size": 32, "log_every": 10, "sample_every": 1000, "ckpt_every": 20, "n_samples": 16}


def lines(run):
    path = os.path.join(run, "metrics", "metrics.jsonl")
    return [json.loads(line) for line in open(path).read().splitlines()]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """40 steps on ring8 with evaluation every 20 steps and the best checkpoint kept by high-quality share."""
    run = str(tmp_path_factory.mktemp("ring") / "run")
    cfg = resolve_config("gan", [QUICK, {
        "data": "ring8", "steps": 40, "model": {"z_dim": 2, "g": {"hidden": [32]}, "d": {"hidden": [32]}},
        "opt_g": {"lr": 1e-3}, "opt_d": {"lr": 1e-3}, "eval_every": 20, "eval_n": 300, "best_metric": "fid",
    }])  # fmt: skip
    train(cfg, out=run, progress=False)
    return run


def test_in_training_evaluation_writes_cards_and_keeps_the_best_checkpoint(ring_run):
    evals = lines(ring_run)
    assert {(e["step"], e["metric"]) for e in evals} == {
        (s, m) for s in (20, 40) for m in ("modes/covered", "modes/kl", "modes/high_quality", "fid")
    }
    assert all(e["source"] == "train" and e["n_gen"] == 300 and e["ref_split"] == "test" for e in evals)
    fids = {e["step"]: e["value"] for e in evals if e["metric"] == "fid"}
    best = json.load(open(os.path.join(ring_run, "metrics", "best.json")))
    assert best["metric"] == "fid" and best["value"] == min(fids.values()) and best["step"] == min(fids, key=fids.get)
    assert load_run(ring_run, "best").step == best["step"]
    stats = [json.loads(line) for line in open(os.path.join(ring_run, "stats.jsonl"))]
    assert [r["step"] for r in stats if "Eval/fid" in r] == [20, 40]


def test_eval_command_prints_a_table_and_appends_one_line_per_metric(ring_run, capsys):
    before = len(lines(ring_run))
    assert main(["eval", ring_run, "--metrics", "modes,fid,kid,pr", "-n", "200", "--ckpt", "20"]) == 0
    out = capsys.readouterr().out
    assert "modes/high_quality" in out and "real-vs-real" in out and "protocol: extractor points (identity)" in out
    new = lines(ring_run)[before:]
    assert [e["metric"] for e in new] == ["modes/covered", "modes/kl", "modes/high_quality", "fid", "kid", "precision", "recall"]
    assert all(e["step"] == 20 and e["source"] == "eval" and e["checkpoint"] == "ckpt-0000020.pt" for e in new)
    kid = next(e for e in new if e["metric"] == "kid")
    assert kid["n_gen"] == 200 and kid["warnings"] and "subsets of 200" in kid["warnings"][0]  # fewer than 1,000


def test_bad_input_is_a_clear_error(ring_run, tmp_path, capsys):
    assert main(["eval", ring_run, "--metrics", "fid,fjd"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'fjd'" in err and "memorization" in err and "kid" in err
    assert main(["eval", ring_run, "--metrics", "is"]) == 2
    assert "needs class logits" in capsys.readouterr().err
    assert main(["eval", ring_run, "--metrics", "fid,conditional"]) == 2  # ring8's G is not class-conditional
    assert "error: --metrics: metric 'conditional' scores G against the classes it was asked for" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.yaml").write_text(open(os.path.join(ring_run, "config.yaml")).read())
    assert main(["eval", str(empty)]) == 2
    assert "no checkpoints yet" in capsys.readouterr().err
    assert main(["diagnose", str(empty)]) == 2
    assert "no stats.jsonl" in capsys.readouterr().err
    assert main(["diagnose", ring_run]) == 0
    assert "best checkpoint: checkpoints/ckpt-best.pt = step" in capsys.readouterr().out


def test_offline_evaluator_is_fitted_once_and_scores_a_digits_run(tmp_path, capsys, monkeypatch):
    cache = str(tmp_path / "cache")
    monkeypatch.setenv("GANFORGE_CACHE", cache)  # no --cache-dir: the environment variable decides
    assert main(["fit-evaluator", "--data", "digits", "--model", "cnn", "--epochs", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    folder = out.split("evaluator:")[1].split()[0]
    assert folder.startswith(os.path.join(cache, "evaluators", "digits-"))
    stamp = os.path.getmtime(os.path.join(folder, "evaluator.json"))
    assert main(["fit-evaluator", "--data", "digits", "--model", "cnn", "--epochs", "1"]) == 0  # cached: no retraining
    assert os.path.getmtime(os.path.join(folder, "evaluator.json")) == stamp
    capsys.readouterr()

    run = str(tmp_path / "digits-run")
    cfg = resolve_config("gan", [QUICK, {"data": "digits", "steps": 20, "model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}}}])
    train(cfg, out=run, progress=False)
    assert main(["eval", run, "-n", "300", "--metrics", "fid,kid,pr,is,modes,memorization"]) == 0
    evals = {e["metric"]: e for e in lines(run)}
    model, _ = load_classifier(os.path.join(folder, "classifier"))
    assert evals["fid"]["extractor_weights_sha256"] == state_dict_sha256(model)
    assert evals["fid"]["extractor"] == "cnn-digits classifier" and evals["fid"]["n_ref"] == 300  # digits' test split
    assert evals["fid"]["extra"]["real_vs_real"] < evals["fid"]["value"]  # 20 steps are far from real digits
    assert evals["modes/covered"]["extra"]["num_modes"] == 10 and 0 <= evals["modes/covered"]["value"] <= 10
    assert any("FID from 300 generated samples" in w for w in evals["fid"]["warnings"])
    assert os.path.isfile(evals["memorization"]["extra"]["png"])
    assert 0.0 <= evals["memorization"]["value"] <= 1.0 and "baseline_share" in evals["memorization"]["extra"]


def test_unlabelled_data_have_no_offline_evaluator(tmp_path, capsys):
    assert main(["fit-evaluator", "--data", "lfw-faces", "--cache-dir", str(tmp_path)]) == 2
    assert "no class labels" in capsys.readouterr().err
    ev = resolve_evaluator("lfw-faces", "image", 0, "auto", cache_dir=str(tmp_path))
    assert ev.extractor is None and "memorization only" in ev.note
    with pytest.raises(Exception, match="(?s)no offline evaluator for 'mnist5k'.*fit-evaluator --data mnist5k"):
        resolve_evaluator("mnist5k", "image", 10, "auto", cache_dir=str(tmp_path))


class Terminal(io.StringIO):
    """stderr as an interactive terminal, where progress bars show."""

    def isatty(self):
        return True


def test_feature_extraction_shows_progress_on_a_terminal(monkeypatch):
    ev = Evaluator(ModuleFeatures(nn.Sequential(nn.Flatten(), nn.Linear(64, 10))), 10, None, "a linear digit reader")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    ref = prepare_reference("digits", ev, ["fid"], n_ref=50, n_train=60)
    score(torch.rand(40, 1, 8, 8) * 2 - 1, ref, ev, ["fid"])
    text = terminal.getvalue()
    for stage in ("reference features", "training features", "generated features"):
        assert stage in text, text


def test_eval_command_says_what_it_is_doing_on_a_terminal(ring_run, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["eval", ring_run, "--metrics", "fid", "-n", "100", "--ckpt", "20"]) == 0
    assert "sampling 100" in terminal.getvalue() and "generated features" in terminal.getvalue()


def test_an_interrupted_or_concurrent_fit_does_not_block_the_next(tmp_path, monkeypatch):
    """A classifier folder left by an interrupted fit (no evaluator.json) is refitted, not refused;
    a fit waits on the folder's lock, so two processes starting together do not collide."""
    import os

    from ganforge.metrics import offline_evaluator as oe

    folder = oe.evaluator_dir("digits", str(tmp_path))
    os.makedirs(os.path.join(folder, "classifier"))  # what a killed fit leaves behind
    open(os.path.join(folder, "classifier", "config.yaml"), "w").close()
    calls = []
    monkeypatch.setattr(oe, "_fit", lambda data, folder, facts_path, *rest: calls.append(folder) or (folder, {"ok": True}))
    assert oe.fit_evaluator("digits", str(tmp_path), progress=False) == (folder, {"ok": True})
    assert calls == [folder] and not os.path.exists(os.path.join(folder, "classifier"))
    assert os.path.isfile(os.path.join(folder, ".fit.lock"))


def test_the_shared_digit_classifier_reads_each_dataset_its_own_way(tmp_path, monkeypatch):
    """stacked-mnist and mnist5k share one cached classifier: fitted first for stacked-mnist, it must
    still read mnist5k's grey digits whole (it tried to split them into three channels)."""
    import json
    import os

    from ganforge.metrics import evaluator as ev_mod
    from ganforge.metrics import offline_evaluator as oe

    folder = oe.evaluator_dir("mnist5k", str(tmp_path))
    assert folder == oe.evaluator_dir("stacked-mnist", str(tmp_path))
    os.makedirs(folder)
    with open(os.path.join(folder, "evaluator.json"), "w") as f:
        json.dump({"data": "stacked-mnist", "per_channel": True}, f)  # as a stacked-mnist fit wrote it
    seen = {}
    monkeypatch.setattr(ev_mod, "classifier_evaluator", lambda path, per_channel, facts, device, resize=None: seen.setdefault("pc", []).append(per_channel))
    ev_mod.load_offline_evaluator("mnist5k", str(tmp_path))
    ev_mod.load_offline_evaluator("stacked-mnist", str(tmp_path))
    assert seen["pc"] == [False, True]


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """A cache folder holding a one-epoch digits evaluator."""
    cache = str(tmp_path_factory.mktemp("cache"))
    assert main(["fit-evaluator", "--data", "digits", "--model", "cnn", "--epochs", "1", "--cache-dir", cache]) == 0
    return cache


def test_eval_of_a_conditional_run_reports_conditional_accuracy_and_per_class_fid(digits_cache, tmp_path, capsys):
    cache = digits_cache
    run = str(tmp_path / "cgan-digits")
    cfg = resolve_config("cgan", [QUICK, {"data": "digits", "steps": 20, "model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}}}])
    train(cfg, out=run, progress=False)
    capsys.readouterr()
    assert main(["eval", run, "-n", "200", "--cache-dir", cache]) == 0  # default metrics: a conditional run adds both
    table = capsys.readouterr().out
    assert "conditional/accuracy" in table and "conditional/fid" in table and "mean of 10 classes" in table
    card = {e["metric"]: e for e in lines(run)}["conditional/fid"]
    assert card["extractor"] == "cnn-digits classifier" and card["n_gen"] == 200 and card["n_ref"] == 200
    assert len(card["extra"]["per_class"]) == 10 and card["value"] == pytest.approx(sum(card["extra"]["per_class"]) / 10)
    assert 0 < card["extra"]["real_vs_real"] < card["value"]  # 20 steps are far from real digits
    assert sum(card["extra"]["n_ref_per_class"]) == 200 and card["extra"]["real_vs_real_n"] == 200


def test_in_training_evaluation_of_a_conditional_run_scores_the_classes_eval_asks_for(digits_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", digits_cache)  # where training looks for the evaluator
    run = str(tmp_path / "cgan-digits")
    cfg = resolve_config("cgan", [QUICK, {"data": "digits", "steps": 4, "log_every": 2, "eval_every": 2, "eval_n": 64,
                                          "eval_metrics": ["conditional", "intra-fid"], "best_metric": "conditional/accuracy",
                                          "model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}}}])  # fmt: skip
    train(cfg, out=run, progress=False)
    trained = {(e["step"], e["metric"]): e for e in lines(run)}
    assert {key for key in trained if "accuracy/" not in key[1]} == {
        (s, m) for s in (2, 4) for m in ("conditional/accuracy", "conditional/fid")
    }
    # 64 samples, fewer than a whole cycle of 10 rows of 8: the classes in turn, as `ganforge generate` and
    # `ganforge eval` draw them
    assert trained[(4, "conditional/fid")]["extra"]["n_gen_per_class"] == [7] * 4 + [6] * 6
    accuracy = {step: trained[(step, "conditional/accuracy")]["value"] for step in (2, 4)}
    best = json.load(open(os.path.join(run, "metrics", "best.json")))  # a conditional card can pick the best checkpoint
    assert best["metric"] == "conditional/accuracy" and best["value"] == max(accuracy.values())
    assert best["step"] == max(accuracy, key=accuracy.get)
    # `ganforge eval` with the monitor's seed and n scores the same samples for the same classes: the same values
    assert main(["eval", run, "-n", "64", "--seed", str(EVAL_SEED), "--metrics", "conditional,intra-fid"]) == 0
    scored = {e["metric"]: e["value"] for e in lines(run) if e["source"] == "eval"}
    assert len(scored) == 1 + 10 + 1  # accuracy, its 10 classes, per-class FID
    for metric, value in scored.items():
        torch.testing.assert_close(trained[(4, metric)]["value"], value)


@pytest.mark.parametrize("overrides, says", [
    (["eval_metrics=[fid,conditional]"], ("eval_metrics: metric 'conditional' scores G against the classes it was asked for, "
                                          "and this run's generator is not class-conditional (model.conditional_g is off)")),
    (["eval_metrics=[intra-fid]"], "eval_metrics: metric 'intra-fid' scores G against the classes it was asked for"),
    (["eval_metrics=[fid]", "eval_evaluator=none"], "eval_metrics: metric 'fid' needs features, and there is no evaluator"),
])  # fmt: skip
def test_in_training_metrics_the_run_cannot_score_are_refused_before_training(overrides, says, tmp_path, capsys):
    run = tmp_path / "gan-digits"
    argv = ["train", "--preset", "gan", "--data", "digits", "--steps", "4", "--no-progress", "--out", str(run), "threads=1",
            "batch_size=16", "log_every=2", "eval_every=2", "eval_n=64", "model.z_dim=8", *overrides]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ganforge: error: {says}") and err.count("\n") == 1
    assert not run.exists()  # refused before the run folder, so before any step
