"""Runs written before the engine redesign still load and resume: their configs name schedule_g /
schedule_d (a course with its own lr, optimizer and momentum) and progan's algo.drift; the checkpoint's
other state is unchanged. Runs whose configs an older ganforge accepted but today's refuses for a new run
(eval_* keys without in-training evaluation) load and resume too."""
import pytest
import torch
from torch.testing import assert_close

from ganforge import config as config_mod
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.runs import load_run, prepare_resume, resume, train
from ganforge.runtime.checkpoint import atomic_save, load_checkpoint
from ganforge.stored import from_stored, upgrade_stored

TINY = {"data": "fake", "image_size": 16, "channels": 1, "batch_size": 8, "n_samples": 4, "log_every": 2, "sample_every": 100,
        "ckpt_every": 100, "tensorboard": False, "model": {"g": {"width": 4}, "d": {"width": 4}}}  # fmt: skip


def test_an_old_course_becomes_the_same_optimizer_spec():
    old = {"schedule_g": {"kind": "step", "lr": 1e-4, "at": [0.5], "gamma": 0.5, "optimizer": "adam", "momentum": 0.5},
           "schedule_d": {"kind": "cyclegan", "lr": 2e-4}, "algorithm": "progan", "algo": {"drift": 0.001, "fade_steps": 2}}
    cfg = from_stored(old)
    assert (cfg.opt_g.name, cfg.opt_g.lr, cfg.opt_g.betas[0]) == ("adam", 1e-4, 0.5)
    assert cfg.opt_g.schedule == {"kind": "step", "at": [0.5], "gamma": 0.5}
    assert (cfg.opt_d.name, cfg.opt_d.lr, cfg.opt_d.betas[0], cfg.opt_d.schedule) == ("adam", 2e-4, 0.5, {"kind": "cyclegan"})
    assert cfg.drift_weight == 0.001 and cfg.algo == {"fade_steps": 2}
    # a course that named no optimizer used its own default (step: SGD with momentum 0.9)
    sgd = from_stored({"schedule_d": {"kind": "step", "lr": 0.1}}).opt_d
    assert (sgd.name, sgd.lr, sgd.momentum) == ("sgd", 0.1, 0.9)
    assert upgrade_stored({"steps": 3}) == {"steps": 3}  # today's configs pass unchanged


def test_a_checkpoint_with_the_old_keys_resumes_exactly(tmp_path):
    """Write a run, rewrite its stored config into the old keys, and resume: the optimizer built from
    the upgraded config takes the saved state and ends where a straight run ends."""
    course = {"kind": "cyclegan", "steps": 4}  # a length of its own: the half run may resume to 4
    base = dict(TINY, steps=4, opt_g={"schedule": course}, opt_d={"schedule": course})
    train(resolve_config("dcgan", [base]), out=str(tmp_path / "straight"), progress=False)
    train(resolve_config("dcgan", [dict(base, steps=2)]), out=str(tmp_path / "half"), progress=False)
    path = tmp_path / "half" / "checkpoints" / "ckpt-latest.pt"
    state = load_checkpoint(str(path))
    old = {k: v for k, v in state["config"].items()}
    for who in ("g", "d"):
        opt = old[f"opt_{who}"]
        old[f"schedule_{who}"] = {"kind": "cyclegan", "steps": 4, "lr": opt["lr"]}  # as configs wrote it before
        old[f"opt_{who}"] = {k: v for k, v in opt.items() if k != "schedule"}
    state["config"] = old
    atomic_save({k: v for k, v in state.items() if k != "format"} | {"format": state["format"]}, str(path))
    with open(tmp_path / "half" / "config.yaml", "w") as f:
        import yaml

        yaml.safe_dump(old, f)
    assert load_run(str(tmp_path / "half")).config.opt_g.schedule == course
    assert resume(str(tmp_path / "half"), [{"steps": 4}], progress=False).step == 4
    a, b = (load_checkpoint(str(tmp_path / r / "checkpoints" / "ckpt-latest.pt")) for r in ("straight", "half"))
    assert_close({k: a[k] for k in ("nets", "opt_G", "opt_D")}, {k: b[k] for k in ("nets", "opt_G", "opt_D")}, rtol=0, atol=0)
    assert config_mod.to_dict(from_stored(b["config"]))["opt_g"]["schedule"] == course
    assert isinstance(torch.load(str(path), weights_only=True), dict)


def test_a_stored_run_with_eval_keys_and_no_evaluation_still_loads_and_resumes(tmp_path):
    """An older ganforge trained with eval_n / eval_metrics set and evaluation off (they did nothing); a
    new run refuses that, but the stored run is its record: it loads and resumes as it is. A key the
    resume itself sets is checked."""
    run = tmp_path / "run"
    train(resolve_config("dcgan", [dict(TINY, steps=2)]), out=str(run), progress=False)
    path = run / "checkpoints" / "ckpt-latest.pt"
    state = load_checkpoint(str(path))
    state["config"] = dict(state["config"], eval_n=500, eval_metrics=["fid"])
    atomic_save(state, str(path))
    with pytest.raises(ConfigError, match="eval_n=500"):  # what a new run with these keys gets
        config_mod.check_evaluation_keys(from_stored(state["config"]))
    assert load_run(str(run)).config.eval_n == 500
    with pytest.raises(ConfigError, match=r"^eval_evaluator='offline' does nothing while in-training evaluation is off"):
        prepare_resume(str(run), [{"eval_evaluator": "offline"}])
    assert resume(str(run), [{"steps": 4}], progress=False).step == 4
