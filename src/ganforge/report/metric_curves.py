"""Scores against the training step, as PNGs: one metric of one run (metrics/curve-<metric>.png, written by
`ganforge eval`), or several runs on shared axes (`ganforge compare`).

A curve joins only lines of one protocol (records.protocol_of: n, seed, extractor and its weights, resize,
reference split, repeats, sampling): a point measured another way is another curve, never a kink in this one.
Scores averaged over K seeds carry error bars of ± their sample standard deviation; the number a perfect
generator would score at the same sample size (real vs real, from the card's extras) is a dashed line.
"""
from __future__ import annotations

import math
import os
import textwrap
from dataclasses import dataclass

from ..metrics.records import eval_lines, json_key, metrics_dir, protocol_of, repeats_of, value_of

# The extra of a card that holds what real data (or a perfect generator) scores at the same sample size:
# the floor (or ceiling) its curve approaches. Metric -> (key, legend); any other card with real_vs_real
# (FID, KID, precision/recall, density/coverage) uses that.
REFERENCE_EXTRAS = {
    "memorization": ("baseline_share", "real-vs-real baseline"),
    "modes/covered": ("perfect_generator_modes_covered", "perfect generator"),
    "modes/kl": ("perfect_generator_kl_bias", "perfect generator (plug-in bias)"),
}


@dataclass
class Point:
    step: int
    value: float
    std: float | None  # sample sd over the seeds when repeated, else None
    repeats: int


def curve_file(metric: str) -> str:
    """metrics/ file name of a metric's curve ('modes/covered' -> 'curve-modes-covered.png')."""
    return f"curve-{metric.replace('/', '-')}.png"


def curve_lines(lines: list[dict], metric: str, protocol: dict) -> list[dict]:
    """`ganforge eval` lines of `metric` measured under `protocol`, one per step (the newest), by step."""
    key = json_key(protocol)
    by_step = {}
    for line in eval_lines(lines):
        if line.get("metric") == metric and isinstance(line.get("step"), int) and json_key(protocol_of(line)) == key:
            by_step[line["step"]] = line
    return [by_step[s] for s in sorted(by_step)]


def points_of(lines: list[dict]) -> list[Point]:
    out = []
    for line in lines:
        std = (line.get("extra") or {}).get("repeat_std")
        out.append(Point(line["step"], value_of(line), float(std) if isinstance(std, (int, float)) else None, repeats_of(line)))
    return out


def reference_of(line: dict) -> tuple[float, str] | None:
    """(value, legend) of the real-vs-real floor (or perfect-generator level) a line carries, if any."""
    extra = line.get("extra") or {}
    key, label = REFERENCE_EXTRAS.get(line.get("metric"), ("real_vs_real", "real vs real"))
    value = extra.get(key)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    n = extra.get("real_vs_real_n")
    return float(value), label + (f" (n={n})" if key == "real_vs_real" and n else "")


def describe_protocol(protocol: dict) -> str:
    """One line: 'n=100 vs 100 reals (test split), points (identity) e3b0c442, resize none, seed 0..1, mean ± sd
    of 2 seeds' (the seed part only when the protocol names its seed)."""
    parts = [f"n={protocol.get('n_gen')}" + (f" vs {protocol['n_ref']} reals" if protocol.get("n_ref") else "")
             + f" ({protocol.get('ref_split')} split)"]  # fmt: skip
    if protocol.get("extractor"):
        sha = protocol.get("extractor_weights_sha256") or ""
        parts.append(f"{protocol['extractor']}" + (f" {sha[:8]}" if sha else ""))
    parts.append(f"resize {protocol.get('resize') or 'none'}")
    if protocol.get("sampling"):
        parts.append(protocol["sampling"])
    if "seed" in protocol:  # a protocol compared across runs leaves the seeds out
        k = protocol.get("repeats", 1)
        parts.append(f"seed {protocol['seed']}" + (f"..{protocol['seed'] + k - 1}, mean ± sd of {k} seeds" if k > 1 else ""))
    return ", ".join(parts)


def plot_panels(panels: list[tuple[str, dict[str, list[Point]], tuple[float, str] | None]], path: str, title: str = "",
                note: str = "") -> str:  # fmt: skip
    """Write a PNG with one panel per (metric, {label: points}, reference line or None); returns the path.
    Repeated points get ± sd error bars; the reference is a dashed grey line."""
    # The object-oriented Figure needs no pyplot state and no display backend (Agg renders it).
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    cols = min(len(panels), 3)
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.6 * cols, 3.4 * rows + (0.3 if note else 0)), constrained_layout=True)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (metric, series, reference) in zip(axes, panels):
        for label, points in series.items():
            steps = [p.step for p in points]
            values = [p.value for p in points]
            errors = [p.std if p.std is not None and math.isfinite(p.std) else 0.0 for p in points]
            repeated = any(p.repeats > 1 for p in points)
            ax.errorbar(steps, values, yerr=errors if repeated else None, marker="o", markersize=3, capsize=3 if repeated else 0,
                        label=label)  # fmt: skip
        if not any(math.isfinite(p.value) for points in series.values() for p in points):
            ax.text(0.5, 0.5, "no finite score", ha="center", va="center", transform=ax.transAxes, color="#888888")
        elif reference is not None:
            ax.axhline(reference[0], color="grey", linestyle="--", linewidth=1, label=reference[1])
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    if note:  # below the panels, wrapped to the figure's width (about 16 characters an inch at this size)
        fig.supxlabel(textwrap.fill(note, int(16 * 4.6 * cols)), fontsize=7, color="#555555")
    tmp = f"{path}.tmp-{os.getpid()}.png"  # renamed into place: a report never embeds half a picture
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
    return path


def write_run_curves(run_dir: str, lines: list[dict], protocols: dict[str, dict]) -> list[str]:
    """metrics/curve-<metric>.png for each metric of `protocols` (name -> protocol) that has finite
    `ganforge eval` scores at two or more steps under it; returns the paths written."""
    written = []
    name = os.path.basename(os.path.normpath(run_dir))
    for metric, protocol in protocols.items():
        chosen = curve_lines(lines, metric, protocol)
        if sum(math.isfinite(value_of(line)) for line in chosen) < 2:  # a KL of inf at every step draws nothing
            continue
        path = os.path.join(metrics_dir(run_dir), curve_file(metric))
        reference = reference_of(chosen[-1])
        label = "mean ± sd" if protocol.get("repeats", 1) > 1 else metric
        plot_panels([(metric, {label: points_of(chosen)}, reference)], path, title=name,
                    note=describe_protocol(protocol))  # fmt: skip
        written.append(path)
    return written
