"""Line charts as inline SVG: no plotting library, no files, nothing for the browser to fetch.

The report's curves are a few hundred points each; hand-written SVG keeps them crisp at any zoom,
lets the HTML stay one self-contained file, and costs no matplotlib import at report time.
"""
from __future__ import annotations

import html
import math

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _finite(points):
    return [(float(x), float(y)) for x, y in points if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round tick values covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.1e}"
    return f"{v:.4g}"


def line_chart(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    bands: tuple = (),
    x_label: str = "step",
    width: int = 520,
    height: int = 240,
) -> str:
    """An SVG chart of named (x, y) series; `bands` are (low, high, label[, colour]) y-ranges shaded
    (healthy ranges; green unless a colour is given). Non-finite points are dropped; a chart with no
    points says so."""
    series = {name: _finite(pts) for name, pts in series.items()}
    series = {name: pts for name, pts in series.items() if pts}
    esc = html.escape
    left, right, top, bottom = 56, 12, 28, 40
    pw, ph = width - left - right, height - top - bottom
    parts = [
        f'<svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
        f'<text x="{left}" y="18" class="chart-title">{esc(title)}</text>',
    ]
    if not series:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">no data yet</text></svg>')
        return "".join(parts)
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    band_ys = [v for band in bands for v in band[:2]]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys + band_ys), max(ys + band_ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pad = (y1 - y0) * 0.05 or abs(y0) * 0.1 or 1.0
    y0, y1 = y0 - pad, y1 + pad

    def sx(x):
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y):
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    for lo, hi, label, *color in bands:
        parts.append(
            f'<rect class="band" x="{left}" y="{sy(hi):.1f}" width="{pw}" height="{max(sy(lo) - sy(hi), 0.5):.1f}" '
            f'fill="{color[0] if color else "#2ca02c"}" fill-opacity="0.12"><title>{esc(label)}</title></rect>'
        )
    for t in _ticks(y0, y1):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" text-anchor="end" class="tick">{_fmt(t)}</text>')
    for t in _ticks(x0, x1):
        parts.append(f'<text x="{sx(t):.1f}" y="{top + ph + 16}" text-anchor="middle" class="tick">{_fmt(t)}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" class="tick">{esc(x_label)}</text>')
    legend_right = left + pw  # legends in the title row, right-aligned, so no curve hides them
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        if len(pts) == 1:
            parts.append(f'<circle cx="{sx(pts[0][0]):.1f}" cy="{sy(pts[0][1]):.1f}" r="3" fill="{color}"/>')
        else:
            parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        parts.append(f'<text x="{legend_right:.0f}" y="18" text-anchor="end" fill="{color}" class="legend">{esc(name)}</text>')
        legend_right -= 7 * len(name) + 14
    parts.append("</svg>")
    return "".join(parts)
