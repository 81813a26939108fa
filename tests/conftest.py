"""Shared test set-up: small, CPU-only, deterministic."""
import os

import pytest
import torch

# Two cores: one torch thread per test process keeps timings steady when other work runs.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def tiny_overrides():
    """Overrides that make any preset train in a second or two on `fake` data."""
    return {
        "data": "fake", "image_size": 16, "channels": 1, "batch_size": 8, "steps": 4,
        "log_every": 2, "sample_every": 2, "ckpt_every": 2, "n_samples": 4,
    }  # fmt: skip
