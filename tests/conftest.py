"""Shared test set-up: small, CPU-only, deterministic."""
import os

import pytest
import torch

# Two cores: one torch thread per test process keeps timings steady when other work runs.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def fixed_threads(monkeypatch):
    """Trainings keep the threads set above, however busy the machine running the tests: tests compare
    runs bit for bit, and threads change float rounding (runtime/core_share.py's tests set their own interval)."""
    monkeypatch.setattr("ganforge.runtime.core_share.POLL_SECONDS", float("inf"))


@pytest.fixture
def tiny_overrides():
    """Overrides that make any preset train in a second or two on `fake` data."""
    return {
        "data": "fake", "image_size": 16, "channels": 1, "batch_size": 8, "steps": 4,
        "log_every": 2, "sample_every": 2, "ckpt_every": 2, "n_samples": 4,
    }  # fmt: skip
