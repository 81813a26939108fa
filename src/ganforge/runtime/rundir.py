"""Run folders: numbered, never overwritten.

runs/00007-dcgan-mnist5k/
  config.yaml  stats.jsonl  samples/  checkpoints/  metrics/
"""
from __future__ import annotations

import os
import re

from ..errors import CheckpointError

RUN_PATTERN = re.compile(r"^(\d{5})-")


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
    """Create `path` as a new run folder (refused if a run is already there)."""
    refuse_existing_run(path)
    os.makedirs(path, exist_ok=True)
    return path


def is_run_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.yaml"))


def require_run_dir(path: str) -> str:
    if not os.path.isdir(path):
        raise CheckpointError(f"no such run folder: {path}")
    if not is_run_dir(path):
        raise CheckpointError(f"{path} is not a ganforge run (no config.yaml)")
    return path
