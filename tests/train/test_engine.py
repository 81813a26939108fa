"""Short real training runs on CPU: outputs, resume equivalence, the algorithm's bookkeeping."""
import dataclasses
import json
import os

import pytest
import torch
from torch.testing import assert_close

from ganforge.config import merge
from ganforge.errors import ConfigError
from ganforge.presets import list_presets, resolve_config
from ganforge.runs import build_trainer, resume, train
from ganforge.runtime.checkpoint import load_checkpoint


def tiny(preset, tiny_overrides, **more):
    cfg = resolve_config(preset, [tiny_overrides])
    return merge(cfg, more)


def test_short_run_writes_config_stats_samples_and_checkpoints(tmp_path, tiny_overrides):
    result = train(tiny("dcgan", tiny_overrides, model={"g": {"width": 8}, "d": {"width": 8}}), out=str(tmp_path / "run"), progress=False)
    run = tmp_path / "run"
    assert result.step == 4 and result.final_samples == str(run / "samples" / "step-0000004.png")
    for f in ("config.yaml", "stats.jsonl", "samples/reals.png", "samples/step-0000002.png", "checkpoints/ckpt-latest.pt"):
        assert (run / f).exists(), f
    records = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert {"Loss/D", "Loss/G", "D(x)", "D(G(z))", "it/s"} <= set(records[0])
    assert 0 < records[0]["D(x)"] < 1
    state = load_checkpoint(str(run / "checkpoints" / "ckpt-latest.pt"))
    assert state["step"] == 4 and set(state) >= {"config", "nets", "G_ema", "opt_G", "opt_D", "rng", "batches"}


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_runs_a_few_steps_on_fake(preset, tmp_path, tiny_overrides):
    cfg = tiny(preset, tiny_overrides, steps=2)
    if cfg.critic_boost_steps:  # WGAN's 100 critic steps at the start: 2 here
        cfg.critic_boost_n_critic = 2
    if cfg.algorithm in ("cyclegan", "pix2pix"):
        pytest.skip("two-domain data: tests/algorithms/test_cyclegan.py and test_pix2pix.py train these presets")
    if cfg.model.name == "cs231n":
        cfg.image_size = 28
    elif preset in ("progan-demo", "sagan"):  # an explicit growth schedule to 32; attention at 16 of 32
        cfg.image_size = 32
    elif cfg.model.name == "dcgan":
        merge(cfg, {"model": {"g": {"width": 8}, "d": {"width": 8}}})
    elif cfg.model.name == "stylegan2":  # the cifar config's 512 channels take a minute on a CPU
        merge(cfg, {"model": {"g": {"channel_base": 64, "channel_max": 8}, "d": {"channel_base": 64, "channel_max": 8}}})
    elif cfg.model.name == "biggan":  # the CIFAR-10 nets' 256 channels take half a minute here
        merge(cfg, {"model": {"g": {"ch": 4}, "d": {"ch": 4}}})
    elif cfg.model.name == "msggan":  # every scale at the paper's 512 feature maps: three scales, not five
        cfg.image_size = 8
    trainer = build_trainer(cfg, progress=False)  # the preset's algorithm (infogan, began...)
    result = trainer.train(str(tmp_path))
    assert result.step == 2
    assert trainer.d_steps == 2 * (2 if cfg.critic_boost_steps else cfg.n_critic)


def test_critic_schedule_of_the_wgan_reference_code(tiny_overrides):
    cfg = resolve_config("wgan", [tiny_overrides])
    t = build_trainer(cfg, progress=False).algorithm
    assert [t.critic_steps(s) for s in (0, 24, 25, 26, 499, 500, 501, 1000)] == [100, 100, 5, 5, 5, 100, 5, 100]


def test_cost_estimates_count_updates_not_steps(tiny_overrides):
    """The run's cost is scaled from timed steps by optimizer updates: WGAN's boosted first 25 steps
    (100 critic updates each) must not make every one of 1,500 steps look 20 times dearer."""
    trainer = build_trainer(resolve_config("wgan", [tiny_overrides]), progress=False)
    boosted = 101 * 25 + 101 * 2  # steps 0-24, 500 and 1000: 100 critic updates and one G update
    assert trainer.updates_between(0, 1500) == boosted + 6 * (1500 - 27)
    assert trainer.updates_between(1, 3) == 2 * 101 and trainer.updates_between(25, 27) == 2 * 6


def test_n_gen_updates_g_that_many_times_a_step(tmp_path, tiny_overrides):
    # DCGAN-tensorflow's two G updates per D update (the PacGAN authors' Stacked MNIST code)
    cfg = tiny("dcgan", tiny_overrides, steps=3, n_gen=2, model={"g": {"width": 8}, "d": {"width": 8}})
    t = build_trainer(cfg, progress=False)
    t.train(str(tmp_path))
    adam_steps = lambda opt: {int(s["step"]) for s in opt.state.values()}  # noqa: E731
    assert (t.step, t.d_steps) == (3, 3)
    assert adam_steps(t.course_G.optimizer) == {6} and adam_steps(t.course_D.optimizer) == {3}


@pytest.mark.parametrize("preset, extra, message", [
    ("dcgan", {"n_gen": 0}, "config key 'n_gen' must be at least 1, got 0"),
    ("dcgan", {"n_critic": -1}, "config key 'n_critic' must be at least 1, got -1"),
    ("cyclegan-demo", {"n_gen": 2}, "the cyclegan algorithm updates each network once a step; n_gen=2"),
    ("pix2pix-demo", {"n_critic": 5}, "the pix2pix algorithm updates each network once a step; n_critic=5"),
])
def test_update_counts_an_algorithm_cannot_honour_are_errors(tiny_overrides, preset, extra, message):
    # dcgan on the tiny fake data; the translation demos on their own bundled data
    with pytest.raises(ConfigError, match=message):
        cfg = tiny(preset, tiny_overrides, **extra) if preset == "dcgan" else resolve_config(preset, [extra])
        build_trainer(cfg, progress=False)


def test_weight_clipping_holds_after_training(tmp_path, tiny_overrides):
    cfg = tiny("wgan", tiny_overrides, steps=2, critic_boost_n_critic=3, model={"g": {"width": 8}, "d": {"width": 8}})
    t = build_trainer(cfg, progress=False)
    t.train(str(tmp_path))
    assert max(p.abs().max().item() for p in t.D.parameters()) <= 0.01 + 1e-9


def _weights(path):
    state = load_checkpoint(path)
    return {k: state[k] for k in ("nets", "G_ema", "opt_G", "opt_D")}


@pytest.mark.parametrize("preset, extra", [
    ("dcgan", {"ema_half_life": 2.0, "label_smoothing": 0.1, "instance_noise": 0.1, "instance_noise_steps": 10}),
    ("dcgan", {"n_gen": 2}),  # the second G update draws its own noise: resume must restore that RNG too
    # R3GAN: RpGAN + R1 + R2, G's phase with its own real batch (the batch stream's position must resume)
    ("r3gan-demo", {"model": {"g": {"width": 16}, "d": {"width": 16}}, "ema_half_life": 2.0}),
    ("wgan-gp", {"r1_weight": 1.0, "r1_interval": 2, "n_critic": 2}),
    # StyleGAN2: style mixing draws inside G, and lazy path length (every 2nd G update here) keeps a
    # running mean and a count of G updates: both must resume
    ("stylegan2-demo", {"model": {"z_dim": 8, "g": {"w_dim": 8, "channel_base": 32, "channel_max": 4},
                                  "d": {"channel_base": 32, "channel_max": 4}}, "ema_half_life": 2.0, "pl_interval": 2, "r1_interval": 2}),
    # BigGAN: spectral norm's power iterations in G and D, the shared embedding, orthogonal
    # regularisation, 4 D steps per G step on fresh noise and classes, an EMA begun before the halfway point
    ("biggan-demo", {"model": {"g": {"ch": 2, "shared_dim": 4}, "d": {"ch": 2}}, "ema_half_life": 2.0, "ema_start": 2}),
    # MSG-GAN: pyramids of reals and of G's scales, RaHinge with D's real batch reused in G's update, EMA
    ("msggan-demo", {"image_size": 8, "model": {"z_dim": 8, "g": {"fmap_base": 32, "fmap_max": 8},
                                                 "d": {"fmap_base": 32, "fmap_max": 8}}, "ema_half_life": 2.0}),
    # phases that switch optimizer mid-run, and a linear decay resumed mid-phase
    ("dcgan", {"opt_g": {"schedule": {"kind": "cyclegan", "steps": 6}},
               "opt_d": {"schedule": [{"steps": 2, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9},
                                      {"steps": 4, "optimizer": "adam", "lr": [4e-4, 1e-4], "decay": "cosine", "momentum": 0.5}]}}),
])  # fmt: skip
def test_resume_equals_training_straight_through(tmp_path, tiny_overrides, preset, extra):
    """2N steps straight == N steps + resume + N steps: same weights, optimizer states and EMA."""
    base = {**tiny_overrides, "steps": 6, "model": {"g": {"width": 8}, "d": {"width": 8}}, **extra}
    base.update(ckpt_every=100, sample_every=100, log_every=3)
    train(resolve_config(preset, [base]), out=str(tmp_path / "straight"), progress=False)
    half = train(resolve_config(preset, [dict(base, steps=3)]), out=str(tmp_path / "half"), progress=False)
    assert half.step == 3
    resumed = resume(str(tmp_path / "half"), [{"steps": 6}], progress=False)
    assert resumed.step == 6
    a = _weights(str(tmp_path / "straight" / "checkpoints" / "ckpt-latest.pt"))
    b = _weights(str(tmp_path / "half" / "checkpoints" / "ckpt-latest.pt"))
    assert_close(a, b, rtol=0, atol=0)
    steps = [json.loads(line)["step"] for line in (tmp_path / "half" / "stats.jsonl").read_text().splitlines()]
    assert steps == [3, 6]


def test_sampling_changes_no_training_state(tiny_overrides):
    t = build_trainer(resolve_config("dcgan", [tiny_overrides]), progress=False)
    before = {k: v.clone() for k, v in t.G.state_dict().items()}
    rng = torch.get_rng_state()
    t.run_dir = os.getcwd()
    G = t.sampling_generator()
    with torch.no_grad():
        G.eval()
        G(t.algorithm.fixed_z)
        G.train()
    assert_close(t.G.state_dict(), before)
    assert torch.equal(rng, torch.get_rng_state())


def test_samples_come_from_G_until_ema_start_then_from_an_average_begun_there(tiny_overrides):
    """ema_start (BigGAN's late start, the default demo's): before it the grids and the collapse check
    see the training G itself, not an average dragged towards its untrained weights; the average then
    starts as a copy of G at that step."""
    cfg = tiny("dcgan", tiny_overrides, ema_half_life=2.0, ema_start=2, model={"g": {"width": 8}, "d": {"width": 8}})
    t = build_trainer(cfg, progress=False)
    t.train_step()
    t.train_step()
    assert t.sampling_generator() is t.G and int(t.G_ema.n_averaged) == 0
    t.train_step()  # step 2: the first average is G after this step's update
    assert t.sampling_generator() is t.G_ema.module
    assert_close(t.G_ema.module.state_dict(), t.G.state_dict(), rtol=0, atol=0)


def test_a_cpu_run_gives_way_to_other_programs_records_its_threads_and_restores_them(tmp_path, tiny_overrides, monkeypatch):
    """threads 0 on a CPU: a CoreShare polled after every step (runtime/core_share.py has its rules); here
    other programs hold one of two cores throughout, so the run drops to one thread after two verdicts,
    each tick records the count, and the count at the start comes back when training ends."""
    import itertools

    from ganforge.runtime import core_share
    from ganforge.runtime.core_share import CoreShare

    set_to = []
    clock, busy = itertools.count(), itertools.count()  # a second per poll, one other core busy all along
    monkeypatch.setattr(core_share, "CoreShare", lambda max_threads: CoreShare(
        2, cores=2, clock=lambda: float(next(clock)), busy=lambda: float(next(busy)), own=lambda: 0.0,
        set_threads=set_to.append, interval=0.0))  # fmt: skip
    train(tiny("dcgan", tiny_overrides, model={"g": {"width": 8}, "d": {"width": 8}}), out=str(tmp_path / "run"), progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert [(r["step"], r["threads"]) for r in records] == [(2, 2), (4, 1)]
    assert set_to == [1, 2]
    before = torch.get_num_threads()
    try:  # a count the user sets is theirs: nothing watches it
        assert build_trainer(tiny("dcgan", tiny_overrides, threads=1), progress=False).core_share is None
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("seconds_per_step, says_at, says", [
    (1 / 32, 65, "about 29 s more for the 935 steps left"),  # fast steps: timed until 2 s have passed
    (10.0, 6, "about 2 h 45 min more for the 994 steps left"),  # slow steps: five are enough
])  # fmt: skip
def test_the_cost_note_times_at_least_five_steps_and_two_seconds(seconds_per_step, says_at, says, monkeypatch):
    import importlib

    loop = importlib.import_module("ganforge.train.loop")
    lines, now = [], [0.0]
    monkeypatch.setattr(loop.tqdm, "write", lines.append)
    note = loop.EtaNote(0, 1000, "dcgan", lambda first, stop: stop - first, clock=lambda: now[0])
    for step in range(1, 1000):
        now[0] += seconds_per_step
        note.after_step(step)
        if lines:
            break
    assert step == says_at and lines == [f"{says}, on this machine; `--preset dcgan-demo` is its CPU-sized version"]


def test_the_cost_note_waits_until_the_thread_count_has_settled(monkeypatch):
    """A run beside busy programs starts on threads that fight them; the CoreShare's first verdict (the
    note's `ready`) comes a few seconds in, and the speed before it would foretell far too long a run."""
    import importlib

    loop = importlib.import_module("ganforge.train.loop")
    lines, now, settled = [], [0.0], [False]
    monkeypatch.setattr(loop.tqdm, "write", lines.append)
    note = loop.EtaNote(0, 1000, "", lambda first, stop: stop - first, clock=lambda: now[0], ready=lambda: settled[0])
    for step in range(1, 1000):
        now[0] += 1.0 if not settled[0] else 1 / 32  # 32 times slower until the count drops
        settled[0] = settled[0] or step == 4
        note.after_step(step)
        if lines:
            break
    assert step == 4 + 64 and lines == ["about 29 s more for the 932 steps left, on this machine"]


def test_gan_phases_decay_lr_to_zero_and_log_it(tmp_path, tiny_overrides):
    cfg = tiny("dcgan", tiny_overrides, steps=4, log_every=1, model={"g": {"width": 8}, "d": {"width": 8}},
               opt_g={"lr": 2e-4, "schedule": {"kind": "cyclegan", "steps": 4, "decay_fraction": 0.5}},
               opt_d={"schedule": [{"steps": 4, "optimizer": "adam", "lr": 4e-4, "momentum": 0.0}]})  # TTUR: D's own rate
    train(cfg, out=str(tmp_path / "run"), progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    # constant for half the steps, then linear toward 0 (the end value is where a next phase would start)
    assert [r["LR/G"] for r in records] == pytest.approx([2e-4, 2e-4, 2e-4, 1e-4])
    assert [r["LR/D"] for r in records] == pytest.approx([4e-4] * 4)


def test_schedule_shorter_than_training_is_refused(tiny_overrides):
    cfg = tiny("dcgan", tiny_overrides, steps=10, opt_g={"schedule": [{"steps": 5, "optimizer": "adam", "lr": 1e-4}]})
    with pytest.raises(ConfigError, match="opt_g.schedule covers 5 steps but training runs 10"):
        build_trainer(cfg, progress=False)


def test_ctrl_c_stops_between_steps_and_resumes_exactly(tmp_path, tiny_overrides, capsys):
    """The first Ctrl-C finishes the current step, saves, and stops; resuming then equals a straight run."""
    import signal

    base = dict(tiny_overrides, steps=6, ckpt_every=100, sample_every=100, model={"g": {"width": 8}, "d": {"width": 8}})
    train(resolve_config("dcgan", [base]), out=str(tmp_path / "straight"), progress=False)

    t = build_trainer(resolve_config("dcgan", [base]), progress=False)
    d_step = t.updates[0].run

    def d_step_hit_by_ctrl_c(backward):
        if t.step == 2:
            signal.raise_signal(signal.SIGINT)  # arrives mid-step, as a user's Ctrl-C would
        return d_step(backward)

    t.updates[0] = dataclasses.replace(t.updates[0], run=d_step_hit_by_ctrl_c)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    from ganforge import config as config_mod

    config_mod.write_yaml(t.cfg, str(run_dir / "config.yaml"))
    handler_before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN under a background runner
    with pytest.raises(KeyboardInterrupt):
        t.train(str(run_dir))
    assert "continue with: ganforge train --resume" in capsys.readouterr().out
    assert load_checkpoint(str(run_dir / "checkpoints" / "ckpt-latest.pt"))["step"] == 3
    assert signal.getsignal(signal.SIGINT) is handler_before  # handler restored
    assert resume(str(run_dir), progress=False).step == 6
    assert_close(_weights(str(run_dir / "checkpoints" / "ckpt-latest.pt")),
                 _weights(str(tmp_path / "straight" / "checkpoints" / "ckpt-latest.pt")), rtol=0, atol=0)


@pytest.mark.parametrize("preset,extra", [
    ("wgan-gp", {}),                                                      # + gradient penalty (draws after D's halves)
    ("dcgan", {"r1_weight": 1.0, "label_smoothing": 0.1}),                # + R1 on the real half, smoothed target
    ("acgan", {}),                                                        # + class terms on both halves
])
def test_d_step_in_two_backwards_equals_one_backward_of_the_whole_loss(tiny_overrides, preset, extra):
    """d_step back-propagates the real half before generating (less memory): D's update must be the
    one a single backward of the paper's whole loss gives, penalties and class terms included."""
    cfg = tiny(preset, tiny_overrides, model={"g": {"width": 8}, "d": {"width": 8}}, **extra)
    split, whole = build_trainer(cfg, progress=False), build_trainer(cfg, progress=False)
    assert split.algorithm.loss.separable
    rng = torch.get_rng_state()
    split.run_update(split.updates[0])
    torch.set_rng_state(rng)  # the same draws (noise, penalty's mixing weights) for the one-backward step

    c, t = cfg, whole.algorithm
    real, real_labels = whole.batches.next()
    z, fake_labels = t.noise(len(real)), t.fake_labels(len(real))
    real_labels = real_labels if fake_labels is not None else None
    real_in = t.d_input(real).requires_grad_(c.r1_weight > 0)
    fake = whole.G(z) if fake_labels is None else whole.G(z, fake_labels)
    fake_in = t.d_input(fake.detach())
    real_logits, real_classes = t.call_D(whole.D, real_in, real_labels)
    fake_logits, fake_classes = t.call_D(whole.D, fake_in, fake_labels)
    loss = t.loss.d(real_logits, fake_logits, real_target=1.0 - c.label_smoothing)["loss"]
    if real_classes is not None:
        loss = loss + c.class_loss_weight * (torch.nn.functional.cross_entropy(real_classes, real_labels)
                                             + torch.nn.functional.cross_entropy(fake_classes, fake_labels))
    if c.gp_weight > 0:
        from ganforge.losses import gradient_penalty
        loss = loss + c.gp_weight * gradient_penalty(whole.D, real_in, fake_in, real_labels)
    if c.r1_weight > 0:
        from ganforge.losses import r1_penalty
        loss = loss + 0.5 * c.r1_weight * c.r1_interval * r1_penalty(real_logits, real_in)
    opt = whole.course_D.prepare(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for (name, a), b in zip(split.D.state_dict().items(), whole.D.state_dict().values()):
        assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    assert split.d_steps == 1 and all(p.grad is None for p in split.D.parameters())  # spent gradients freed


def test_the_real_points_plot_is_labelled_as_data(tmp_path, monkeypatch):
    """ring8's reals.png named the real points 'generated' (the scatter's only label)."""
    import sys

    seen = []  # (ganforge.train is also the name of the API's train function: reach the module itself)
    monkeypatch.setattr(sys.modules["ganforge.train.algorithm"], "save_samples", lambda samples, path, **kw: seen.append((path, kw)))
    t = build_trainer(resolve_config("toy2d", [{"batch_size": 32}]), progress=False)
    t.algorithm.save_reals(str(tmp_path / "reals.png"))
    assert seen == [(str(tmp_path / "reals.png"), {"label": "data"})]
