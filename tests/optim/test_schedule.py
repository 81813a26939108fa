"""Phases and schedules: decay formulas, torch agreement, courses, optimizer switches, exact resume, errors."""
from __future__ import annotations

import argparse
import io
import math
import os

import numpy as np
import pytest
import torch
import yaml
from torch.testing import assert_close

from ganforge.errors import CheckpointError, ConfigError
from ganforge.optim.schedule import PhasedOptimizer, anneal, build_schedule


def lrs_of(schedule) -> torch.Tensor:
    return torch.tensor([schedule.lr_at(i) for i in range(schedule.total_steps)], dtype=torch.float64)


def moms_of(schedule) -> torch.Tensor:
    return torch.tensor([schedule.momentum_at(i) for i in range(schedule.total_steps)], dtype=torch.float64)


# --- each decay type against its formula -----------------------------------------------------------

N, START, END = 20, 0.1, 0.001
STEPS = [0, 1, 7, 10, 19]
FORMULAS = {
    "linear": lambda t: START + (END - START) * t,
    "cosine": lambda t: END + (START - END) * (1 + math.cos(math.pi * t)) / 2,
    "exponential": lambda t: START * (END / START) ** t,
    "polynomial": lambda t: END + (START - END) * (1 - t) ** 2.5,
}


@pytest.mark.parametrize("decay", sorted(FORMULAS))
def test_decay_matches_its_formula(decay):
    s = build_schedule([{"steps": N, "lr": [START, END], "decay": decay, "power": 2.5}])
    got = torch.tensor([s.lr_at(i) for i in STEPS], dtype=torch.float64)
    want = torch.tensor([FORMULAS[decay](i / N) for i in STEPS], dtype=torch.float64)
    assert_close(got, want, rtol=1e-12, atol=0)


def test_constant_phase_and_curve_helper():
    s = build_schedule([{"steps": 5, "lr": 0.3}])
    assert [s.lr_at(i) for i in range(5)] == [0.3] * 5
    assert anneal("cosine", 1.0, 0.0, 0.5) == pytest.approx(0.5)
    _, lr, mom = s.curves()
    assert_close(torch.from_numpy(lr), torch.full((5,), 0.3, dtype=torch.float64))
    assert np.isnan(mom).all()  # a phase without momentum leaves it alone


def _torch_lrs(make_scheduler, n: int, base_lr: float) -> torch.Tensor:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(lrs, dtype=torch.float64)


@pytest.mark.parametrize(
    "spec, make",
    [
        ({"lr": [0.1, 0.02], "decay": "linear"}, lambda o: torch.optim.lr_scheduler.LinearLR(o, 1.0, 0.2, total_iters=N)),
        ({"lr": [0.1, 0.001], "decay": "cosine"}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=N, eta_min=0.001)),
        ({"lr": [0.1, 0.1 * 0.9**N], "decay": "exponential"}, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
        ({"lr": [0.1, 0.0], "decay": "polynomial", "power": 2.0}, lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=N, power=2.0)),
    ],
)
def test_decays_agree_with_torch_schedulers(spec, make):
    s = build_schedule([{"steps": N, **spec}])
    assert_close(lrs_of(s), _torch_lrs(make, N, 0.1), rtol=1e-6, atol=1e-12)


def test_step_course_is_torch_multisteplr():
    s = build_schedule({"kind": "step", "steps": 40, "lr": 0.1, "at": [0.5, 0.75], "gamma": 0.1})
    want = _torch_lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[20, 30], gamma=0.1), 40, 0.1)
    assert_close(lrs_of(s), want, rtol=1e-12, atol=0)


# --- course shapes ---------------------------------------------------------------------------------


def test_sgdr_restarts_peaks_and_minima():
    s = build_schedule({"kind": "sgdr", "cycle_steps": 10, "cycles": 3, "mult": 2, "lr_max": 0.5, "lr_min": 0.01})
    assert s.total_steps == 10 + 20 + 40 and s.starts == [0, 10, 30]
    lrs = lrs_of(s)
    # Peaks: lr_max at each restart; the lowest point just before each restart; decreasing in between.
    assert_close(lrs[[0, 10, 30]], torch.full((3,), 0.5, dtype=torch.float64))
    for start, n in zip(s.starts, s.lengths):
        cycle = lrs[start : start + n]
        assert (cycle[1:] < cycle[:-1]).all()
        assert_close(cycle[-1], torch.tensor(0.01 + 0.49 * (1 + math.cos(math.pi * (n - 1) / n)) / 2, dtype=torch.float64))
    # And torch's CosineAnnealingWarmRestarts agrees step by step.
    want = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=0.01), 70, 0.5)
    assert_close(lrs, want, rtol=1e-6, atol=1e-12)


def test_sgdr_by_its_whole_length():
    s = build_schedule({"kind": "sgdr", "epochs": 7, "cycles": 3, "mult": 2}, steps_per_epoch=10)
    assert s.lengths == [10, 20, 40]
    with pytest.raises(ConfigError, match="not both"):
        build_schedule({"kind": "sgdr", "steps": 70, "cycle_steps": 10})


def test_one_cycle_shape_and_momentum_inversion():
    s = build_schedule({"kind": "1cycle", "steps": 200, "lr_max": 1.0, "div": 20, "final_div": 100,
                        "annihilate": 0.1, "momentum": [0.95, 0.85]})
    assert s.lengths == [90, 90, 20]
    lrs, moms = lrs_of(s), moms_of(s)
    peak = int(lrs.argmax())
    assert peak == 90 and lrs[peak] == 1.0 and moms[peak] == 0.85  # top lr at the lowest momentum
    assert lrs[0] == pytest.approx(0.05) and moms[0] == 0.95
    up, down = slice(0, 90), slice(90, 180)
    assert (lrs[up][1:] > lrs[up][:-1]).all() and (lrs[down][1:] < lrs[down][:-1]).all()
    # Inverted momentum: during the cycle momentum is a decreasing affine function of the lr.
    cycle = slice(0, 180)
    slope = (0.85 - 0.95) / (1.0 - 0.05)
    assert_close(moms[cycle], 0.95 + slope * (lrs[cycle] - 0.05), rtol=0, atol=1e-12)
    # Annihilation: momentum back at its top, lr from lr_max/div towards lr_max/div/final_div.
    assert (moms[180:] == 0.95).all()
    assert lrs[180] == pytest.approx(0.05) and lrs[-1] == pytest.approx(0.05 + (0.0005 - 0.05) * 19 / 20)
    assert lrs[-1] == lrs.min()


def test_gan_courses():
    cg = build_schedule({"kind": "cyclegan", "steps": 200, "lr": 2e-4})
    lrs = lrs_of(cg)
    assert (lrs[:100] == 2e-4).all()
    assert_close(lrs[100:], torch.tensor([2e-4 * (1 - i / 100) for i in range(100)], dtype=torch.float64))
    assert cg.phases[0].optimizer == "adam" and cg.momentum_at(150) == 0.5  # Adam beta1 0.5 throughout
    wg = build_schedule({"kind": "wgan-drop", "steps": 100, "lr": 1e-4, "drop_at": 0.8})
    assert lrs_of(wg).tolist() == [1e-4] * 80 + [1e-5] * 20
    assert wg.phases[1].optimizer == "rmsprop" and wg.segments == [0, 0]  # one optimizer throughout


def test_momentum_follows_the_lr_curve_unless_told():
    s = build_schedule([{"steps": 10, "lr": [0.1, 0.0], "decay": "cosine", "momentum": [0.8, 0.9]},
                        {"steps": 10, "lr": 0.1, "momentum": [0.9, 0.95]},
                        {"steps": 10, "lr": 0.1, "momentum": [0.95, 0.85], "momentum_decay": "polynomial", "power": 3}])
    assert [p.momentum_decay for p in s.phases] == ["cosine", "linear", "polynomial"]
    assert s.momentum_at(5) == pytest.approx(0.9 + (0.8 - 0.9) * (1 + math.cos(math.pi * 0.5)) / 2)
    assert s.momentum_at(15) == pytest.approx(0.925)
    assert s.momentum_at(25) == pytest.approx(0.85 + 0.1 * 0.5**3)


def test_epochs_convert_cumulatively_without_drift():
    s = build_schedule({"kind": "1cycle", "epochs": 3, "lr_max": 0.1}, steps_per_epoch=45)
    assert s.total_steps == 135 and sum(s.lengths) == 135
    # Per-phase steps per epoch (e.g. phases with their own batch size).
    s2 = build_schedule([{"epochs": 1, "lr": 0.1, "batch_size": 50}, {"epochs": 1, "lr": 0.1, "batch_size": 100}],
                        steps_per_epoch=lambda phase: 1000 // phase.batch_size)
    assert s2.lengths == [20, 10]


# --- serialisation ---------------------------------------------------------------------------------


def test_to_list_round_trips_through_yaml():
    spec = [
        {"steps": 30, "optimizer": "adam", "lr": [1e-3, 1e-4], "decay": "cosine", "momentum": 0.5,
         "opt_args": {"betas": [0.5, 0.99]}, "image_size": 16},
        {"steps": 20, "lr": [1e-4, 0], "decay": "polynomial", "power": 2.0, "data": "digits"},
        {"epochs": 1.5, "optimizer": "sgd", "lr": 0.1, "momentum": [0.9, 0.8], "momentum_decay": "linear", "name": "last"},
    ]
    s = build_schedule(spec, steps_per_epoch=10)
    text = yaml.safe_dump(s.to_list())
    again = build_schedule(yaml.safe_load(text), steps_per_epoch=10)
    assert again.to_list() == s.to_list()
    assert_close(lrs_of(again), lrs_of(s), rtol=0, atol=0)
    # Unset keys carried over from the phase before (optimizer, momentum where it ended, size, ...).
    assert s.phases[1].optimizer == "adam" and s.phases[1].momentum == (0.5, 0.5) and s.phases[1].image_size == 16
    assert s.phases[2].data == "digits" and s.lengths == [30, 20, 15]


# --- optimizers across phases, exact resume ----------------------------------------------------------

SWITCHING = [
    {"steps": 7, "optimizer": "adam", "lr": [1e-2, 5e-3], "decay": "linear", "momentum": [0.9, 0.5]},
    {"steps": 6, "lr": [5e-3, 1e-3], "decay": "cosine"},  # same Adam, its state kept
    {"steps": 8, "optimizer": "sgd", "lr": [0.05, 0.01], "decay": "exponential", "momentum": 0.9, "opt_args": {"nesterov": True}},
    {"steps": 5, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "opt_args": {"nesterov": True}},
]


def test_phases_switch_optimizer_and_keep_it_across_shared_phases():
    s = build_schedule(SWITCHING)
    assert s.segments == [0, 0, 2, 2]
    p = torch.nn.Parameter(torch.ones(3))
    popt = PhasedOptimizer(s, [p])
    seen = []
    for step in range(s.total_steps):
        opt = popt.prepare(step)
        seen.append(opt)
        group = opt.param_groups[0]
        assert group["lr"] == s.lr_at(step)
        momentum = group["betas"][0] if "betas" in group else group["momentum"]
        assert momentum == s.momentum_at(step)
        p.grad = torch.ones(3)
        opt.step()
    assert all(isinstance(o, torch.optim.Adam) for o in seen[:13]) and len({id(o) for o in seen[:13]}) == 1
    assert all(isinstance(o, torch.optim.SGD) and o.param_groups[0]["nesterov"] for o in seen[13:])
    assert len({id(o) for o in seen[13:]}) == 1


def _toy_problem():
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    y = x @ torch.randn(5, 1) + 0.1 * torch.randn(64, 1)
    return x, y


def _train(model, popt, steps, x, y):
    for step in steps:
        opt = popt.prepare(step)
        idx = torch.randint(0, len(x), (16,))
        loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("stop", [4, 10, 13])  # mid-phase (Adam), mid-phase (Adam, 2nd phase), at the switch to SGD
def test_resume_mid_phase_equals_straight_through(stop):
    s = build_schedule(SWITCHING)
    x, y = _toy_problem()

    torch.manual_seed(1)
    straight = torch.nn.Linear(5, 1)
    popt = PhasedOptimizer(s, straight.parameters())
    _train(straight, popt, range(s.total_steps), x, y)

    torch.manual_seed(1)
    first = torch.nn.Linear(5, 1)
    popt = PhasedOptimizer(s, first.parameters())
    _train(first, popt, range(stop), x, y)
    buf = io.BytesIO()
    torch.save({"model": first.state_dict(), "opt": popt.state_dict(), "rng": torch.get_rng_state(),
                "schedule": s.to_list()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)  # what a checkpoint holds, loaded as checkpoints are

    resumed = torch.nn.Linear(5, 1)
    resumed.load_state_dict(state["model"])
    s2 = build_schedule(state["schedule"])
    popt2 = PhasedOptimizer(s2, resumed.parameters())
    popt2.load_state_dict(state["opt"])
    torch.set_rng_state(state["rng"])
    _train(resumed, popt2, range(stop, s2.total_steps), x, y)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert_close(a, b, rtol=0, atol=0)


def test_loading_an_optimizer_into_a_schedule_without_its_phase_is_refused():
    s = build_schedule(SWITCHING)
    p = torch.nn.Parameter(torch.ones(2))
    popt = PhasedOptimizer(s, [p])
    popt.prepare(15)
    other = PhasedOptimizer(build_schedule([{"steps": 5, "lr": 0.1}]), [p])
    with pytest.raises(CheckpointError, match="phase 3"):
        other.load_state_dict(popt.state_dict())


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, message",
    [
        ([{"steps": 10, "lr": [0.1, 0.0], "decay": "cosin"}], r"unknown decay type 'cosin' \(did you mean 'cosine'\?\); valid: constant, cosine, exponential, linear, polynomial"),
        ([{"steps": 0, "lr": 0.1}], "phase 1: a phase must last at least 1 step, got steps=0"),
        ([{"steps": 5, "lr": 0.1}, {"epochs": 0, "lr": 0.1}], "phase 2: a phase must last more than 0 epochs"),
        ([{"steps": 5, "lr": -0.1}], r"phase 1: the learning rate must be >= 0, got -0.1"),
        ([{"steps": 5, "lr": [0.1, -0.1], "decay": "linear"}], "learning rate must be >= 0"),
        ([{"steps": 5, "lr": 0.1, "optimizer": "adm"}], r"unknown optimizer 'adm' \(did you mean 'adam'\?\); valid: adam, adamw, rmsprop, sgd"),
        ([{"steps": 5, "lr": 0.1, "lenght": 3}], "unknown key 'lenght'"),
        ([{"lr": 0.1}], "exactly one of 'steps' or 'epochs'"),
        ([{"steps": 5, "lr": [0.1, 0.0], "decay": "exponential"}], "exponential decay of lr needs start and end > 0"),
        ([{"steps": 5, "lr": [0.1, 0.01], "decay": "constant"}], "name a decay"),
        ([{"steps": 5, "lr": 0.1, "momentum": 1.2}], r"momentum must be in \[0, 1\)"),
        ([{"steps": 5, "lr": 0.1, "opt_args": {"wd": 1}}], "optimizer 'sgd' has no argument 'wd'"),
        ([{"epochs": 2, "lr": 0.1}], "no steps per epoch are known"),
        ([], "non-empty list of phases"),
        ({"kind": "1cylce"}, r"unknown schedule course '1cylce' \(did you mean '1cycle'\?\)"),
        ({"kind": "1cycle", "lr_mx": 1}, "course '1cycle' has no argument 'lr_mx'; valid: lr_max"),
        ({"kind": "sgdr", "cycles": 0}, "cycles must be a whole number >= 1"),
    ],
)
def test_bad_schedules_are_refused_with_clear_messages(spec, message):
    with pytest.raises(ConfigError, match=message):
        build_schedule(spec)


def test_step_outside_the_schedule_is_an_error():
    s = build_schedule([{"steps": 3, "lr": 0.1}])
    with pytest.raises(ValueError, match="outside the schedule's 3 steps"):
        s.lr_at(3)


# --- the command -------------------------------------------------------------------------------------


def _schedule_command(argv):
    from ganforge.commands import schedule

    parser = argparse.ArgumentParser()
    schedule.register(parser.add_subparsers())
    args = parser.parse_args(["schedule", *argv])
    return args.func(args)


def test_schedule_command_plots_a_course_and_a_file(tmp_path, capsys):
    out = tmp_path / "s.png"
    assert _schedule_command(["1cycle", "-o", str(out), "--steps", "300", "--set", "lr_max=0.4"]) == 0
    assert out.stat().st_size > 1000
    assert "300 steps in 3 phases" in capsys.readouterr().out
    spec_file = tmp_path / "phases.yaml"
    spec_file.write_text(yaml.safe_dump({"schedule": SWITCHING}))
    assert _schedule_command([str(spec_file), "-o", str(tmp_path / "f.png")]) == 0
    assert os.path.getsize(tmp_path / "f.png") > 1000
    with pytest.raises(ConfigError, match="did you mean 'sgdr'"):
        _schedule_command(["sgdrr", "-o", str(tmp_path / "x.png")])


def test_yaml_floats_without_a_dot_are_numbers():
    # PyYAML reads 1e-4 as the string '1e-4' (YAML 1.1); a schedule file must still mean the number.
    spec = yaml.safe_load("- {steps: 4, lr: 1e-3, opt_args: {weight_decay: 5e-4}}\n- {steps: 4, lr: [1e-3, 1e-5], decay: exponential}")
    s = build_schedule(spec)
    assert s.lr_at(0) == 1e-3 and s.phases[0].opt_args == {"weight_decay": 5e-4}
    assert s.lr_at(6) == pytest.approx(1e-3 * (1e-2) ** 0.5)


def test_a_course_without_a_length_spans_the_whole_run():
    import torch

    from ganforge.config import OptimConfig
    from ganforge.optim.course import build_course

    params = [torch.nn.Parameter(torch.zeros(1))]
    for steps in (10, 40):  # the same spec follows the run's length
        course = build_course(OptimConfig(lr=1e-3, schedule={"kind": "cyclegan"}), params, steps, "g")
        assert course.prepare(0).param_groups[0]["lr"] == pytest.approx(1e-3)
        assert course.prepare(steps // 2 - 1).param_groups[0]["lr"] == pytest.approx(1e-3)  # constant half
        assert course.prepare(steps - 1).param_groups[0]["lr"] < 1e-3 / (steps // 2 - 1) * 1.01  # last step ~0


def test_one_optimizer_spec_per_network():
    """opt.lr always means something: a course's peak lr comes from it; a course naming its own lr, or
    a list of phases beside a non-default opt key, is an error naming the key."""
    import torch

    from ganforge.config import OptimConfig
    from ganforge.errors import ConfigError
    from ganforge.optim.course import build_course

    params = [torch.nn.Parameter(torch.zeros(1))]
    course = build_course(OptimConfig(name="sgd", lr=0.3, momentum=0.8, schedule={"kind": "step", "at": [0.5], "gamma": 0.1}), params, 10, "d")
    opt = course.prepare(0)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["lr"] == pytest.approx(0.3)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.8)
    assert course.prepare(5).param_groups[0]["lr"] == pytest.approx(0.03)
    adam = build_course(OptimConfig(lr=1e-3, betas=[0.0, 0.9], schedule={"kind": "cyclegan"}), params, 10, "g").prepare(0)
    assert adam.param_groups[0]["betas"] == (0.0, 0.9)
    with pytest.raises(ConfigError, match="opt_g.schedule names lr: a course takes the optimizer, lr and momentum from opt_g"):
        build_course(OptimConfig(schedule={"kind": "cyclegan", "lr": 1e-3}), params, 10, "g")
    with pytest.raises(ConfigError, match="opt_d.lr would do nothing"):
        build_course(OptimConfig(lr=1e-3, schedule=[{"steps": 10, "optimizer": "adam", "lr": 1e-4}]), params, 10, "d")
    with pytest.raises(ConfigError, match="cycles the momentum"):
        build_course(OptimConfig(schedule={"kind": "1cycle"}), params, 10, "g")
