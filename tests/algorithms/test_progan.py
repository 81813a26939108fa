"""The progan algorithm: the stage/alpha schedule, real images at the stage, growth through a short
run, Adam resets, exact resume across a fade boundary, and clear errors for unreachable sizes."""
import json

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

import ganforge as gf
from ganforge.config import merge, write_yaml
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer, resume, train
from ganforge.algorithms.progan import ProGANParams, build_growth, parse_schedule, reals_at
from ganforge.runtime.checkpoint import load_checkpoint

SCHEDULE = [{"res": 4, "stable": 3}, {"res": 8, "fade": 4, "stable": 2}, {"res": 16, "fade": 2}]


def test_stage_and_alpha_are_a_pure_function_of_the_step():
    growth = parse_schedule(SCHEDULE, 16)
    got = [growth.at(step) for step in range(13)]
    assert got == [(0, 1.0)] * 3 + [(1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75), (1, 1.0), (1, 1.0), (2, 0.0), (2, 0.5)] + [(2, 1.0)] * 2
    assert growth.at(10**6) == (2, 1.0)  # the last resolution stabilises until the end
    assert [s for s in range(13) if growth.starts_phase(s)] == [3, 7, 9, 11]  # every fade and stabilisation
    assert growth.full_size_step == 11
    uniform = build_growth(ProGANParams(fade_steps=4, stable_steps=3), 16)
    assert [uniform.at(s) for s in (2, 3, 5, 7, 9, 10, 13, 14, 10**6)] == [
        (0, 1.0), (1, 0.0), (1, 0.5), (1, 1.0), (1, 1.0), (2, 0.0), (2, 0.75), (2, 1.0), (2, 1.0)]  # fmt: skip


def test_reals_are_pooled_to_the_stage_and_faded_like_the_generator():
    x = torch.randn(2, 1, 16, 16)
    assert_close(reals_at(x, 2, 1.0), x)
    assert_close(reals_at(x, 1, 1.0), F.avg_pool2d(x, 2))
    x8 = F.avg_pool2d(x, 2)
    low = F.interpolate(F.avg_pool2d(x8, 2), scale_factor=2, mode="nearest")
    assert_close(reals_at(x, 1, 0.0), low, rtol=0, atol=0)  # alpha 0: the 4x4 image shown at 8x8
    assert_close(reals_at(x, 1, 0.25), 0.75 * low + 0.25 * x8)


@pytest.mark.parametrize("schedule, size, match", [
    (SCHEDULE[:2], 16, "must grow 4, 8, 16, .* to the data's 16x16: 4, 8, 16; got 4, 8"),
    (SCHEDULE, 8, "to the data's 8x8: 4, 8; got 4, 8, 16"),
    (SCHEDULE, 24, "side must be one of 4, 8, 16, 32, 64.*got 24.*image_size=32"),
    ([{"res": 4, "fade": 2, "stable": 3}, *SCHEDULE[1:]], 16, "nothing to fade in"),
    ([{"res": 4}, *SCHEDULE[1:]], 16, r"schedule\[0\] needs stable"),
    ([SCHEDULE[0], {"res": 8, "stable": 2}, SCHEDULE[2]], 16, r"schedule\[1\] \(8x8\) needs fade"),
    ([SCHEDULE[0], {"res": 8, "fade": 1, "stable": 1, "kimg": 3}, SCHEDULE[2]], 16, "unknown keys.*kimg"),
    ([], 16, r"algo.fade_steps and algo.stable_steps, or .* \[\{res: 4, stable: N\}, \{res: 8, fade: N, stable: N\}, \{res: 16"),
])  # fmt: skip
def test_schedules_that_cannot_reach_the_data_are_refused_naming_what_can(schedule, size, match):
    with pytest.raises(ConfigError, match=match):
        parse_schedule(schedule, size)


def tiny(**more):
    base = {
        "data": "fake", "image_size": 8, "channels": 1, "batch_size": 4, "steps": 6, "threads": 1,
        "log_every": 1, "sample_every": 3, "ckpt_every": 3, "n_samples": 4, "ema_half_life": 2.0,
        "model": {"z_dim": 8, "g": {"fmap_base": 32, "fmap_max": 8}, "d": {"fmap_base": 32, "fmap_max": 8}},
        "algo": {"fade_steps": 2, "stable_steps": 2, "schedule": []},
    }  # fmt: skip
    return merge(resolve_config("progan-demo", []), {**base, **more})


def test_a_short_run_grows_through_a_fade_and_generates_at_its_size(tmp_path):
    trainer = build_trainer(tiny(), progress=False)  # 4x4 for steps 0-1, fade to 8x8 over 2-3, 8x8 from 4
    assert trainer.fixed_samples().shape == (4, 1, 8, 8)  # the grid is data-sized from the start...
    native = trainer.G(trainer.algorithm.fixed_z, None, 0, 1.0)
    assert_close(trainer.fixed_samples(), F.interpolate(native, scale_factor=2, mode="nearest"))  # ...showing 4x4
    trainer.train(str(tmp_path))
    records = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [(r["Growth/res"], r["Growth/alpha"]) for r in records] == [(4, 1), (4, 1), (8, 0), (8, 0.5), (8, 1), (8, 1)]
    assert {"Loss/D", "Loss/D/gp", "Loss/D/drift", "Loss/G", "D(x)", "D(G(z))", "Wasserstein"} <= set(records[0])
    assert all(torch.isfinite(torch.tensor(r["Loss/D"])) for r in records)
    # Adam's moments were reset when the fade (step 2) and the stabilisation (step 4) began: 2 updates since
    for course in (trainer.course_G, trainer.course_D):
        assert {int(s["step"]) for s in course.optimizer.state.values()} == {2}
    write_yaml(trainer.cfg, str(tmp_path / "config.yaml"))  # what runs.train writes: a loadable run
    run = gf.load_run(str(tmp_path))
    assert int(run.G.stage) == 1 and float(run.G.alpha) == 1.0
    assert gf.generate(run, 3).shape == (3, 1, 8, 8)


def test_a_run_saved_mid_growth_generates_its_current_resolution(tmp_path):
    train(tiny(steps=3, ckpt_every=3), out=str(tmp_path / "run"), progress=False)  # stopped mid-fade (alpha 0.5 next)
    run = gf.load_run(str(tmp_path / "run"))
    assert int(run.G.stage) == 1 and float(run.G.alpha) == 0.0  # the last step trained (2) was the fade's first
    z = run.algorithm.latent(run.config, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_close(gf.generate(run, 2, seed=0), run.G(z, None, 1, 0.0))


def _state(path):
    state = load_checkpoint(path)
    return {k: state[k] for k in ("nets", "G_ema", "opt_G", "opt_D")}


@pytest.mark.parametrize("half", [2, 3])
def test_resume_across_a_fade_boundary_equals_training_straight_through(tmp_path, half):
    """Stop where the fade begins (2) or mid-fade (3); the resumed run crosses the fade's start and/or
    the stabilisation's (step 4), each with an Adam reset, and lands on the straight run's state."""
    train(tiny(), out=str(tmp_path / "straight"), progress=False)
    train(tiny(steps=half, ckpt_every=half), out=str(tmp_path / "half"), progress=False)
    assert resume(str(tmp_path / "half"), [{"steps": 6}], progress=False).step == 6
    a = _state(str(tmp_path / "straight" / "checkpoints" / "ckpt-latest.pt"))
    b = _state(str(tmp_path / "half" / "checkpoints" / "ckpt-latest.pt"))
    assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("preset, size, last_stage", [("progan", 16, 2), ("progan-demo", 32, 3)])
def test_the_presets_run_a_few_steps(tmp_path, preset, size, last_stage):
    """progan's uniform schedule reaches any reachable size (here 16); progan-demo's lists 4 to 32."""
    cfg = merge(resolve_config(preset, []), {"data": "fake", "image_size": size, "channels": 1, "batch_size": 4, "steps": 2,
                                             "log_every": 1, "sample_every": 2, "ckpt_every": 2, "n_samples": 4,
                                             "model": {"z_dim": 8, "g": {"fmap_max": 8}, "d": {"fmap_max": 8}}})  # fmt: skip
    trainer = build_trainer(cfg, progress=False)
    assert trainer.algorithm.growth.phases[-1].stage == last_stage
    assert trainer.train(str(tmp_path)).step == 2


@pytest.mark.parametrize("more, match", [
    ({"image_size": 12}, "progan cannot make 12x12 .* 4, 8, 16"),
    ({"model": {"name": "dcgan", "g": {}, "d": {}}}, "set model.name=progan"),
    ({"algo": {"fade_steps": 2, "stable_steps": 2, "schedule": SCHEDULE}}, "not both"),
    ({"algo": {"fade_steps": 0, "stable_steps": 0, "schedule": SCHEDULE}}, "data's 8x8: 4, 8; got 4, 8, 16"),
    ({"algo": {"fade_steps": 0, "stable_steps": 0}}, "progan needs its growth schedule"),
    ({"pack": 2}, "the progan algorithm does not apply pack"),
    ({"model": {"name": "progan", "conditional_g": "concat"}}, "does not implement model.conditional_g"),
])  # fmt: skip
def test_bad_configs_are_refused_before_training(more, match):
    cfg = tiny()
    if more.get("model", {}).get("name") == "dcgan":
        cfg.model.g, cfg.model.d = {}, {}
    with pytest.raises(ConfigError, match=match):
        build_trainer(merge(cfg, more), progress=False)
