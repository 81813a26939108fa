"""The run's metrics folder: one JSON line per score, and the best checkpoint's reason.

    metrics/metrics.jsonl   one line per score: a ProtocolCard's fields (metric, value, n_gen, n_ref,
                            ref_split, extractor, extractor_weights_sha256, resize, seed, feature_space,
                            input_size, warnings, extra) plus step (the checkpoint's generator step), source ('eval' for
                            `ganforge eval`, 'train' for in-training evaluation), checkpoint and time
    metrics/best.json       {metric, value, step, higher_is_better, time}: why checkpoints/ckpt-best.pt
                            is the best one
    metrics/curve-<metric>.png  the metric against the step (`ganforge eval`, report/metric_curves.py)

A score averaged over K sampling seeds (`ganforge eval --repeats K`) is one line whose value is the mean,
with extra.repeats = K, extra.repeat_std (the sample standard deviation over the seeds), and
extra.repeat_values / extra.repeat_seeds; a line without extra.repeats is one seed's score (K = 1).
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
    """The lines of metrics/metrics.jsonl, oldest first; a torn line (a writer killed mid-line) is skipped."""
    path = os.path.join(metrics_dir(run_dir), METRICS_FILE)
    if not os.path.isfile(path):
        return []
    lines = []
    with open(path) as f:
        for text in f:
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(line, dict) and "metric" in line and "value" in line:
                lines.append(line)
    return lines


def eval_lines(lines: list[dict]) -> list[dict]:
    """The lines `ganforge eval` wrote (source 'eval'; a line that names no source counts as one). In-training
    scores (source 'train') draw their samples with the training loop's own noise, so they are kept apart."""
    return [line for line in lines if line.get("source", "eval") == "eval"]


def value_of(line: dict) -> float:
    """A line's value as a float ("inf", "-inf", "nan" as written by ProtocolCard.to_dict)."""
    try:
        return float(line["value"])
    except (TypeError, ValueError):
        return float("nan")


def repeats_of(line: dict) -> int:
    """K of a line averaged over K sampling seeds; 1 for a single seed's score (every older line)."""
    return int((line.get("extra") or {}).get("repeats", 1))


def protocol_of(line: dict) -> dict:
    """What a line was measured under, apart from its step and value: two lines of one metric with equal
    protocols differ only by the checkpoint they scored. `resize` is the method's name (older cards that
    name none read as legacy-tensor); `sampling` is how the samples were drawn (None: G's own; `ganforge
    eval` of a run with discriminator rejection sampling names it); memorization adds the size of its
    held-out set, which its card's n_ref (the training images) does not show."""
    from .features import resize_method

    extra = line.get("extra") or {}
    protocol = {
        "n_gen": line.get("n_gen"), "n_ref": line.get("n_ref"), "ref_split": line.get("ref_split"),
        "extractor": line.get("extractor"), "extractor_weights_sha256": line.get("extractor_weights_sha256"),
        "resize": resize_method(line.get("resize")), "seed": line.get("seed"), "repeats": repeats_of(line),
        "sampling": extra.get("sampling"),
    }  # fmt: skip
    if line.get("metric") == "memorization":
        protocol["n_heldout"] = extra.get("n_heldout")
    return protocol


def scored_with(lines: list[dict], step: int, expected: dict[str, dict]) -> bool:
    """Whether `lines` hold, for every metric name in `expected`, a `ganforge eval` score of `step` under
    that protocol (expected: metric name -> protocol_of's dict, as metrics.evaluate.expected_protocols gives)."""
    done = {(line["metric"], json_key(protocol_of(line))) for line in eval_lines(lines) if line.get("step") == step}
    return all((name, json_key(protocol)) in done for name, protocol in expected.items())


def json_key(d: dict) -> str:
    """A dict as a hashable, order-independent key."""
    return json.dumps(d, sort_keys=True)


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
