"""`ganforge diagnose RUN_DIR`: a finished or running run's health, read from its files.

Reads stats.jsonl (ticks, health, diagnoses), metrics/ (evaluations, best.json) and checkpoints/.
Runs trained without live diagnosis (diagnose.enabled=false, or older runs) get the record-only rules
(D wins, loss ranges) applied afterwards; mode collapse needs samples and is reported only when it
was checked live.
"""
from __future__ import annotations

import os
from collections import Counter

from .. import config as config_mod
from ..stored import from_stored
from ..errors import CheckpointError
from ..metrics.records import read_best, read_metrics
from ..runtime.checkpoint import list_checkpoints
from ..runtime.rundir import require_run_dir
from ..train.stats import read_jsonl
from ..algorithms import get_algorithm
from .advice import advice_for
from .convergence import d_wins
from .ranges import PROBABILISTIC, out_of_range

SEGMENTS = 5
KEYS = ("Loss/D", "Loss/G", "D(x)", "D(G(z))", "Health/diversity", "Health/nn-distance")


def _labels(records: list[dict], loss: str) -> list[str]:
    """Each tick's health label: the recorded one, else the record-only rules applied now."""
    out = []
    for r in records:
        if "health" in r:
            out.append(r["health"])
            continue
        found = []
        if d_wins(r, loss):
            found.append("D wins")
        if loss in PROBABILISTIC and (which := out_of_range(r)):
            found.append(which.replace("-loss-", " loss "))
        out.append(",".join(found) or "ok")
    return out


def _table(header: list[str], rows: list[list[str]], right: list[bool], indent: str = "  ") -> list[str]:
    """Lines of a text table: each column as wide as its widest cell, two spaces between columns."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]

    def line(cells: list[str]) -> str:
        return indent + "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return [line(header)] + [line(cells) for cells in rows]


def summarize(run_dir: str) -> str:
    require_run_dir(run_dir)
    cfg = from_stored(config_mod.read_yaml(os.path.join(run_dir, "config.yaml")))
    stats = os.path.join(run_dir, "stats.jsonl")
    if not os.path.isfile(stats):
        raise CheckpointError(f"{run_dir} has no stats.jsonl yet: it has not logged a tick (log_every={cfg.log_every})")
    records = [r for r in read_jsonl(stats) if "step" in r]
    if not records:
        raise CheckpointError(f"{stats} holds no ticks yet")
    lines = [f"run {run_dir}: {cfg.preset} on {cfg.data}, loss {cfg.loss}, {len(records)} ticks, "
             f"step {records[-1]['step']} of {cfg.steps}"]  # fmt: skip
    labels = _labels(records, cfg.loss)
    lines.append("health over time (means per stretch):")
    size = max(1, -(-len(records) // SEGMENTS))
    rows = []
    for i in range(0, len(records), size):
        part, part_labels = records[i : i + size], labels[i : i + size]
        cells = [f"{part[0]['step']}-{part[-1]['step']}"]
        for key in KEYS:
            values = [r[key] for r in part if isinstance(r.get(key), (int, float))]
            cells.append(f"{sum(values) / len(values):.4g}" if values else "-")
        counts = Counter(label for label in part_labels)
        cells.append(", ".join(f"{label} x{n}" for label, n in counts.most_common()))
        rows.append(cells)
    lines.extend(_table(["steps", *KEYS, "health"], rows, right=[False] + [True] * len(KEYS) + [False]))
    raised = [d for r in records for d in r.get("diagnoses", [])]
    if raised:
        lines.append("diagnoses raised:")
        for d in raised:
            lines.append(f"  step {d['step']:>6} [{d['severity']}] {d['message']}")
        lines.append("what to change:")
        for name in dict.fromkeys(d["name"] for d in raised):
            lines.extend([f"  {name}:"] + [f"    - {a}" for a in advice_for(name, cfg, get_algorithm(cfg.algorithm))])
    else:
        posthoc = [label for label in labels if label != "ok"]
        lines.append("diagnoses raised: none" + (f" live; the record-only rules find {Counter(posthoc).most_common()}"
                                                 if posthoc and not any("health" in r for r in records) else ""))
    back = [r["rolled_back_to"] for r in records if "rolled_back_to" in r]
    if back:
        lines.append(f"divergence: rolled back to the checkpoint of step {back[-1]}")
    ckpts = list_checkpoints(os.path.join(run_dir, "checkpoints"))
    lines.append(f"checkpoints: {', '.join(str(s) for s, _ in ckpts) or 'none'}")
    best, evals = read_best(run_dir), read_metrics(run_dir)
    if best:
        n = sum(1 for e in evals if e["metric"] == best["metric"] and e.get("source") == "train")
        lines.append(
            f"best checkpoint: checkpoints/ckpt-best.pt = step {best['step']}, {best['metric']} {best['value']:.5g} "
            f"({'higher' if best['higher_is_better'] else 'lower'} is better; best of {n} in-training evaluations)"
        )
    else:
        lines.append("best checkpoint: none kept (set best_metric=... and eval_every=N)")
    if evals:
        last = {}
        for e in evals:
            last[e["metric"]] = e
        lines.append("latest scores: " + "; ".join(
            f"{m} {e['value'] if isinstance(e['value'], str) else format(e['value'], '.4g')} (step {e['step']}, {e['source']})"
            for m, e in last.items()))  # fmt: skip
    return "\n".join(lines)
