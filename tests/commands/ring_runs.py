"""Tiny ring8 GAN runs for the whole-run evaluation and compare tests: 20 steps in about a second; 2D
points are scored without any network."""
import json
import os

from ganforge.presets import resolve_config
from ganforge.runs import train

RING = {
    "threads": 1, "batch_size": 32, "log_every": 5, "sample_every": 10, "ckpt_every": 5, "n_samples": 16,
    "data": "ring8", "steps": 20, "model": {"z_dim": 2, "g": {"hidden": [16]}, "d": {"hidden": [16]}},
}  # fmt: skip


def ring_run(folder, **overrides) -> str:
    run = str(folder)
    train(resolve_config("gan", [RING, overrides]), out=run, progress=False)
    return run


def lines(run) -> list[dict]:
    """The run's metrics/metrics.jsonl lines."""
    with open(os.path.join(run, "metrics", "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]
