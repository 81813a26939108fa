"""Comparing runs (`ganforge compare`): one table of their `ganforge eval` scores, their curves on shared
axes, their latest samples side by side.

    runs = load_runs(["runs/00003-dcgan-mnist5k", "runs/00004-wgan-gp-mnist5k"])
    table = compare_runs(runs, metrics=["fid", "precision"], step=None, allow_mismatch=False)
    print(table.text()); table.markdown(); table.csv()

Scores are comparable only under one protocol: the same extractor and weights, resize, sample sizes and
reference split, on the same dataset. Runs of different datasets are refused; a protocol that differs is
refused too, naming what differs, unless the caller allows it (then the cells are flagged). In-training
scores (source 'train') are not compared: they draw their samples with the loop's own noise.
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field

import yaml

from ..errors import ConfigError, GanforgeError
from ..metrics.evaluate import metric_of_card
from ..metrics.records import eval_lines, json_key, protocol_of, read_metrics, repeats_of, value_of
from ..runtime.rundir import require_run_dir
from .metric_curves import Point, curve_lines, describe_protocol, plot_panels, points_of, reference_of
from .run_info import SAMPLE_PATTERN

# Protocol fields that may not differ between compared scores (records.protocol_of's, less the seed and
# the number of seeds: those change the draw, not what is measured).
VARYING = ("seed", "repeats")
FLAG = "*"


@dataclass
class RunScores:
    """One run's `ganforge eval` lines, and the step and line per metric chosen for the table."""

    run_dir: str
    label: str
    config: dict
    lines: list[dict]
    step: int | None = None
    cards: dict[str, dict] = field(default_factory=dict)
    flagged: dict[str, list[str]] = field(default_factory=dict)  # metric -> fields that differ from the first run

    @property
    def data(self) -> str:
        data = str(self.config.get("data", "?"))
        return os.path.normpath(os.path.expanduser(data)) if os.sep in data else data


def compared_protocol(line: dict) -> dict:
    return {k: v for k, v in protocol_of(line).items() if k not in VARYING}


def load_runs(run_dirs: list[str]) -> list[RunScores]:
    """Each run's config and `ganforge eval` lines; a run without any is an error saying to score it first."""
    if len(run_dirs) < 2:
        raise ConfigError("compare needs two or more runs")
    if len({os.path.realpath(d) for d in run_dirs}) < len(run_dirs):
        raise ConfigError("a run is named twice; name each run once")
    names = [os.path.basename(os.path.normpath(d)) for d in run_dirs]
    runs = []
    for run_dir, name in zip(run_dirs, names):
        require_run_dir(run_dir)
        with open(os.path.join(run_dir, "config.yaml")) as f:
            config = yaml.safe_load(f) or {}
        lines = read_metrics(run_dir)
        scored = eval_lines(lines)
        if not scored:
            trained = " (its in-training scores are not compared: they draw their samples differently)" if lines else ""
            raise GanforgeError(f"{run_dir} has no scores from `ganforge eval` yet{trained}: run `ganforge eval {run_dir}` "
                                f"(or `--ckpt all` for its curve) first")  # fmt: skip
        label = name if names.count(name) == 1 else os.path.normpath(run_dir)
        runs.append(RunScores(run_dir, label, config if isinstance(config, dict) else {}, scored))
    datasets = {r.data for r in runs}
    if len(datasets) > 1:
        which = ", ".join(f"{r.label}: {r.data}" for r in runs)
        raise ConfigError(f"the runs are of different datasets ({which}): their scores are against different real "
                          "data and cannot be compared")  # fmt: skip
    return runs


def card_names(runs: list[RunScores], asked: list[str] | None) -> list[str]:
    """The card names to show: those asked (a registered metric such as 'pr' stands for its cards), else
    every card the runs scored at their chosen steps, in first-seen order (per-class cards left out)."""
    seen = list(dict.fromkeys(line["metric"] for r in runs for line in r.lines if line.get("step") == r.step))
    if not asked:
        return [n for n in seen if n.count("/") < 2]
    out = []
    for name in asked:
        found = [n for n in seen if n == name] or [n for n in seen if metric_of_card(n) == name and n.count("/") < 2]
        if not found:
            raise ConfigError(f"no run has a '{name}' score at the compared steps; they have: {', '.join(seen)}")
        out += [n for n in found if n not in out]
    return out


def choose_steps(runs: list[RunScores], step: int | None, asked: list[str] | None) -> None:
    """Each run's step: `step` when given (every run must have scores there), else its latest scored one
    (of the asked metrics, when named)."""
    for r in runs:
        wanted = [line for line in r.lines if isinstance(line.get("step"), int)
                  and (not asked or line["metric"] in asked or metric_of_card(line["metric"]) in asked)]  # fmt: skip
        steps = sorted({line["step"] for line in wanted})
        if not steps:
            what = ",".join(asked or [])
            raise ConfigError(f"{r.run_dir} has no `ganforge eval` score of {what or 'any metric at a known step'}; "
                              f"score it with `ganforge eval {r.run_dir}{' --metrics ' + what if what else ''}`")  # fmt: skip
        if step is not None and step not in steps:
            raise ConfigError(f"{r.run_dir} has no scores at step {step} (its scored steps: {', '.join(map(str, steps))})")
        r.step = step if step is not None else steps[-1]


def choose_cards(runs: list[RunScores], metrics: list[str]) -> None:
    """Per metric, each run's line at its step: the newest of a protocol every run scored it under when there
    is one; else the newest under the first run's protocol; else its newest line."""
    for metric in metrics:
        candidates = {r.label: [line for line in r.lines if line["metric"] == metric and line["step"] == r.step] for r in runs}
        having = [c for c in candidates.values() if c]
        common = set.intersection(*({json_key(compared_protocol(line)) for line in c} for c in having)) if having else set()
        preferred = None
        for r in runs:
            lines = candidates[r.label]
            if not lines:
                continue
            keyed = [(json_key(compared_protocol(line)), line) for line in lines]
            chosen = [line for key, line in keyed if key in common] or [line for key, line in keyed if key == preferred] or lines
            r.cards[metric] = chosen[-1]
            preferred = preferred or json_key(compared_protocol(chosen[-1]))


def protocol_differences(runs: list[RunScores], metrics: list[str]) -> list[str]:
    """What differs between the runs' protocols, one phrase per group of metrics that differ alike
    ('fid, kid: n_gen 100 (a), 200 (b)'), flagging each run whose value differs from that of the first
    run with the metric."""
    out = []
    sizes = {r.label: r.config.get("image_size") for r in runs}
    if len(set(map(str, sizes.values()))) > 1:
        out.append("image_size " + ", ".join(f"{v} ({k})" for k, v in sizes.items()))
        for r in runs[1:]:
            if str(sizes[r.label]) != str(sizes[runs[0].label]):
                for metric in r.cards:
                    r.flagged.setdefault(metric, []).append("image_size")
    grouped: dict[str, list[str]] = {}
    for metric in metrics:
        having = [r for r in runs if metric in r.cards]
        protocols = {r.label: compared_protocol(r.cards[metric]) for r in having}
        phrases = []
        for key in protocols[having[0].label] if len(having) > 1 else ():
            values = {label: p.get(key) for label, p in protocols.items()}
            if len({json_key({"v": v}) for v in values.values()}) > 1:
                phrases.append(f"{key} " + ", ".join(f"{_shown(key, v)} ({label})" for label, v in values.items()))
                for r in having[1:]:
                    if values[r.label] != values[having[0].label]:
                        r.flagged.setdefault(metric, []).append(key)
        if phrases:
            grouped.setdefault("; ".join(phrases), []).append(metric)
    return out + [f"{', '.join(names)}: {text}" for text, names in grouped.items()]


def _shown(key: str, value) -> str:
    if key == "sampling":  # a phrase, whole: "G's own samples" or the rejection sampling's percentile
        return value or "G's own samples"
    text = str(value)
    return text[:12] + "…" if len(text) > 16 else text


@dataclass
class Comparison:
    runs: list[RunScores]
    metrics: list[str]
    differences: list[str]

    def cell(self, r: RunScores, metric: str) -> str:
        line = r.cards.get(metric)
        if line is None:
            return "-"
        text = f"{value_of(line):.4g}"
        k = repeats_of(line)
        if k > 1:
            text += f" ± {float(line['extra'].get('repeat_std', math.nan)):.2g} (K={k})"
        return text + (FLAG if metric in r.flagged else "")

    def rows(self) -> list[list[str]]:
        return [[r.label, str(r.step), *(self.cell(r, m) for m in self.metrics)] for r in self.runs]

    def header(self) -> list[str]:
        return ["run", "step", *self.metrics]

    def notes(self) -> list[str]:
        """The protocol each column was scored under (the first run's), then what differs, if anything."""
        out = [f"dataset: {self.runs[0].data}"]
        described: dict[str, list[str]] = {}  # one line per protocol, naming the metrics scored under it
        for metric in self.metrics:
            line = next((r.cards[metric] for r in self.runs if metric in r.cards), None)
            if line is not None:
                described.setdefault(describe_protocol(compared_protocol(line)), []).append(metric)
        out += [f"{', '.join(metrics)}: {text}" for text, metrics in described.items()]
        if any(repeats_of(r.cards[m]) > 1 for r in self.runs for m in r.cards):
            out.append("a ± b (K=k): the mean and standard deviation over k sampling seeds")
        if self.differences:
            out.append(f"{FLAG} the protocol differs from the first run's (--allow-mismatch): " + "; ".join(self.differences))
        return out

    def text(self) -> str:
        table = [self.header(), *self.rows()]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in table]
        return "\n".join([*lines, *self.notes()])

    def markdown(self) -> str:
        def row(cells):
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        lines = [row(self.header()), "|" + "---|" * len(self.header()), *(row(r) for r in self.rows())]
        return "\n".join([*lines, "", *(f"- {n}" for n in self.notes())]) + "\n"

    def csv(self) -> str:
        """One row per run: its value, sd and number of seeds per metric, and the fields flagged."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["run", "run_dir", "data", "step", *(f"{m}{s}" for m in self.metrics for s in ("", "_std", "_repeats")),
                         "protocol_differs"])  # fmt: skip
        for r in self.runs:
            cells = []
            for m in self.metrics:
                line = r.cards.get(m)
                if line is None:
                    cells += ["", "", ""]
                    continue
                std = (line.get("extra") or {}).get("repeat_std", "")
                cells += [repr(value_of(line)), "" if std == "" else repr(float(std)), repeats_of(line)]
            flags = "; ".join(f"{m}: {', '.join(f)}" for m, f in r.flagged.items())
            writer.writerow([r.label, r.run_dir, r.data, r.step, *cells, flags])
        return buf.getvalue()


def compare_runs(runs: list[RunScores], metrics: list[str] | None, step: int | None, allow_mismatch: bool) -> Comparison:
    """The table of `runs` (from load_runs): ConfigError on a protocol mismatch unless allowed."""
    scored = list(dict.fromkeys(line["metric"] for r in runs for line in r.lines))
    unknown = [m for m in metrics or [] if not any(m in (name, metric_of_card(name)) for name in scored)]
    if unknown:
        raise ConfigError(f"no run has a score named {', '.join(unknown)}; they have: {', '.join(scored)}")
    choose_steps(runs, step, metrics)
    names = card_names(runs, metrics)
    choose_cards(runs, names)
    differences = protocol_differences(runs, names)
    if differences and not allow_mismatch:
        alike = "`ganforge eval` (--no-drs scores a rejection-sampled run on G's own samples)" if any(
            "sampling" in flags for r in runs for flags in r.flagged.values()) else "`ganforge eval`"  # fmt: skip
        raise ConfigError("the runs were scored under different protocols: " + "; ".join(differences)
                          + f". Score them alike with {alike}, or pass --allow-mismatch to compare anyway (flagged)")  # fmt: skip
    return Comparison(runs, names, differences)


def plot_curves(comparison: Comparison, path: str) -> str:
    """Every run's curve of each metric on shared axes (one panel per metric), each under the protocol of
    its table cell; the first run's real-vs-real floor dashed."""
    panels = []
    for metric in comparison.metrics:
        series: dict[str, list[Point]] = {}
        reference = None
        for r in comparison.runs:
            line = r.cards.get(metric)
            if line is None:
                continue
            chosen = curve_lines(r.lines, metric, protocol_of(line))
            series[r.label] = points_of(chosen)
            reference = reference or reference_of(line)
        panels.append((metric, series, reference))
    return plot_panels(panels, path, title="compared runs")


def latest_grid(run_dir: str, step: int | None) -> tuple[int, str] | None:
    """(step, path) of the run's sample grid at `step` when saved, else its latest one; None without grids."""
    folder = os.path.join(run_dir, "samples")
    names = os.listdir(folder) if os.path.isdir(folder) else []
    grids = sorted((int(m.group(1)), os.path.join(folder, n)) for n in names if (m := SAMPLE_PATTERN.match(n)))
    at_step = [g for g in grids if g[0] == step]
    return (at_step or grids[-1:] or [None])[0]


def samples_side_by_side(runs: list[RunScores], path: str) -> str | None:
    """A PNG of each run's sample grid (at its compared step when saved, else its latest) side by side;
    None (nothing written) when no run has a grid."""
    from matplotlib.figure import Figure
    from PIL import Image

    grids = [(r, latest_grid(r.run_dir, r.step)) for r in runs]
    if not any(g for _, g in grids):
        return None
    fig = Figure(figsize=(3.2 * len(grids), 3.6), constrained_layout=True)
    for ax, (r, grid) in zip(fig.subplots(1, len(grids), squeeze=False)[0], grids):
        ax.set_axis_off()
        if grid is None:
            ax.text(0.5, 0.5, "no sample grid", ha="center", va="center")
            ax.set_title(r.label, fontsize=9)
            continue
        with Image.open(grid[1]) as image:
            pixels = image.convert("RGB")
        ax.imshow(pixels, interpolation="nearest")
        ax.set_title(f"{r.label}\nstep {grid[0]}", fontsize=9)
    fig.savefig(path, dpi=100)
    return path
