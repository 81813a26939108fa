"""The run's metrics folder: one JSON line per score, and the best checkpoint's reason.

    metrics/metrics.jsonl   one line per score: a ProtocolCard's fields (metric, value, n_gen, n_ref,
                            ref_split, extractor, extractor_weights_sha256, resize, seed, feature_space,
                            input_size, warnings, extra) plus step (the checkpoint's generator step), source ('eval' for
                            `ganforge eval`, 'train' for in-training evaluation), checkpoint and time
    metrics/best.json       {metric, value, step, higher_is_better, time}: why checkpoints/ckpt-best.pt
                            is the best one
"""
from __future__ import annotations

import json
import os
import time

METRICS_FILE = "metrics.jsonl"
BEST_FILE = "best.json"


def metrics_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "metrics")


def append_cards(run_dir: str, cards: list, step: int, source: str, checkpoint: str = "") -> str:
    """Append one line per card to metrics/metrics.jsonl; returns the file's path."""
    os.makedirs(metrics_dir(run_dir), exist_ok=True)
    path = os.path.join(metrics_dir(run_dir), METRICS_FILE)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(path, "a") as f:
        for card in cards:
            line = {**card.to_dict(), "step": step, "source": source, "checkpoint": checkpoint, "time": stamp}
            f.write(json.dumps(line, allow_nan=False) + "\n")
    return path


def read_metrics(run_dir: str) -> list[dict]:
    path = os.path.join(metrics_dir(run_dir), METRICS_FILE)
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_best(run_dir: str) -> dict | None:
    path = os.path.join(metrics_dir(run_dir), BEST_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_best(run_dir: str, best: dict) -> None:
    os.makedirs(metrics_dir(run_dir), exist_ok=True)
    path = os.path.join(metrics_dir(run_dir), BEST_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump({**best, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, f, indent=1)
    os.replace(path + ".tmp", path)
