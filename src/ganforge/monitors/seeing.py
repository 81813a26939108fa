"""Monitors that let a user see a run while it trains: status.json, report.html and TensorBoard.

`seeing_monitors(cfg)` is what `ganforge train` adds to the loop's monitors.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time

from ..errors import ConfigError, GanforgeError
from ..runtime.rundir import HEARTBEAT_S
from ..train.monitor import Monitor


class StatusMonitor(Monitor):
    """Keeps RUN/status.json: {'state': 'running' | 'finished' | 'interrupted' | 'failed', pid, host, step,
    steps, precision (the one training runs in: what `precision: auto` chose), updated}, for 'interrupted'
    the `signal` (SIGINT or SIGTERM; a checkpoint of `step` was saved first), for 'failed' the `error`
    that stopped training, in one line.

    While training, a heartbeat thread refreshes `updated` every HEARTBEAT_S seconds (a logging tick
    may be hours apart on a slow run). A run whose file says 'running' but whose process is gone
    (SIGKILL, a failed rank: the loop calls no monitor then) is told apart by `ganforge runs`:
    from the pid on this host, from a heartbeat that stopped on another.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._state: dict = {}

    def _write(self, trainer=None, state: str | None = None, **more) -> None:
        with self._lock:
            if trainer is not None:
                self._state = {"state": state, "pid": os.getpid(), "host": socket.gethostname(), "step": trainer.step,
                               "steps": trainer.cfg.steps, "precision": trainer.precision.name, **more,
                               "path": os.path.join(trainer.run_dir, "status.json")}  # fmt: skip
            path = self._state["path"]
            tmp = f"{path}.tmp-{os.getpid()}"
            with open(tmp, "w") as f:
                json.dump({k: v for k, v in self._state.items() if k != "path"} | {"updated": time.time()}, f)
            os.replace(tmp, path)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._write()
            except OSError:  # a full disk is the training's error to report, not the heartbeat's
                pass

    def on_start(self, trainer) -> None:
        self._write(trainer, "running")
        threading.Thread(target=self._beat, name="ganforge-heartbeat", daemon=True).start()

    def on_tick(self, trainer, record: dict) -> None:
        self._write(trainer, "running")

    def on_end(self, trainer) -> None:
        self._stop.set()
        self._write(trainer, "finished")

    def on_interrupt(self, trainer, signal_name: str) -> None:
        self._stop.set()
        self._write(trainer, "interrupted", signal=signal_name)

    def on_error(self, trainer, error: Exception) -> None:
        self._stop.set()
        try:
            self._write(trainer, "failed", error=error_line(error))
        except OSError:  # a full disk is the training's error to report (it may be this one), not the status file's
            pass


def error_line(error: Exception) -> str:
    """The error as one line: a GanforgeError's message (what `ganforge: error:` prints), else the
    exception's type and the first line of its message."""
    message = str(error).strip()
    text = message if isinstance(error, GanforgeError) else f"{type(error).__name__}: {message}" if message else ""
    return text.splitlines()[0] if text else type(error).__name__


class ReportMonitor(Monitor):
    """Rewrites RUN/report.html every `every` steps (checked on logging ticks) and at the end."""

    def __init__(self, every: int):
        self.every = every
        self.last = None

    def on_start(self, trainer) -> None:
        self.last = trainer.step

    def on_tick(self, trainer, record: dict) -> None:
        if trainer.step - self.last >= self.every:
            self.last = trainer.step
            self._write(trainer)

    def on_end(self, trainer) -> None:
        self._write(trainer)

    @staticmethod
    def _write(trainer) -> None:
        from ..report.html_report import write_report

        write_report(trainer.run_dir)


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def seeing_monitors(cfg) -> list[Monitor]:
    """status.json always; TensorBoard when cfg.tensorboard (None: when the package is installed);
    the HTML report when cfg.report_every > 0. `tensorboard: true` without the package is an error."""
    monitors: list[Monitor] = [StatusMonitor()]
    use_tb = cfg.tensorboard if cfg.tensorboard is not None else tensorboard_available()
    if use_tb:
        if not tensorboard_available():
            raise ConfigError("tensorboard=true, but the tensorboard package is not installed: pip install 'ganforge[tensorboard]' (or pass --no-tensorboard)")
        from .tensorboard import TensorBoardMonitor

        monitors.append(TensorBoardMonitor())
    if cfg.report_every < 0:
        raise ConfigError(f"report_every must be 0 (off) or a number of steps, got {cfg.report_every}")
    if cfg.report_every:
        monitors.append(ReportMonitor(cfg.report_every))
    return monitors


class SeeingMonitor(Monitor):
    """`seeing_monitors(trainer.cfg)`, chosen when training starts: a resumed run's config (with its
    resume overrides, e.g. tensorboard=false) is known only then."""

    def __init__(self):
        self.parts: list[Monitor] = []

    def on_start(self, trainer) -> None:
        self.parts = seeing_monitors(trainer.cfg)
        for m in self.parts:
            m.on_start(trainer)

    def on_tick(self, trainer, record: dict) -> None:
        for m in self.parts:
            m.on_tick(trainer, record)

    def on_end(self, trainer) -> None:
        for m in self.parts:
            m.on_end(trainer)

    def on_error(self, trainer, error: Exception) -> None:
        for m in self.parts:
            m.on_error(trainer, error)
