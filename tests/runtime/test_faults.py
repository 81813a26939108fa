"""The faults a long run meets: divergence between ticks, kills between a save's two renames, two
processes claiming one folder, resumes that change `steps`, SIGTERM, temporary files of killed saves,
full and read-only disks, checkpoints that do not fit. Each test fails without its fix."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest
import torch

from ganforge.cli import main
from ganforge.errors import CheckpointError, ConfigError
from ganforge.monitors.divergence import StopTraining
from ganforge.presets import resolve_config
from ganforge.runs import load_run, resume, train
from ganforge.runtime.checkpoint import atomic_save, list_checkpoints, load_checkpoint
from ganforge.runtime.rundir import claim_run_dir
from ganforge.train.monitor import Monitor

TINY = {"data": "fake", "image_size": 16, "channels": 1, "batch_size": 8, "n_samples": 4, "tensorboard": False,
        "sample_every": 1000, "model": {"g": {"width": 4}, "d": {"width": 4}}}  # fmt: skip


def tiny(preset="dcgan", **more):
    return resolve_config(preset, [TINY, more])


def read_stats(run):
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


# The reproduction: a step schedule whose lr jumps x1e10 half-way, checkpoints every 10 steps,
# logging ticks every 50: by the tick that sees NaN, keep_checkpoints=2 has pruned every finite checkpoint.
EXPLODING = {"kind": "step", "at": [0.5], "gamma": 1.0e10}


def test_divergence_between_ticks_keeps_a_good_checkpoint(tmp_path):
    cfg = tiny(steps=100, log_every=50, ckpt_every=10, opt_g={"schedule": EXPLODING}, opt_d={"schedule": EXPLODING})
    run = tmp_path / "run"
    with pytest.raises(StopTraining, match="diverged"):
        train(cfg, out=str(run), progress=False)
    good = load_run(str(run))  # generate can use the run
    assert all(torch.isfinite(p).all() for p in good.G.parameters())
    assert 0 < good.step <= 50  # the last state known good: at or before the last healthy tick
    nan_ckpts = [s for s, p in list_checkpoints(str(run / "checkpoints"))
                 if not all(torch.isfinite(t).all() for n in load_checkpoint(p)["nets"].values() for t in n.values() if t.is_floating_point())]  # fmt: skip
    assert nan_ckpts == []  # no checkpoint with NaN weights was ever written


def test_after_a_divergence_resume_may_change_the_recovery_levers(tmp_path, capsys):
    cfg = tiny(steps=100, log_every=50, ckpt_every=10, opt_g={"schedule": EXPLODING}, opt_d={"schedule": EXPLODING})
    run = tmp_path / "run"
    with pytest.raises(StopTraining) as stop:
        train(cfg, out=str(run), progress=False)
    assert f"ganforge train --resume {run} " in str(stop.value)  # the exact command, with lower lrs
    assert (run / "diverged.json").exists()
    # the levers work: lower lrs (a course's peak lr is opt_*.lr) and no explosion in the schedule
    calm = {"opt_g": {"lr": 1e-5, "schedule": None}, "opt_d": {"lr": 1e-5, "schedule": None}}
    assert resume(str(run), [calm], progress=False).step == 100
    history = [json.loads(line) for line in (run / "config-history.jsonl").read_text().splitlines()]
    assert history[0]["after_divergence"]["rolled_back_to"] > 0
    assert any(c.startswith("opt_g.lr") for c in history[0]["changed"]) and not (run / "diverged.json").exists()
    # without a divergence the lr stays fixed on resume
    with pytest.raises(ConfigError, match="opt_d.lr: 1e-05 -> 0.001.*after a divergence, also"):
        resume(str(run), [{"opt_d": {"lr": 1e-3}}], progress=False)


def test_ckpt_latest_names_the_newest_step_after_a_kill_between_the_renames(tmp_path):
    cfg = tiny(steps=6, ckpt_every=3, log_every=3, keep_checkpoints=5)
    run = tmp_path / "run"
    train(cfg, out=str(run), progress=False)
    ckpts = run / "checkpoints"
    # a kill after ckpt-6 was written but before the pointer moved: latest still names step 3
    shutil.copyfile(ckpts / "ckpt-0000003.pt", ckpts / "ckpt-latest.pt")
    assert resume(str(run), progress=False).step == 6
    assert load_checkpoint(str(ckpts / "ckpt-latest.pt"))["step"] == 6
    assert load_run(str(run)).step == 6


def test_two_claims_of_one_folder_never_both_win(tmp_path):
    for trial in range(50):
        path, wins, errors = str(tmp_path / f"run{trial}"), [], []
        barrier = threading.Barrier(2)

        def claim():
            barrier.wait()
            try:
                wins.append(claim_run_dir(path))
            except CheckpointError as e:
                errors.append(e)

        threads = [threading.Thread(target=claim) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1 and len(errors) == 1, trial


def test_a_run_being_trained_cannot_be_resumed_by_a_second_process(tmp_path):
    from ganforge.runtime.rundir import RunLock

    run = tmp_path / "run"
    train(tiny(steps=2, ckpt_every=2, log_every=2), out=str(run), progress=False)
    held = RunLock(str(run))
    try:
        with pytest.raises(CheckpointError, match="being trained by another process"):
            resume(str(run), [{"steps": 4}], progress=False)
    finally:
        held.release()


def test_resume_refuses_steps_that_would_reshape_a_schedule_or_train_nothing(tmp_path):
    run = tmp_path / "run"
    train(tiny(steps=4, ckpt_every=2, log_every=2, opt_g={"schedule": {"kind": "cyclegan"}}), out=str(run), progress=False)
    with pytest.raises(ConfigError, match="opt_g.schedule \\(cyclegan\\) spans the run's steps \\(4\\)"):
        resume(str(run), [{"steps": 8}], progress=False)
    with pytest.raises(ConfigError, match="the run is at step 4; --steps 2 would train nothing"):
        resume(str(run), [{"steps": 2}], progress=False)
    assert "steps: 4" in (run / "config.yaml").read_text()  # nothing rewritten


class StopAt:
    """A monitor that presses Ctrl-C on the tick of a given step (the loop then saves and stops)."""

    all_ranks = False

    def __init__(self, step):
        self.step = step

    def on_start(self, trainer):
        pass

    def on_tick(self, trainer, record):
        if trainer.step == self.step:
            signal.raise_signal(signal.SIGINT)

    def on_end(self, trainer):
        pass


TRANSLATION = {"image_size": 8, "batch_size": 2, "model": {"g": {"width": 4}, "d": {"width": 4, "n_layers": 1}}}
EVERY_ALGORITHM = {
    "dcgan": {}, "infogan-demo": {"model": {"g": {"width": 4, "hidden": 8}, "d": {"width": 4, "hidden": 8}}},
    "began-demo": {"model": {"g": {"width": 4}, "d": {"width": 4, "h": 8}}},
    "progan-demo": {"image_size": 8, "model": {"z_dim": 8, "g": {"fmap_base": 32, "fmap_max": 8}, "d": {"fmap_base": 32, "fmap_max": 8}},
                    "algo": {"schedule": [], "fade_steps": 2, "stable_steps": 2}},
    "r3gan-demo": {"model": {"g": {"width": 16}, "d": {"width": 16}}},
    "msggan-demo": {"image_size": 8, "model": {"z_dim": 8, "g": {"fmap_base": 32, "fmap_max": 8}, "d": {"fmap_base": 32, "fmap_max": 8}}},
    "cyclegan-demo": {**TRANSLATION, "model": {"g": {"width": 4, "n_blocks": 1}, "d": {"width": 4, "n_layers": 1}}},
    "pix2pix-demo": TRANSLATION,
}  # fmt: skip


@pytest.mark.parametrize("preset", list(EVERY_ALGORITHM))
def test_every_algorithm_continues_exactly_after_an_interruption(tmp_path, preset):
    """Stopped at step 3 of 6 (Ctrl-C), then resumed unchanged: the run equals one trained straight
    through, schedules that follow `steps` included (cyclegan's and began's courses)."""
    data = {} if preset in ("cyclegan-demo", "pix2pix-demo") else {"data": "fake", "image_size": 16, "channels": 1, "batch_size": 8}
    base = {**TINY, **data, "steps": 6, "log_every": 1, "ckpt_every": 100, **EVERY_ALGORITHM[preset]}
    if preset in ("cyclegan-demo", "pix2pix-demo"):
        base.pop("data"), base.pop("channels")
    train(resolve_config(preset, [base]), out=str(tmp_path / "straight"), progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(resolve_config(preset, [base]), out=str(tmp_path / "half"), progress=False, monitors=[StopAt(3)])
    assert load_checkpoint(str(tmp_path / "half" / "checkpoints" / "ckpt-latest.pt"))["step"] == 3
    assert resume(str(tmp_path / "half"), progress=False).step == 6
    a, b = (load_checkpoint(str(tmp_path / r / "checkpoints" / "ckpt-latest.pt")) for r in ("straight", "half"))
    for key in ("nets", "G_ema", "opt_G", "opt_D", "extra"):
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "ganforge", "train", "--preset", "dcgan", "--data", "fake", "--image-size", "16",
               "--steps", "100000", "--out", str(run), "--no-progress", "--no-tensorboard", "log_every=5",
               "model.g.width=4", "model.d.width=4", "channels=1", "batch_size=8", "sample_every=100000"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # the first tick: training is under way
            if (run / "stats.jsonl").exists():
                break
            proc.wait(timeout=0.1) if proc.poll() is not None else threading.Event().wait(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "SIGTERM at step" in out and "continue with: ganforge train --resume" in out
    state = load_checkpoint(str(run / "checkpoints" / "ckpt-latest.pt"))
    assert state["step"] >= 5
    # status.json and `ganforge runs` say so, at the step of the saved checkpoint (it said "running" before)
    status = json.loads((run / "status.json").read_text())
    assert (status["state"], status["signal"], status["step"]) == ("interrupted", "SIGTERM", state["step"])
    from ganforge.report.run_info import load_run_info

    assert load_run_info(str(run)).status() == f"interrupted (by SIGTERM at step {state['step']}; resumable)"


def test_stale_temporary_files_of_killed_saves_are_removed_on_resume(tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny(steps=2, ckpt_every=2, log_every=2), out=str(run), progress=False)
    for i in range(3):  # what kill -9 during atomic_save leaves
        (run / "checkpoints" / f".tmp-killed{i}.pt").write_bytes(b"half a checkpoint")
    resume(str(run), [{"steps": 4}], progress=False)
    assert not [f for f in os.listdir(run / "checkpoints") if f.startswith(".tmp-")]
    assert "removed 3 temporary file(s)" in capsys.readouterr().out


def test_a_full_disk_is_one_line_naming_the_file_and_the_old_checkpoint_survives(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "ckpt.pt"
    atomic_save({"a": 1}, str(path))

    def full(*args, **kwargs):  # torch reports ENOSPC as a RuntimeError with the OSError chained
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as e:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos") from e

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match=f"cannot write {path}: No space left on device; free some disk space"):
        atomic_save({"a": 2}, str(path))
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"a": 1} and os.listdir(tmp_path) == ["ckpt.pt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_a_one_line_error(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert main(["train", "--data", "fake", "--steps", "1", "--out", str(folder / "run"), "--no-progress"]) == 2
    finally:
        folder.chmod(0o700)
    assert "ganforge: error: cannot write" in capsys.readouterr().err


def test_a_checkpoint_for_other_networks_or_with_a_bad_config_is_refused_in_one_line(tmp_path):
    run = tmp_path / "run"
    train(tiny(steps=2, ckpt_every=2, log_every=2), out=str(run), progress=False)
    path = run / "checkpoints" / "ckpt-latest.pt"
    state = load_checkpoint(str(path))
    state["config"]["model"]["g"]["width"] = 8  # the stored config now builds other shapes
    atomic_save(state, str(path))
    with pytest.raises(CheckpointError, match="network G does not fit the network its config builds"):
        load_run(str(run))
    state["config"]["batch_size"] = "lots"
    atomic_save(state, str(path))
    with pytest.raises(CheckpointError, match="holds a config this ganforge cannot read"):
        resume(str(run), progress=False)


def test_status_json_keeps_a_heartbeat_while_training(tmp_path, monkeypatch):
    """`updated` moves between ticks (a slow run's ticks are far apart), and stops with the process."""
    import time
    from types import SimpleNamespace

    from ganforge.monitors import seeing

    monkeypatch.setattr(seeing, "HEARTBEAT_S", 0.05)
    monitor = seeing.StatusMonitor()
    trainer = SimpleNamespace(step=3, cfg=SimpleNamespace(steps=10), run_dir=str(tmp_path), precision=SimpleNamespace(name="fp32"))
    monitor.on_start(trainer)
    first = json.loads((tmp_path / "status.json").read_text())["updated"]
    time.sleep(0.3)
    beat = json.loads((tmp_path / "status.json").read_text())
    assert beat["updated"] > first and beat["state"] == "running" and beat["step"] == 3
    monitor.on_end(trainer)
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "finished"


class FailsOnTick(Monitor):
    """An in-training evaluation that fails mid-run: raises `error` on the tick of `step`, noting the
    checkpoint files as they are then in `seen`."""

    def __init__(self, step: int, error: Exception, seen: dict):
        self.step, self.error, self.seen = step, error, seen

    def on_tick(self, trainer, record: dict) -> None:
        if record["step"] == self.step:
            self.seen["checkpoints"] = checkpoint_bytes(trainer.run_dir)
            raise self.error


def checkpoint_bytes(run_dir) -> dict:
    folder = os.path.join(run_dir, "checkpoints")
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}


@pytest.mark.parametrize("where", ["monitor", "step"])
def test_an_error_inside_the_loop_leaves_status_failed_and_the_checkpoints_as_they_were(tmp_path, monkeypatch, where):
    """status.json stayed 'running' after an error stopped training; now it says 'failed', at which
    step and why (one line), `ganforge runs` shows it, and the checkpoints saved before are untouched."""
    from ganforge.monitors.seeing import SeeingMonitor, seeing_monitors
    from ganforge.report.run_info import load_run_info
    from ganforge.train.loop import Trainer

    cfg = tiny(steps=6, log_every=2, ckpt_every=2)
    run, seen = tmp_path / "run", {}
    if where == "monitor":  # a GanforgeError on a logging tick, before that step's checkpoint
        line = "eval_metrics: metric 'fid' needs features, and there is no evaluator"
        monitors, kept, raised = [FailsOnTick(4, ConfigError(line), seen), *seeing_monitors(cfg)], [2], ConfigError
    else:  # any exception in a training step between ticks, its message over two lines
        step = Trainer.train_step

        def train_step(self):
            if self.step == 4:
                seen["checkpoints"] = checkpoint_bytes(self.run_dir)
                raise RuntimeError("CUDA error: an illegal memory access was encountered\nCompile with TORCH_USE_CUDA_DSA")
            return step(self)

        monkeypatch.setattr(Trainer, "train_step", train_step)
        line = "RuntimeError: CUDA error: an illegal memory access was encountered"
        monitors, kept, raised = seeing_monitors(cfg), [2, 4], RuntimeError
    with pytest.raises(raised):
        train(cfg, out=str(run), progress=False, monitors=monitors)
    status = json.loads((run / "status.json").read_text())
    assert (status["state"], status["step"], status["steps"], status["error"]) == ("failed", 4, 6, line)
    assert load_run_info(str(run)).status() == f"failed (at step 4: {line})"
    assert [s for s, _ in list_checkpoints(str(run / "checkpoints"))] == kept
    assert checkpoint_bytes(run) == seen["checkpoints"]  # what the error found is what is left, ckpt-latest.pt included
    monkeypatch.undo()
    assert resume(str(run), progress=False, monitors=[SeeingMonitor()]).step == 6  # the run goes on from there
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
