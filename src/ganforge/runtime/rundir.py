"""Run folders: numbered, never overwritten.

runs/00007-dcgan-mnist5k/
  config.yaml  stats.jsonl  samples/  checkpoints/  metrics/
"""
from __future__ import annotations

import os
import re

from ..errors import CheckpointError

RUN_PATTERN = re.compile(r"^(\d{5})-")
CLAIM = ".claimed"  # created exclusively in a run folder by the process that made it
HEARTBEAT_S = 30.0  # a training process refreshes RUN/status.json's `updated` at least this often


def slug(text: str) -> str:
    """A folder-safe short name ('/data/my faces' -> 'my-faces')."""
    text = os.path.basename(os.path.normpath(text)) or text
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-")[:40] or "data"


def new_run_dir(root: str, *name_parts: str) -> str:
    """Create root/NNNNN-part-part with NNNNN one more than the largest there."""
    os.makedirs(root, exist_ok=True)
    numbers = [int(m.group(1)) for f in os.listdir(root) if (m := RUN_PATTERN.match(f))]
    number = max(numbers, default=-1) + 1
    while True:
        path = os.path.join(root, "-".join([f"{number:05d}", *(slug(p) for p in name_parts)]))
        try:
            os.makedirs(path)  # exist_ok=False: two runs started at once never share a folder
            open(os.path.join(path, CLAIM), "w").close()
            return path
        except FileExistsError:
            number += 1


def refuse_existing_run(path: str) -> None:
    """An error if `path` exists and is not an empty folder: an existing run is never overwritten."""
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise CheckpointError(
            f"{path} already exists; pick another --out, or continue that run with --resume {path}"
        )


def claim_run_dir(path: str) -> str:
    """Create `path` as a new run folder, atomically: of two processes claiming the same path at once,
    exactly one gets it (the exclusive creation of its claim file decides), and an existing run is
    refused."""
    refuse_existing_run(path)
    os.makedirs(path, exist_ok=True)
    try:
        os.close(os.open(os.path.join(path, CLAIM), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        raise CheckpointError(f"{path} was just claimed by another run; pick another --out") from None
    return path


class RunLock:
    """An exclusive lock on a run folder for as long as a process trains it (released when the process
    ends, however it ends): a second `ganforge train --resume` of the same run is refused instead of
    interleaving its checkpoints with the first's."""

    def __init__(self, run_dir: str):
        import fcntl

        self.file = open(os.path.join(run_dir, ".lock"), "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise CheckpointError(f"{run_dir} is being trained by another process right now; wait for it to end, "
                                  "or stop it (Ctrl-C saves a checkpoint) before resuming") from None  # fmt: skip

    def release(self) -> None:
        self.file.close()


def is_run_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.yaml"))


def require_run_dir(path: str) -> str:
    if not os.path.isdir(path):
        raise CheckpointError(f"no such run folder: {path}")
    if not is_run_dir(path):
        raise CheckpointError(f"{path} is not a ganforge run (no config.yaml)")
    return path
