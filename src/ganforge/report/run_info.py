"""Read a run folder into plain values: config, statistics, sample grids, checkpoints, metrics, status.

Only files are read (no checkpoint is unpickled), so listing many runs is fast and a run being written
to is read safely: a half-written last line of a JSON-lines file is skipped, not an error.

Status of a run:
  finished  its newest checkpoint is at the config's `steps` (or status.json says so and agrees);
  running   status.json names a live process on this machine, or a process on another whose heartbeat
            (`updated`, refreshed every 30 s) is recent; without a status.json, stats.jsonl changed
            within the last RUNNING_WINDOW_S seconds;
  failed    status.json says training stopped on an error, with the step and the error's one line;
  interrupted  status.json says Ctrl-C or SIGTERM stopped training, at a step whose checkpoint it saved;
  stopped   anything else, with when it was last heard of: it stopped before its steps (a killed
            process, a failed rank, or an error or Ctrl-C in a run trained without status.json).
status.json is written by `StatusMonitor` (ganforge.monitors.seeing) during `ganforge train`.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass, field

import yaml

from ..runtime.checkpoint import list_checkpoints
from ..runtime.rundir import HEARTBEAT_S, require_run_dir

# Without a status.json (runs trained through the Python API), a run whose stats.jsonl changed within
# this window counts as running. Ten minutes: longer than a logging tick of any CPU-sized run.
RUNNING_WINDOW_S = 600
SAMPLE_PATTERN = re.compile(r"^step-(\d+)\.png$")
# Metric names holding one of these are smaller-better; the rest (IS, precision, recall, modes covered)
# are larger-better. Used only when the run has no metrics/best.json, which states the direction.
LOWER_IS_BETTER = ("fid", "kid", "memorization", "kl")
MEMORIZATION_PATTERN = re.compile(r"^memorization(-(\d+))?\.png$")
CURVE_PATTERN = re.compile(r"^curve-(.+)\.png$")  # `ganforge eval`'s metric-vs-step plots (metric_curves.py)


@dataclass
class RunInfo:
    run_dir: str
    config: dict  # config.yaml as written (not re-validated: an older run still reads)
    stats: list[dict] = field(default_factory=list)
    samples: list[tuple[int, str]] = field(default_factory=list)  # (step, path), oldest first
    reals: str | None = None
    checkpoints: list[tuple[int, str]] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)  # protocol cards, each with 'step' when known
    extra_images: dict[str, str] = field(default_factory=dict)  # 'memorization', 'triplets' -> path
    curve_images: list[str] = field(default_factory=list)  # metrics/curve-<metric>.png, by name

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.run_dir))

    @property
    def steps_total(self) -> int:
        return int(self.config.get("steps") or 0)

    @property
    def steps_done(self) -> int:
        """The furthest step the run is known to have reached (checkpoint, stats or sample grid)."""
        candidates = [s for s, _ in self.checkpoints] + [s for s, _ in self.samples]
        candidates += [int(r["step"]) for r in self.stats[-1:] if isinstance(r.get("step"), (int, float))]
        return max(candidates, default=0)

    @property
    def checkpoint_step(self) -> int | None:
        return self.checkpoints[-1][0] if self.checkpoints else None

    @property
    def health(self) -> str:
        """The last diagnosis the run logged ('' when none was logged)."""
        for record in reversed(self.stats):
            if record.get("health"):
                return str(record["health"])
        return ""

    def status(self, now: float | None = None) -> str:
        return run_status(self, now)

    def best_metric(self) -> dict | None:
        """metrics/best.json when the run keeps a best checkpoint, else the best card of the run's first
        metric (by its direction); None without metrics."""
        best = _read_json(os.path.join(self.run_dir, "metrics", "best.json"))
        if "metric" in best and _number(best.get("value")) is not None:
            return best
        cards = [c for c in self.metrics if _number(c.get("value")) is not None]
        if not cards:
            return None
        name = cards[0]["metric"]
        same = [c for c in cards if c["metric"] == name]
        lower = any(part in str(name).lower() for part in LOWER_IS_BETTER)
        return (min if lower else max)(same, key=lambda c: _number(c["value"]))


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return None


def read_jsonl_tolerant(path: str) -> list[dict]:
    """JSON objects, one per line; a torn or foreign line (a run being written) is skipped."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    out.append(value)
    except OSError:
        pass
    return out


def read_metrics(run_dir: str) -> list[dict]:
    """Protocol cards from metrics/*.jsonl (ganforge.metrics.records writes metrics.jsonl: a card's
    fields plus step, source, checkpoint, time). A line may also be a record {'step': N, 'cards': [...]};
    either way each card gets its step, and 'file' names the file it came from."""
    folder = os.path.join(run_dir, "metrics")
    cards = []
    if not os.path.isdir(folder):
        return cards
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".jsonl"):
            continue
        for line in read_jsonl_tolerant(os.path.join(folder, name)):
            inner = line.get("cards") if isinstance(line.get("cards"), list) else [line]
            for card in inner:
                if isinstance(card, dict) and "metric" in card and "value" in card:
                    step = card.get("step", line.get("step", (card.get("extra") or {}).get("step")))
                    cards.append({**card, "step": step, "file": name})
    return cards


def load_run_info(run_dir: str) -> RunInfo:
    """Everything the report and the runs table show; raises CheckpointError for a folder that is not a run."""
    require_run_dir(run_dir)
    try:
        with open(os.path.join(run_dir, "config.yaml")) as f:
            config = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    info = RunInfo(run_dir, config)
    info.stats = read_jsonl_tolerant(os.path.join(run_dir, "stats.jsonl"))
    samples_dir = os.path.join(run_dir, "samples")
    if os.path.isdir(samples_dir):
        names = os.listdir(samples_dir)
        info.samples = sorted((int(m.group(1)), os.path.join(samples_dir, n)) for n in names if (m := SAMPLE_PATTERN.match(n)))
        if "reals.png" in names:
            info.reals = os.path.join(samples_dir, "reals.png")
        # Translation runs (A -> B -> A) save their triplets next to the grids.
        for n in sorted(names):
            if n.startswith(("triplets", "cycle")) and n.endswith(".png"):
                info.extra_images.setdefault("triplets", os.path.join(samples_dir, n))
    info.checkpoints = list_checkpoints(os.path.join(run_dir, "checkpoints"))
    info.metrics = read_metrics(run_dir)
    # Memorization pairs: `ganforge eval` writes metrics/memorization-<step>.png; show the newest.
    metrics_dir = os.path.join(run_dir, "metrics")
    metric_files = sorted(os.listdir(metrics_dir)) if os.path.isdir(metrics_dir) else []
    found = sorted((int(m.group(2) or -1), n) for n in metric_files if (m := MEMORIZATION_PATTERN.match(n)))
    if found:
        info.extra_images["memorization"] = os.path.join(metrics_dir, found[-1][1])
    info.curve_images = [os.path.join(metrics_dir, n) for n in metric_files if CURVE_PATTERN.match(n)]
    return info


def _read_json(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def read_status_file(run_dir: str) -> dict:
    return _read_json(os.path.join(run_dir, "status.json"))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def run_status(info: RunInfo, now: float | None = None) -> str:
    """'finished', 'running', 'interrupted (by SIGTERM at step N; resumable)', 'failed (at step N: error)'
    or 'stopped (no heartbeat since ...)' (see the module docstring)."""
    now = time.time() if now is None else now
    if info.steps_total and info.checkpoint_step is not None and info.checkpoint_step >= info.steps_total:
        return "finished"
    marker = read_status_file(info.run_dir)
    if marker.get("state") == "interrupted":
        return f"interrupted (by {marker.get('signal') or 'a signal'} at step {marker.get('step', '?')}; resumable)"
    if marker.get("state") == "failed":
        return f"failed (at step {marker.get('step', '?')}: {marker.get('error') or 'no message'})"
    if marker.get("state") == "running":
        beat = marker.get("updated")
        beat = beat if isinstance(beat, (int, float)) else os.path.getmtime(os.path.join(info.run_dir, "status.json"))
        if marker.get("host") == socket.gethostname() and isinstance(marker.get("pid"), int):
            alive = pid_alive(marker["pid"])
        else:  # another machine's process: its heartbeat tells
            alive = now - beat < 3 * HEARTBEAT_S
        return "running" if alive else f"stopped (no heartbeat since {_when(beat)})"
    stats_path = os.path.join(info.run_dir, "stats.jsonl")
    newest = max((os.path.getmtime(p) for p in (stats_path, os.path.join(info.run_dir, "config.yaml")) if os.path.exists(p)), default=0.0)
    return "running" if now - newest < RUNNING_WINDOW_S else f"stopped (no change since {_when(newest)})"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def find_runs(root: str) -> list[str]:
    """Run folders under root (root itself when it is one), sorted by name; two levels deep at most."""
    from ..runtime.rundir import is_run_dir

    if is_run_dir(root):
        return [root]
    found = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if not os.path.isdir(path):
            continue
        if is_run_dir(path):
            found.append(path)
        else:  # a folder of runs, e.g. runs/sweep-1/00000-...
            found += [os.path.join(path, n) for n in sorted(os.listdir(path)) if is_run_dir(os.path.join(path, n))]
    return found
