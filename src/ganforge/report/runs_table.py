"""`ganforge runs [DIR]`: a table of runs, and an HTML index page linking each run's report."""
from __future__ import annotations

import html
import os
import time

from ..errors import GanforgeError
from .run_info import RunInfo, find_runs, load_run_info

COLUMNS = ("run", "preset", "dataset", "steps", "best metric", "health", "status")


def _best(info: RunInfo) -> str:
    card = info.best_metric()
    if card is None:
        return "-"
    value = card["value"]
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{card['metric']} {text}" + (f" @{card['step']}" if card.get("step") is not None else "")


def run_rows(root: str, now: float | None = None) -> list[dict]:
    """One dict per run under root (COLUMNS, plus 'path'); an error names a folder holding no run."""
    if not os.path.isdir(root):
        raise GanforgeError(f"no such folder: {root}")
    paths = find_runs(root)
    if not paths:
        raise GanforgeError(f"{root} holds no ganforge runs (a run folder has a config.yaml; train one with `ganforge train`)")
    now = time.time() if now is None else now
    rows = []
    for path in paths:
        info = load_run_info(path)
        rows.append({
            "run": info.name, "preset": str(info.config.get("preset", "?")), "dataset": str(info.config.get("data", "?")),
            "steps": f"{info.steps_done}/{info.steps_total}", "best metric": _best(info), "health": info.health or "-",
            "status": info.status(now), "path": path,
        })  # fmt: skip
    return rows


def format_table(rows: list[dict]) -> str:
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return "\n".join(lines)


def write_index(rows: list[dict], out: str, write_reports: bool = True) -> str:
    """An index.html with one row per run, its name linking RUN/report.html (written first, when
    write_reports) by a path relative to the index, so the folder can be moved or zipped."""
    from .html_report import CSS, write_report

    esc = html.escape
    folder = os.path.dirname(os.path.abspath(out))
    body = []
    for r in rows:
        report = os.path.join(r["path"], "report.html")
        if write_reports:
            write_report(r["path"], report)
        cells = [
            f'<a href="{esc(os.path.relpath(os.path.abspath(report), folder))}">{esc(r["run"])}</a>'
            if os.path.exists(report) else esc(r["run"])
        ] + [esc(r[c]) if c != "status" else f'<span class="status-{esc(r[c].split()[0])}">{esc(r[c])}</span>' for c in COLUMNS[1:]]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>ganforge runs</title><style>{CSS}</style></head>'
        f'<body><h1>ganforge runs</h1><table class="grid" id="runs"><tr>{head}</tr>{"".join(body)}</table></body></html>'
    )
    tmp = f"{out}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, out)
    return out
