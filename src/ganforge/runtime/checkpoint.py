"""Checkpoints: one file of plain state, written atomically, loaded without running code.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts only (config, step, model and
optimizer states, RNG states), so `torch.load(weights_only=True)` can read it and a foreign or
malicious pickle is refused instead of executed. Writes go to a temporary file in the same folder,
are fsync'ed, then renamed over the target: a crash mid-save leaves the last good file intact.
"""
from __future__ import annotations

import os
import pickle
import random
import re
import tempfile

import numpy as np
import torch

from ..errors import CheckpointError

FORMAT = "ganforge-checkpoint-1"
CKPT_PATTERN = re.compile(r"^ckpt-(\d+)\.pt$")


def atomic_save(obj, path: str) -> None:
    """torch.save to `path` so that readers see the old file or the whole new one, never a torn one.
    A disk that is full or read-only is a CheckpointError naming the file; the old file is untouched."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        reason = os_error(e)
        if reason is not None:  # torch reports a full disk as "[enforce fail at inline_container.cc]"
            raise CheckpointError(f"cannot write {path}: {reason.strerror}; {what_to_do(reason)} "
                                  "(the checkpoints saved before are untouched)") from None  # fmt: skip
        raise


def os_error(e: BaseException) -> OSError | None:
    """The OSError behind e (itself, or in its chain of causes), if any."""
    while e is not None:
        if isinstance(e, OSError) and e.errno is not None:
            return e
        e = e.__cause__ or e.__context__
    return None


def what_to_do(e: OSError) -> str:
    import errno

    return {
        errno.ENOSPC: "free some disk space, or write the run elsewhere (--out / --runs-root)",
        errno.EDQUOT: "free some of your disk quota, or write the run elsewhere (--out / --runs-root)",
        errno.EROFS: "the folder is on a read-only file system: write the run elsewhere (--out / --runs-root)",
        errno.EACCES: "you may not write there: write the run elsewhere (--out / --runs-root)",
    }.get(e.errno, "check the folder")


def atomic_link(src: str, dst: str) -> None:
    """Make `dst` name the same file as `src` (a hard link, renamed into place; a copy where links fail)."""
    folder = os.path.dirname(os.path.abspath(dst))
    tmp = os.path.join(folder, f".tmp-link-{os.getpid()}")
    if os.path.exists(tmp):
        os.remove(tmp)
    try:
        os.link(src, tmp)
    except OSError:
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def save_checkpoint(state: dict, folder: str, step: int, keep: int = 2, protect_step: int | None = None) -> str:
    """Write ckpt-<step>.pt (replacing one a killed session left at that step), then point
    ckpt-latest.pt at it: the pointer is written last, so it never names a file that is not whole.
    Keep the newest `keep` numbered files, and also the newest at or before `protect_step` (the last
    step known good): a run that diverges between checks must still have a good state to roll back to."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"ckpt-{step:07d}.pt")
    atomic_save({"format": FORMAT, **state}, path)
    atomic_link(path, os.path.join(folder, "ckpt-latest.pt"))
    if keep > 0:
        found = list_checkpoints(folder)
        kept = {s for s, _ in found[-keep:]}
        if protect_step is not None:
            kept |= {max((s for s, _ in found if s <= protect_step), default=-1)}
        for old_step, old_path in found:
            if old_step not in kept:
                os.remove(old_path)
    return path


def remove_stale_temp_files(folder: str) -> list[str]:
    """Delete the temporary files (.tmp-*) a killed save left in `folder`; returns their names. Call
    it only while holding the run's lock: a live writer's temporary file must not be taken away."""
    if not os.path.isdir(folder):
        return []
    stale = [f for f in os.listdir(folder) if f.startswith(".tmp-")]
    for name in stale:
        os.remove(os.path.join(folder, name))
    return stale


def list_checkpoints(folder: str) -> list[tuple[int, str]]:
    """(step, path) of the numbered checkpoints in folder, oldest first."""
    if not os.path.isdir(folder):
        return []
    found = [(int(m.group(1)), os.path.join(folder, f)) for f in os.listdir(folder) if (m := CKPT_PATTERN.match(f))]
    return sorted(found)


def load_checkpoint(path: str, map_location="cpu") -> dict:
    """Load a ganforge checkpoint; anything else (corrupt, foreign, containing code) is refused."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, OSError) as e:
        raise CheckpointError(
            f"refused to load {path}: not a readable ganforge checkpoint (corrupt, or holds code/objects "
            f"that weights_only loading does not run): {load_failure_reason(e)}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"refused to load {path}: not a ganforge checkpoint (no '{FORMAT}' marker)")
    return state


# Sentences of torch's load errors that advise loading anyway (weights_only=False, allowlisting the
# class "if you trust" it): for a tampered or hostile file that advice runs its code, so ganforge never
# passes it on.
UNSAFE_ADVICE = re.compile(r"weights_only|trust|safe_globals", re.IGNORECASE)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def load_failure_reason(e: BaseException) -> str:
    """The useful part of torch.load's error on one line: the unpickler's own reason when there is one
    ("Unsupported global: GLOBAL foo.Bar was not an allowed global by default"), else the first line,
    without any sentence of advice to load the file unsafely."""
    text = ANSI_ESCAPE.sub("", str(e))
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    for line in (line.strip() for line in text.splitlines()):
        kept = [s for s in re.split(r"(?<=\.)\s+", line) if s and not UNSAFE_ADVICE.search(s)]
        if kept:
            return " ".join(kept)
        if line:  # the first line was advice only: say no more than the error's type
            break
    return type(e).__name__


def load_into(module, state: dict, what: str) -> None:
    """module.load_state_dict(state), or a CheckpointError saying the checkpoint does not fit (another
    architecture or size): torch's own message is a page of key and shape lists."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"the checkpoint's {what} does not fit the network its config builds ({first}); "
                              "the file was written for other networks: retrain the run") from None  # fmt: skip


def rng_state() -> dict:
    """Every RNG a training step draws from, as weights_only-loadable values."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    random.setstate(_to_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_lists(x):
    return [_to_lists(v) for v in x] if isinstance(x, (tuple, list)) else x


def _to_tuples(x):
    return tuple(_to_tuples(v) for v in x) if isinstance(x, list) else x
