"""`ganforge report RUN_DIR`: one self-contained HTML file that shows a run.

Self-contained means it opens from disk with no network: images are base64 data URIs, charts are inline
SVG, style and script are inline, and no http(s) address appears in the page. Sections (each an element
with the id in brackets, present even when there is nothing to show yet, saying so):
  summary [summary]         status, steps, preset, data, paper
  configuration [config]    the resolved config.yaml and the preset's paper and notes
  curves [curves]           losses, D(x) / D(G(z)) with healthy ranges shaded, learning rates
  samples [samples]         the real images and the fixed-noise grid at every saved step, on a slider
                            (translation runs: the A->B translations of fixed test images of A)
  metrics [metrics]         each metric over training, and the protocol card of its latest value
  evaluation curves [eval-curves]  `ganforge eval`'s plots of each metric against the step, one protocol
                            each, with ± sd bars where repeated and the real-vs-real floor (metrics/curve-*.png)
  diagnoses [diagnoses]     the health checks the run raised and their advice
  memorization [memorization]  the nearest-training-image pairs, when measured
  translation [translation] A -> B -> A triplets, only for translation runs
"""
from __future__ import annotations

import base64
import html
import os
import time

import yaml

from .run_info import RunInfo, load_run_info
from .svg import PALETTE, line_chart

# At most this many sample grids are embedded (evenly spaced, always the last): a 50k-step run that
# saved a grid every 500 steps would otherwise make a 100-frame, many-megabyte page.
MAX_FRAMES = 40

# Healthy ranges shaded on the curves of probability-output losses (minimax, non-saturating). At the
# game's equilibrium D(x) = D(G(z)) = 0.5; a D that wins outright drives D(x) -> 1 and D(G(z)) -> 0, and
# G's gradient vanishes. The D(x)/D(G(z)) bands are the usual ranges of a DCGAN that trains well; the
# loss bands are the health checks' own (ganforge.diagnose.ranges, the PyTorch DCGAN tutorial's).
D_OUTPUT_BANDS = {
    "D(x)": (0.5, 0.9, "healthy D(x): 0.5-0.9"),
    "D(G(z))": (0.1, 0.5, "healthy D(G(z)): 0.1-0.5"),
}
TUTORIAL_LOSS_BANDS = {"Loss/D": (0.5, 0.8), "Loss/G": (0.5, 2.0)}


def loss_bands() -> dict[str, tuple]:
    try:
        from ..diagnose.ranges import TYPICAL as bands
    except ImportError:  # a checkout without the health checks
        bands = TUTORIAL_LOSS_BANDS
    return {k: (lo, hi, f"typical {k} of a healthy run: {lo}-{hi}") for k, (lo, hi) in bands.items()}


ESC = html.escape

# Algorithms whose sample grids are translations of fixed test images, not draws from fixed noise.
TRANSLATION_ALGORITHMS = ("cyclegan", "pix2pix")


def number(value) -> str:
    """A value as the page prints it: floats to 4 significant digits (7.163000808426133 -> 7.163),
    everything else (ints, strings such as 'nan' in a card) as it is."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def data_uri(path: str) -> str | None:
    """A PNG/GIF file as a data: URI, or None when it cannot be read (a grid being written)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if not raw:
        return None
    mime = "image/gif" if path.lower().endswith(".gif") else "image/png"
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _probabilistic(loss_name) -> bool | None:
    from ..losses import get_loss

    try:
        return bool(get_loss(str(loss_name)).probabilistic)
    except Exception:  # an unknown or renamed loss in an old run: shade nothing
        return None


def _series(stats: list[dict], key: str) -> list[tuple[float, float]]:
    return [(r["step"], r[key]) for r in stats if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool) and "step" in r]


def _numeric_keys(stats: list[dict]) -> list[str]:
    keys: dict[str, None] = {}
    for r in stats:
        for k, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.setdefault(k, None)
    return list(keys)


def _section(id_: str, title: str, body: str) -> str:
    return f'<section id="{id_}"><h2>{ESC(title)}</h2>{body}</section>'


def _empty(text: str) -> str:
    return f'<p class="empty">{ESC(text)}</p>'


def _summary(info: RunInfo, status: str) -> str:
    c = info.config
    rows = [
        ("status", status), ("steps", f"{info.steps_done} of {info.steps_total}"),
        ("preset", c.get("preset", "?")), ("data", c.get("data", "?")), ("loss", c.get("loss", "?")),
        ("model", (c.get("model") or {}).get("name", "?")),
        ("latest checkpoint", f"step {info.checkpoint_step}" if info.checkpoint_step is not None else "none yet"),
        ("health", info.health or "no diagnosis logged"),
    ]  # fmt: skip
    cells = "".join(f"<tr><th>{ESC(k)}</th><td>{ESC(number(v))}</td></tr>" for k, v in rows)
    return _section("summary", "Summary", f'<table class="kv">{cells}</table>')


def _config(info: RunInfo) -> str:
    c = info.config
    paper = c.get("paper") or "no paper named (a custom configuration)"
    notes = f"<p><b>Notes:</b> {ESC(str(c['notes']))}</p>" if c.get("notes") else ""
    text = yaml.safe_dump(c, sort_keys=False) if c else "config.yaml could not be read"
    body = f'<p class="paper"><b>Paper:</b> {ESC(str(paper))}</p>{notes}<details><summary>config.yaml (the resolved configuration)</summary><pre>{ESC(text)}</pre></details>'
    return _section("config", "Configuration", body)


def _curves(info: RunInfo) -> str:
    stats = info.stats
    if not stats:
        return _section("curves", "Curves", _empty("no statistics yet: stats.jsonl is empty or missing (the first logging tick comes after log_every steps)"))
    probabilistic = _probabilistic(info.config.get("loss", ""))
    bands = {**D_OUTPUT_BANDS, **loss_bands()} if probabilistic else {}
    keys = _numeric_keys(stats)
    charts = [line_chart({k: _series(stats, k)}, k, bands=[bands[k]] if k in bands else ()) for k in ("Loss/D", "Loss/G") if k in keys]
    other = [k for k in keys if (k.startswith("Loss/") or k == "Wasserstein") and k not in ("Loss/D", "Loss/G")]
    if other:
        charts.append(line_chart({k: _series(stats, k) for k in other}, "Regularizers and estimates"))
    d_keys = [k for k in ("D(x)", "D(G(z))") if k in keys]
    if d_keys:
        title = "D(x) and D(G(z))" + ("" if probabilistic else " (raw critic scores: no range to shade)")
        # Each band in its series' colour: D(x)'s and D(G(z))'s ranges meet at 0.5.
        d_bands = [(*bands[k], PALETTE[i]) for i, k in enumerate(d_keys) if k in bands]
        charts.append(line_chart({k: _series(stats, k) for k in d_keys}, title, bands=d_bands))
    lr_keys = [k for k in keys if k.startswith("LR/")]
    if lr_keys:
        charts.append(line_chart({k: _series(stats, k) for k in lr_keys}, "Learning rates"))
    if "it/s" in keys:
        charts.append(line_chart({"it/s": _series(stats, "it/s")}, "Speed (generator steps per second)"))
    legend = ""
    if bands:
        legend = '<p class="note">Shaded bands: the healthy ranges of a probability-output discriminator (hover for the range).</p>'
    return _section("curves", "Curves", legend + '<div class="charts">' + "".join(charts) + "</div>")


def _pick_frames(samples: list[tuple[int, str]], limit: int = MAX_FRAMES) -> list[tuple[int, str]]:
    if len(samples) <= limit:
        return samples
    idx = sorted({round(i * (len(samples) - 1) / (limit - 1)) for i in range(limit)})
    return [samples[i] for i in idx]


def _samples(info: RunInfo) -> str:
    parts = []
    translation = info.config.get("algorithm") in TRANSLATION_ALGORITHMS
    if info.reals and (uri := data_uri(info.reals)):
        caption = "real images: the fixed test images of domain A, then of domain B" if translation else "real images"
        parts.append(f'<figure class="reals"><img alt="real images" src="{uri}"><figcaption>{caption}</figcaption></figure>')
    frames = [(step, uri) for step, path in _pick_frames(info.samples) if (uri := data_uri(path))]
    if not frames:
        parts.append(_empty("no sample grid yet (the first comes after sample_every steps)"))
        return _section("samples", "Samples", "".join(parts))
    figures = "".join(
        f'<figure class="frame{" active" if i == len(frames) - 1 else ""}" data-step="{step}">'
        f'<img alt="samples at step {step}" src="{uri}"><figcaption>step {step}</figcaption></figure>'
        for i, (step, uri) in enumerate(frames)
    )
    skipped = len(info.samples) - len(frames)
    note = f'<p class="note">{skipped} of {len(info.samples)} grids left out to keep the page small.</p>' if skipped > 0 else ""
    slider = (
        f'<div class="timeline"><button type="button" id="play">play</button>'
        f'<input type="range" id="sample-slider" min="0" max="{len(frames) - 1}" value="{len(frames) - 1}" step="1">'
        f'<span id="sample-step">step {frames[-1][0]}</span></div>'
    )
    what = (
        "The same test images of domain A, translated A\u2192B, through training"
        if translation
        else "The same fixed noise, through training"
    )
    parts.append(f'<div class="evolution"><p>{what}:</p>{slider}<div class="frames">{figures}</div>{note}</div>')
    return _section("samples", "Samples", "".join(parts))


def _card_table(card: dict) -> str:
    keys = ("metric", "value", "step", "n_gen", "n_ref", "ref_split", "feature_space", "extractor", "extractor_weights_sha256", "input_size", "resize", "seed", "source", "checkpoint", "time")
    rows = "".join(f"<tr><th>{k}</th><td>{ESC(number(card.get(k)))}</td></tr>" for k in keys if card.get(k) is not None)
    extra = card.get("extra") or {}
    if isinstance(extra, dict) and "repeats" in extra:  # the value is a mean over sampling seeds
        rows += f"<tr><th>repeats</th><td>mean ± {ESC(number(extra.get('repeat_std')))} over {ESC(number(extra['repeats']))} seeds</td></tr>"
    warnings = "".join(f"<li>{ESC(str(w))}</li>" for w in card.get("warnings") or [])
    warn = f'<ul class="warnings">{warnings}</ul>' if warnings else ""
    return f'<div class="card"><table class="kv">{rows}</table>{warn}</div>'


def _metrics(info: RunInfo) -> str:
    if not info.metrics:
        return _section("metrics", "Metrics", _empty("no metrics yet (metrics/*.jsonl): evaluate the run to add them"))
    from ..metrics.features import feature_space_of

    # Scores of one metric in different feature spaces are different numbers: one chart per space.
    spaces: dict[str, set] = {}
    for card in info.metrics:
        spaces.setdefault(str(card["metric"]), set()).add(feature_space_of(card))
    by_name: dict[str, list[dict]] = {}
    for card in info.metrics:
        name = str(card["metric"])
        if len(spaces[name]) > 1:
            name = f"{name} ({feature_space_of(card) or 'no features'} space)"
        by_name.setdefault(name, []).append(card)
    parts = []
    for name, cards in by_name.items():
        points = [(c["step"], float(c["value"])) for c in cards if isinstance(c.get("step"), (int, float)) and isinstance(c.get("value"), (int, float))]
        chart = line_chart({name: points}, f"{name} over training") if len(points) > 1 else ""
        parts.append(f'<div class="metric"><h3>{ESC(name)}</h3>{chart}<p>Protocol card of the latest value:</p>{_card_table(cards[-1])}</div>')
    return _section("metrics", "Metrics", "".join(parts))


def _eval_curves(info: RunInfo) -> str:
    figures = []
    for path in info.curve_images:
        if uri := data_uri(path):
            name = os.path.basename(path)
            figures.append(f'<figure class="curve"><img alt="{ESC(name)}" src="{uri}"><figcaption>{ESC(name)}</figcaption></figure>')
    if not figures:
        return _section("eval-curves", "Evaluation curves", _empty(
            "no curves yet: `ganforge eval RUN --ckpt all` scores every kept checkpoint and draws each metric "
            "against the step (metrics/curve-<metric>.png)"))  # fmt: skip
    note = ('<p class="note">Drawn by <code>ganforge eval</code> from its scores under one protocol (below each '
            "plot); error bars are ± the standard deviation over sampling seeds (--repeats), the dashed line what real "
            "data scores at the same sample size.</p>")  # fmt: skip
    return _section("eval-curves", "Evaluation curves", note + "".join(figures))


def _diagnoses(info: RunInfo) -> str:
    """The diagnoses in stats.jsonl: each entry of a tick's 'diagnoses' list (ganforge.diagnose's
    Diagnosis.to_dict(): name, severity, message, advice) once, with the ticks its 'health' label lasted."""
    raised: list[dict] = []
    label_ticks: dict[str, int] = {}
    for r in info.stats:
        for d in r.get("diagnoses") or []:
            raised.append(d if isinstance(d, dict) else {"name": str(d), "step": r.get("step")})
        if r.get("health"):
            label_ticks[str(r["health"])] = label_ticks.get(str(r["health"]), 0) + 1
    if not raised and not label_ticks:
        return _section("diagnoses", "Diagnoses", _empty("no diagnosis raised" if info.stats else "no statistics yet"))
    rows = []
    for d in raised:
        advice = d.get("advice") or []
        advice = advice if isinstance(advice, list) else [advice]
        items = "".join(f"<li>{ESC(str(a))}</li>" for a in advice)
        rows.append(
            f'<tr class="severity-{ESC(str(d.get("severity", "")))}"><td>{ESC(number(d.get("step", "")))}</td>'
            f'<td>{ESC(str(d.get("name", "?")))}</td><td>{ESC(str(d.get("severity", "")))}</td>'
            f'<td>{ESC(str(d.get("message", "")))}</td><td><ul>{items}</ul></td></tr>'
        )
    table = (
        '<table class="grid"><tr><th>step</th><th>diagnosis</th><th>severity</th><th>what it saw</th><th>advice</th></tr>'
        + "".join(rows) + "</table>" if rows else ""
    )
    labels = ", ".join(f"{ESC(k)} ({n} ticks)" for k, n in label_ticks.items())
    lasted = f'<p class="note">Health labels over training: {labels}</p>' if labels else ""
    return _section("diagnoses", "Diagnoses", table + lasted)


def _image_section(id_: str, title: str, path: str | None, caption: str, missing: str) -> str:
    uri = data_uri(path) if path else None
    if not uri:
        return _section(id_, title, _empty(missing))
    return _section(id_, title, f'<figure><img alt="{ESC(title)}" src="{uri}"><figcaption>{ESC(caption)}</figcaption></figure>')


CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.5em}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table.kv th{text-align:left;padding-right:16px;font-weight:600}table.kv td,table.kv th{vertical-align:top}
table.grid{border-collapse:collapse}table.grid td,table.grid th{border:1px solid #ddd;padding:4px 8px}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:420px}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{background:#fff;border:1px solid #eee}
.chart-title{font-weight:600;font-size:13px}.tick{font-size:10px;fill:#555}.legend{font-size:11px}
.empty{color:#888;font-style:italic}.note{color:#666;font-size:.9em}
figure{display:inline-block;margin:8px}.reals img{width:320px}.curve img{width:460px;image-rendering:auto}img{image-rendering:pixelated;min-width:128px;border:1px solid #ccc}
.frames .frame{display:none}.frames .frame.active{display:inline-block}
.frames img{width:320px}.timeline{display:flex;gap:12px;align-items:center}#sample-slider{width:360px}
.card{border:1px solid #ddd;padding:8px;margin:8px 0;display:inline-block}.warnings{color:#a15c00}
.status-running{color:#1f77b4}.status-finished{color:#2ca02c}.status-stopped,.status-failed{color:#d62728}
"""

# The slider shows one embedded grid at a time; "play" steps through them. No network, no library.
SCRIPT = """
(function(){
  var slider=document.getElementById('sample-slider'); if(!slider) return;
  var frames=document.querySelectorAll('.frames .frame'), label=document.getElementById('sample-step');
  function show(i){frames.forEach(function(f,j){f.classList.toggle('active',j==i);});
    label.textContent='step '+frames[i].dataset.step; slider.value=i;}
  slider.addEventListener('input',function(){show(+slider.value);});
  var timer=null, play=document.getElementById('play');
  play.addEventListener('click',function(){
    if(timer){clearInterval(timer);timer=null;play.textContent='play';return;}
    play.textContent='pause';
    timer=setInterval(function(){show((+slider.value+1)%frames.length);},400);});
})();
"""


def render_report(info: RunInfo, now: float | None = None) -> str:
    """The report of a run as one HTML string."""
    status = info.status(now)
    sections = [
        _summary(info, status), _config(info), _curves(info), _samples(info), _metrics(info), _eval_curves(info),
        _diagnoses(info),
        _image_section("memorization", "Memorization", info.extra_images.get("memorization"),
                       "generated images beside their nearest training images",
                       "not measured (`ganforge eval` with the memorization metric writes metrics/memorization-<step>.png)"),
    ]  # fmt: skip
    if "triplets" in info.extra_images:
        sections.append(_image_section("translation", "Translation A \u2192 B \u2192 A", info.extra_images["triplets"], "input A, translated B, reconstructed A", ""))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    title = f"{info.name}: ganforge run report"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{ESC(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>'
        f'<h1>{ESC(info.name)} <span class="status-{status.split()[0]}">({status})</span></h1>'
        f'<p class="note">Report written {stamp} from {ESC(os.path.abspath(info.run_dir))}.</p>'
        + "".join(sections)
        + f"<script>{SCRIPT}</script></body></html>"
    )


def write_report(run_dir: str, out: str | None = None, now: float | None = None) -> str:
    """Write run_dir's report (default RUN_DIR/report.html) atomically, so a browser refreshing it
    during training never reads half a file. Returns the path."""
    info = load_run_info(run_dir)
    out = out or os.path.join(run_dir, "report.html")
    text = render_report(info, now)
    tmp = f"{out}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out)
    return out
