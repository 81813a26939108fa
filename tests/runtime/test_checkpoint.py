import os
import pickle

import pytest
import torch

from ganforge.errors import CheckpointError
from ganforge.runtime.checkpoint import atomic_save, list_checkpoints, load_checkpoint, rng_state, save_checkpoint, set_rng_state


def test_save_keeps_latest_and_prunes_old(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint({"step": step, "w": torch.ones(2) * step}, str(tmp_path), step, keep=2)
    assert [s for s, _ in list_checkpoints(str(tmp_path))] == [2, 3]
    assert load_checkpoint(str(tmp_path / "ckpt-latest.pt"))["step"] == 3


def test_crash_mid_save_leaves_the_last_good_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / "ckpt.pt")
    atomic_save({"format": "ganforge-checkpoint-1", "step": 1}, path)

    def crash(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        atomic_save({"format": "ganforge-checkpoint-1", "step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # no temporary file left behind


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_foreign_or_malicious_checkpoint_is_refused_not_executed(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "ganforge-checkpoint-1", "x": Evil()}, f)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(str(path))


class NotAllowlisted:
    """A plain class: harmless, but not on torch's weights_only allowlist."""


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_refusal_keeps_torchs_reason_but_never_its_advice_to_load_unsafely(tmp_path, writer):
    # A tampered checkpoint: a ganforge marker plus an object of a class torch's allowlist does not know.
    path = tmp_path / "tampered.pt"
    state = {"format": "ganforge-checkpoint-1", "step": 1, "x": NotAllowlisted()}
    if writer == "torch.save":
        torch.save(state, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(state, f, protocol=2)  # torch's unpickler reads protocol 2 up to the class
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(str(path))
    message = str(caught.value)
    assert message.startswith(f"refused to load {path}: ") and "\n" not in message and "\x1b" not in message
    assert "Unsupported global" in message and "NotAllowlisted" in message  # torch's reason, kept
    for advice in ("weights_only=False", "`weights_only` set to `False`", "trust", "add_safe_globals", "safe_globals"):
        assert advice not in message, message


def test_corrupt_and_non_ganforge_files_are_refused(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00\x01not a checkpoint")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(str(tmp_path / "junk.pt"))
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a ganforge checkpoint"):
        load_checkpoint(str(tmp_path / "other.pt"))
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(str(tmp_path / "missing.pt"))


def test_rng_state_round_trip_through_weights_only_load(tmp_path):
    import random

    import numpy as np

    state = rng_state()
    atomic_save({"format": "ganforge-checkpoint-1", "rng": state}, str(tmp_path / "r.pt"))
    a = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(load_checkpoint(str(tmp_path / "r.pt"))["rng"])
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all() and a[2] == b[2]
