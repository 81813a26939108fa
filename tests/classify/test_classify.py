"""The classifier trainer: every model, learning, phases that switch optimizer and image size, exact
resume, run folders and evaluation, errors."""
from __future__ import annotations

import argparse
import json
import os

import pytest
import torch
from torch.testing import assert_close

from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.classify import CLASSIFIERS, ClassifyConfig, build_classifier, evaluate_run, load_classifier, resume, train
from ganforge.classify.config import schedule_spec
from ganforge.classify.data import flip_and_crop
from ganforge.classify.models import ANY_SIZE, ResLayer
from ganforge.classify.report import confusion_matrix
from ganforge.classify.trainer import ClassifierTrainer


@pytest.fixture(autouse=True)
def _one_thread():
    # The suite shares two cores; small models train faster on one thread than fighting for two.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- models ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CLASSIFIERS.list())
def test_every_model_runs_forward_and_backward(name):
    torch.manual_seed(0)
    size = 16
    # The full Darknets hold 20M/80M weights: two groups show the same code paths in a fraction of the time.
    kwargs = {"blocks": [1, 1]} if name in ("darknet", "darknet-wide") else {}
    model = build_classifier(name, channels=3, resolution=size, num_classes=7, **kwargs)
    x = torch.randn(2, 3, size, size)
    logits = model(x)
    assert logits.shape == (2, 7)
    logits.logsumexp(1).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    if name in ANY_SIZE:  # adaptive pooling: any input size
        assert model(torch.randn(2, 3, 24, 24)).shape == (2, 7)


def test_darknet_layout_follows_the_lesson():
    model = build_classifier("darknet", 3, 32, 10)
    strides = [m[0].stride[0] for m in model.features if isinstance(m, torch.nn.Sequential)]
    assert strides == [1, 2, 1, 2, 2, 2]  # stem, then the groups: stride 2 but for the second group
    res_per_group = [1, 2, 4, 6, 3]
    assert sum(isinstance(m, ResLayer) for m in model.features) == sum(res_per_group)
    assert model.head.in_features == 32 * 2**5
    assert build_classifier("darknet-wide", 3, 32, 10, blocks=[1]).head.in_features == 64 * 2  # twice the width
    leaky = [m for m in model.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert leaky and all(m.negative_slope == 0.1 for m in leaky)


def test_res_layer_adds_in_place_only_when_nothing_is_recorded():
    torch.manual_seed(0)
    layer = ResLayer(8).eval()
    x = torch.randn(2, 8, 5, 5)
    want = x + layer.expand(layer.squeeze(x))
    with torch.no_grad():
        x_copy = x.clone()
        out = layer(x_copy)
    assert out.data_ptr() == x_copy.data_ptr()  # in place
    assert_close(out, want.detach())
    out = layer(x)  # recording: a new tensor, x untouched
    assert out.data_ptr() != x.data_ptr()
    assert_close(out, want)


def test_unknown_model_or_argument_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown classifier model 'darknett' \(did you mean 'darknet'\?\); valid: cnn, darknet"):
        build_classifier("darknett", 1, 28, 10)
    with pytest.raises(ConfigError, match="classifier 'mlp' has no argument 'width'; valid: hidden"):
        build_classifier("mlp", 1, 28, 10, width=3)


# --- helpers -----------------------------------------------------------------------------------------


def test_confusion_matrix_counts():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 0, 2])
    assert confusion_matrix(labels, preds, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_flip_and_crop_takes_windows_of_the_padded_batch():
    torch.manual_seed(0)
    images = torch.randn(6, 2, 5, 5)
    torch.manual_seed(1)
    out = flip_and_crop(images, pad=2)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="reflect")
    for i in range(6):
        windows = [padded[i, :, y : y + 5, x : x + 5] for y in range(5) for x in range(5)]
        windows += [w.flip(-1) for w in windows]
        assert any(torch.equal(out[i], w) for w in windows)


# --- default courses ---------------------------------------------------------------------------------


def _benchmark_recipes() -> dict:
    """benchmarks/classify_mnist.py's RUNS: the recipes whose held-out accuracy it measures."""
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "classify_mnist.py")
    spec = importlib.util.spec_from_file_location("classify_mnist_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RUNS


@pytest.mark.parametrize("name", CLASSIFIERS.list())
def test_every_model_defaults_to_a_1cycle_course(name):
    spec = schedule_spec(ClassifyConfig(model=name))
    assert spec["kind"] == "1cycle" and spec["epochs"] > 0


@pytest.mark.parametrize("name", ["cnn", "darknet-small"])
def test_a_benchmarked_models_default_course_is_its_benchmark_recipe(name):
    # cnn: 1cycle Adam to 3e-3 over 8 epochs (98.6 % held-out on mnist5k, against 95.8 % for the
    # 2 epochs of constant Adam 1e-3 it defaulted to); darknet-small: 1cycle SGD to 0.1 over 5 epochs.
    recipe = {k: v for k, v in _benchmark_recipes()[name].items()}
    assert schedule_spec(ClassifyConfig(model=name)) == schedule_spec(ClassifyConfig(**recipe))


def test_flags_still_override_the_default_course():
    spec = schedule_spec(ClassifyConfig(model="cnn", epochs=3, lr=1e-3))
    assert spec == {"kind": "1cycle", "optimizer": "adam", "lr_max": 1e-3, "epochs": 3}
    # A course named without a length still gets the old default of 2 epochs.
    assert schedule_spec(ClassifyConfig(model="cnn", schedule="constant"))["epochs"] == 2


# --- training ----------------------------------------------------------------------------------------


def _cfg(**kw) -> ClassifyConfig:
    base = dict(model="softmax", data="digits", batch_size=100, eval_batch_size=300,
                schedule={"kind": "constant", "lr": 0.01, "optimizer": "adam"}, epochs=3)
    return ClassifyConfig(**{**base, **kw})


def test_trainer_learns_a_separable_problem(tmp_path):
    # Softmax regression on the 8x8 digits (nearly linearly separable): chance is 10 %.
    result = train(_cfg(), out=str(tmp_path / "run"), progress=False)
    assert result.test.accuracy > 0.9
    stats = [json.loads(line) for line in open(tmp_path / "run" / "stats.jsonl")]
    assert [s["Progress/epoch"] for s in stats] == [1, 2, 3]
    assert stats[-1]["Loss/train"] < stats[0]["Loss/train"]
    assert stats[-1]["Accuracy/test"] == result.test.accuracy
    assert (tmp_path / "run" / "confusion.png").stat().st_size > 1000
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "kind: classifier" in saved
    # `classify eval` finds the same accuracy from the saved run.
    evaluation, facts = evaluate_run(str(tmp_path / "run"), device="cpu")
    assert evaluation.accuracy == result.test.accuracy and facts["data"] == "digits"
    model, facts = load_classifier(str(tmp_path / "run"))
    assert facts["input"] == {"channels": 1, "resolution": 8, "num_classes": 10} and not model.training


def test_a_cpu_run_gives_way_to_other_programs_says_so_records_its_threads_and_restores_them(tmp_path, monkeypatch, capsys):
    """threads 0 on a CPU, as in a GAN training (runtime/core_share.py has the rules): other programs hold
    one of two cores throughout, so the run drops to one thread after two verdicts, prints one line, records
    the count in every epoch's stats, and sets the count at the start again when training ends."""
    import itertools

    from ganforge.runtime import core_share
    from ganforge.runtime.core_share import CoreShare

    set_to = []
    clock, busy = itertools.count(), itertools.count()  # a second per poll, one other core busy all along
    monkeypatch.setattr(core_share, "CoreShare", lambda max_threads: CoreShare(
        2, cores=2, clock=lambda: float(next(clock)), busy=lambda: float(next(busy)), own=lambda: 0.0,
        set_threads=set_to.append, interval=0.0))  # fmt: skip
    train(_cfg(), out=str(tmp_path / "run"), progress=True)
    stats = [json.loads(line) for line in open(tmp_path / "run" / "stats.jsonl")]
    assert [s["threads"] for s in stats] == [1, 1, 1]
    assert set_to == [1, 2]
    out = capsys.readouterr().out
    assert out.count("other programs are using 1.0 of 2 cores: training on 1 torch thread(s) of 2 "
                     "(set --threads N to fix the count)") == 1  # fmt: skip
    # a count the user sets is theirs: nothing watches it
    assert ClassifierTrainer(_cfg(threads=1), progress=False).core_share is None


def test_resume_mid_phase_equals_straight_through(tmp_path):
    # 1cycle over 3 epochs: its warm-up ends 1.35 epochs in, so a stop after epoch 1 is mid-phase.
    cfg = dict(model="mlp", model_args={"hidden": 32}, schedule="1cycle", lr=0.5, epochs=3)
    straight = train(_cfg(**cfg), out=str(tmp_path / "straight"), progress=False)

    trainer = ClassifierTrainer(_cfg(**cfg), progress=False)
    run_dir = str(tmp_path / "split")
    os.makedirs(run_dir)
    from ganforge.classify.config import write_config

    write_config(trainer.cfg, os.path.join(run_dir, "config.yaml"))
    trainer.train(run_dir, max_epochs=1)
    assert 0 < trainer.step < trainer.schedule.starts[1]  # stopped inside the first phase
    resumed = resume(run_dir, progress=False)
    assert resumed.test.accuracy == straight.test.accuracy
    a = torch.load(os.path.join(tmp_path, "straight", "checkpoints", "ckpt-latest.pt"), weights_only=True)
    b = torch.load(os.path.join(run_dir, "checkpoints", "ckpt-latest.pt"), weights_only=True)
    for key in a["model"]:
        assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)
    # Changing the maths on resume is refused.
    with pytest.raises(ConfigError, match="keeps its hyperparameters; batch_size"):
        resume(run_dir, {"batch_size": 50}, progress=False)


def test_resume_extends_a_constant_course_exactly(tmp_path):
    # A constant course has the same lr at every step and epoch e's batch order depends only on
    # (seed, e): 2 epochs, then extended to 4, equal 4 epochs straight through.
    straight = train(_cfg(epochs=4), out=str(tmp_path / "straight"), progress=False)
    train(_cfg(epochs=2), out=str(tmp_path / "extended"), progress=False)
    extended = resume(str(tmp_path / "extended"), {"epochs": 4}, progress=False)
    assert [r["Progress/epoch"] for r in extended.epochs] == [3, 4]
    assert extended.test.accuracy == straight.test.accuracy
    a, b = (torch.load(tmp_path / r / "checkpoints" / "ckpt-latest.pt", weights_only=True) for r in ("straight", "extended"))
    assert a["step"] == b["step"] and a["schedule"] == b["schedule"]
    for key in a["model"]:
        assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)
    assert "epochs: 4" in (tmp_path / "extended" / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="already 4 epochs long; extending takes more than that"):
        resume(str(tmp_path / "extended"), {"epochs": 3}, progress=False)


def test_resume_refuses_to_extend_a_course_shaped_by_its_length(tmp_path):
    run = str(tmp_path / "run")
    train(_cfg(schedule={"kind": "1cycle", "optimizer": "adam", "lr_max": 0.01}, epochs=1), out=run, progress=False)
    with pytest.raises(ConfigError, match=r"1cycle course of 1 epoch, which sets the lr of every step by its length.*"
                                          r"start a new run with --epochs 2"):  # fmt: skip
        resume(run, {"epochs": 2}, progress=False)
    assert resume(run, {"epochs": 1}, progress=False).epochs == []  # the same length: nothing to add


def test_phases_switch_optimizer_and_image_size(tmp_path):
    # Adam on the 8x8 digits, then SGD with momentum on MNIST at 12x12 (progressive resizing and a
    # change of data), for a Darknet (adaptive pooling: any size).
    phases = [
        {"epochs": 1, "optimizer": "adam", "lr": 3e-3, "image_size": 8},
        {"steps": 14, "optimizer": "sgd", "lr": [0.05, 0.005], "decay": "cosine", "momentum": 0.9,
         "data": "mnist5k", "image_size": 12},
    ]
    cfg = _cfg(model="darknet-small", model_args={"nf": 4, "blocks": [1]}, schedule=phases)
    trainer = ClassifierTrainer(cfg, progress=False)
    assert trainer.schedule.lengths == [14, 14]  # 1,497 digits / 100 per batch; then 14 steps
    optimizers = []
    real_prepare = trainer.popt.prepare
    sizes = []

    def prepare(step):
        opt = real_prepare(step)
        optimizers.append(type(opt).__name__)
        return opt

    trainer.popt.prepare = prepare
    forward = trainer.model.forward
    trainer.model.forward = lambda x: (sizes.append(x.shape[-1]), forward(x))[1]
    run_dir = str(tmp_path / "run")
    os.makedirs(run_dir)
    result = trainer.train(run_dir)
    assert optimizers == ["Adam"] * 14 + ["SGD"] * 14
    # 14 training batches at 8px, the epoch-end test pass (300 digits), 14 at 12px, its test pass (2 x 300).
    assert sizes == [8] * 14 + [8] + [12] * 14 + [12] * 2
    assert len(result.epochs) == 2  # the switch of data ends an epoch
    last = trainer.test_data(trainer.schedule.phases[-1])
    assert last.resolution == 12 and len(last) == 500  # mnist5k's held-out digits
    assert trainer.train_data(trainer.schedule.phases[0]).resolution == 8


def test_fixed_size_models_refuse_progressive_resizing():
    phases = [{"epochs": 1, "lr": 0.1, "image_size": 8}, {"epochs": 1, "lr": 0.1, "image_size": 16}]
    with pytest.raises(ConfigError, match="'cnn' works at one size; use one of darknet"):
        ClassifierTrainer(_cfg(model="cnn", schedule=phases), progress=False)


@pytest.mark.parametrize(
    "kw, error, message",
    [
        ({"model": "resnet"}, ConfigError, r"unknown classifier model 'resnet'.*; valid: cnn, darknet, darknet-small, darknet-wide, mlp, softmax"),
        ({"data": "ring8"}, DataError, "a classifier needs labelled images"),
        ({"data": "lfw-faces"}, DataError, "has no class labels"),
        ({"schedule": [{"steps": 0, "lr": 0.1}]}, ConfigError, "at least 1 step"),
        ({"schedule": [{"steps": 5, "lr": -1.0}]}, ConfigError, "must be >= 0"),
        ({"schedule": {"kind": "constant", "lr": 0.1, "decay": "cos"}}, ConfigError, "has no argument 'decay'"),
    ],
)
def test_bad_configs_are_refused(kw, error, message):
    with pytest.raises(error, match=message):
        ClassifierTrainer(_cfg(**kw), progress=False)


def test_a_gan_run_is_not_a_classifier(tmp_path):
    run = tmp_path / "gan"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("preset: dcgan\n")
    from ganforge.runtime.checkpoint import save_checkpoint

    save_checkpoint({"config": {}, "step": 1}, str(run / "checkpoints"), 1)
    with pytest.raises(CheckpointError, match="not a classifier run"):
        evaluate_run(str(run))


def test_classify_command_trains_and_evaluates(tmp_path, capsys):
    from ganforge.commands import classify

    parser = argparse.ArgumentParser()
    classify.register(parser.add_subparsers())

    def run(*argv):
        args = parser.parse_args(["classify", *argv])
        return args.func(args)

    out = str(tmp_path / "run")
    assert run("train", "--model", "softmax", "--data", "digits", "--epochs", "1", "--lr", "0.01",
               "--optimizer", "adam", "--out", out) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert run("eval", out, "--confusion", str(tmp_path / "c.png")) == 0
    text = capsys.readouterr().out
    assert "on digits test (8px" in text and "accuracy" in text and (tmp_path / "c.png").exists()
    with pytest.raises(CheckpointError, match="already exists"):
        run("train", "--model", "softmax", "--data", "digits", "--out", out)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_precision_on_a_gpu_trains_and_resumes(tmp_path):
    cfg = _cfg(model="cnn", device="cuda", schedule={"kind": "1cycle", "optimizer": "adam", "lr_max": 3e-3}, epochs=2)
    trainer = ClassifierTrainer(cfg, progress=False)
    assert trainer.amp and trainer.scaler.is_enabled()
    result = train(cfg, out=str(tmp_path / "run"), progress=False)
    assert result.test.accuracy > 0.85
    state = torch.load(tmp_path / "run" / "checkpoints" / "ckpt-latest.pt", weights_only=True)
    assert state["scaler"]["scale"] > 0  # the gradient scaler's state is in the checkpoint
