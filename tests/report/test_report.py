"""Seeing training: the HTML report (in a real headless Chromium), TensorBoard events, the runs table,
latent walks, and the messages for folders that are not runs (yet)."""
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from ganforge.cli import main
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.report.latent_walk import interpolate_noise, latent_walk
from ganforge.monitors.seeing import ReportMonitor, StatusMonitor, seeing_monitors
from ganforge.report.run_info import RUNNING_WINDOW_S, load_run_info
from ganforge.runs import generate, load_run

sys.path.insert(0, os.path.dirname(__file__))
from browser import chromium_missing_reason, load_page  # noqa: E402

TINY = ["--preset", "dcgan-demo", "--data", "fake", "--image-size", "16", "--batch-size", "8", "--steps", "4", "--no-progress",
        "channels=1", "n_samples=4", "model.g.width=8", "model.d.width=8", "log_every=2", "sample_every=2",
        "ckpt_every=2"]  # fmt: skip
SECTIONS = ["summary", "config", "curves", "samples", "metrics", "eval-curves", "diagnoses", "memorization"]
PAGE_PROBE = """JSON.stringify({
  sections: [...document.querySelectorAll('section')].map(s => s.id),
  images: [...document.images].map(i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt})),
  curves: document.querySelectorAll('#curves svg polyline').length,
  bands: document.querySelectorAll('#curves svg rect.band').length,
  paper: document.querySelector('#config .paper').textContent,
})"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One tiny finished run, trained through the CLI: TensorBoard on, report rewritten every 2 steps.
    Two cards and a memorization picture in metrics/ stand in for `ganforge eval`, so the report and
    the table have metrics."""
    out = tmp_path_factory.mktemp("runs") / "00000-dcgan-demo-fake"
    assert main(["train", *TINY, "--tensorboard", "--report-every", "2", "--out", str(out)]) == 0
    (out / "metrics").mkdir()
    cards = [{"metric": "fid", "value": v, "n_gen": 100, "n_ref": 100, "step": s, "source": "train", "warnings": ["too few samples"]} for s, v in ((2, 90.0), (4, 80.5))]
    (out / "metrics" / "metrics.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cards))
    shutil.copy(out / "samples" / "reals.png", out / "metrics" / "memorization-0000004.png")
    return out


def fake_run(folder, steps=10, stats=True, **config):
    """A run folder as an early or crashed run leaves it: config.yaml, maybe stats, no checkpoint."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"preset": "gan", "data": "ring8", "loss": "nonsaturating", "steps": steps, **config}))
    if stats:
        (folder / "stats.jsonl").write_text(json.dumps({"step": 2, "Loss/D": 1.2, "Loss/G": 0.8, "D(x)": 0.6, "D(G(z))": 0.4}) + "\n")
    return folder


# ------------------------------------------------------------------ the report


def test_report_is_self_contained_with_every_section(run_dir, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(run_dir), "-o", str(out)]) == 0
    assert f"report: {out}" in capsys.readouterr().out
    text = out.read_text()
    assert not re.search(r"https?://", text), "the page names a network address"
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text), "the page loads a file beside it"
    for section in SECTIONS:
        assert f'<section id="{section}">' in text
    # Embedded as data URIs: the reals, both saved grids (steps 2 and 4), the memorization pairs.
    assert text.count('src="data:image/png;base64,') == 4
    assert 'data-step="2"' in text and 'data-step="4"' in text
    assert "Radford" in text and "fid" in text and "too few samples" in text


def test_report_renders_in_chromium_with_no_network_and_no_broken_image(run_dir, tmp_path):
    if reason := chromium_missing_reason():
        pytest.skip(reason)
    out = tmp_path / "report.html"
    assert main(["report", str(run_dir), "-o", str(out)]) == 0
    value, requested, screenshot = load_page(str(out), PAGE_PROBE)
    page = json.loads(value)
    assert page["sections"] == SECTIONS
    assert len(page["images"]) == 4 and all(i["ok"] for i in page["images"]), page["images"]
    assert page["curves"] >= 4  # Loss/D, Loss/G, D(x), D(G(z)), LR/G, LR/D, it/s
    assert page["bands"] == 4  # healthy ranges of Loss/D, Loss/G, D(x), D(G(z)) (BCE loss)
    assert "Radford" in page["paper"]
    assert all(u.startswith(("file://", "data:")) for u in requested), requested
    image = np.asarray(Image.open(io.BytesIO(screenshot)).convert("L"))
    assert image.shape[0] > 100 and image.std() > 10, "the screenshot is blank"


def test_browser_check_catches_network_loads_and_broken_images(tmp_path):
    """The check above can fail: a page loading from the network is seen doing it, its image is broken."""
    if reason := chromium_missing_reason():
        pytest.skip(reason)
    page = tmp_path / "bad.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    value, requested, _ = load_page(str(page), "JSON.stringify([...document.images].map(i => i.naturalWidth))")
    assert json.loads(value) == [0]
    assert "http://127.0.0.1:9/x.png" in requested


def test_report_refreshes_during_training(run_dir):
    """report_every=2: the monitor wrote RUN/report.html, the last time at the end (step 4)."""
    text = (run_dir / "report.html").read_text()
    assert "4 of 4" in text and 'data-step="4"' in text


def test_report_of_run_without_checkpoints_renders_what_exists(tmp_path, capsys):
    run = fake_run(tmp_path / "early", stats=False)
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "has no statistics, sample grids, checkpoints yet" in out
    text = (run / "report.html").read_text()
    assert "no statistics yet" in text and "no sample grid yet" in text and "none yet" in text
    for section in SECTIONS:
        assert f'<section id="{section}">' in text


def test_not_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a ganforge run (no config.yaml)" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["runs", str(tmp_path)]) == 2
    assert "holds no ganforge runs" in capsys.readouterr().err
    run = fake_run(tmp_path / "early")
    assert main(["interpolate", str(run), "-o", str(tmp_path / "w.png")]) == 2
    assert "has no checkpoint 'latest' yet" in capsys.readouterr().err


# ------------------------------------------------------------------ TensorBoard


def scalars(event_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(event_dir), size_guidance={"scalars": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc, [(e.step, e.value) for e in acc.Scalars(tag)]


def test_tensorboard_events_hold_scalars_images_and_histograms(run_dir):
    acc, loss_d = scalars(run_dir / "tensorboard", "Loss/D")
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    for key in ("Loss/D", "Loss/G", "D(x)", "D(G(z))", "LR/G", "LR/D"):
        logged = [(e.step, e.value) for e in acc.Scalars(key)]
        assert [s for s, _ in logged] == [2, 4]
        np.testing.assert_allclose([v for _, v in logged], [r[key] for r in stats], rtol=1e-6)
    tags = acc.Tags()
    assert {"Samples", "Reals"} <= set(tags["images"])
    assert [e.step for e in acc.Images("Samples")] == [2, 4]
    assert {"D/logits_real", "D/logits_fake"} <= set(tags["histograms"])
    assert acc.Histograms("D/logits_fake")[0].histogram_value.num == 4  # n_samples fixed-noise images


def test_resume_keeps_one_curve_and_tensorboard_can_be_turned_off(run_dir, tmp_path):
    resumed = tmp_path / "resumed"
    shutil.copytree(run_dir, resumed)
    assert main(["train", "--resume", str(resumed), "--steps", "6", "--no-progress"]) == 0
    _, loss_d = scalars(resumed / "tensorboard", "Loss/D")
    assert [s for s, _ in loss_d] == [2, 4, 6]
    cfg = resolve_config("dcgan-demo", [{"tensorboard": False}])
    assert [type(m) for m in seeing_monitors(cfg)] == [StatusMonitor]


def test_tensorboard_asked_for_but_missing_is_a_clear_error(monkeypatch):
    import ganforge.monitors.seeing as monitors

    monkeypatch.setattr(monitors, "tensorboard_available", lambda: False)
    assert [type(m) for m in seeing_monitors(resolve_config("dcgan-demo", [{"report_every": 5}]))] == [StatusMonitor, ReportMonitor]
    with pytest.raises(ConfigError, match=r"pip install 'ganforge\[tensorboard\]'"):
        seeing_monitors(resolve_config("dcgan-demo", [{"tensorboard": True}]))


# ------------------------------------------------------------------ runs table


def test_runs_lists_each_run_with_its_status(run_dir, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(run_dir, root / "00000-finished")
    # Crashed: status.json names a process of this host that has ended.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    crashed = fake_run(root / "00001-crashed")
    (crashed / "status.json").write_text(json.dumps({"state": "running", "pid": dead.pid, "host": socket.gethostname()}))
    # Running: status.json names a live process (this one).
    running = fake_run(root / "00002-running")
    (running / "status.json").write_text(json.dumps({"state": "running", "pid": os.getpid(), "host": socket.gethostname()}))
    # No status.json (trained through the Python API): fresh stats = running, stale stats = crashed.
    fake_run(root / "00003-fresh")
    stale = fake_run(root / "00004-stale")
    old = time.time() - RUNNING_WINDOW_S - 60
    for name in ("config.yaml", "stats.jsonl"):
        os.utime(stale / name, (old, old))

    assert main(["runs", str(root), "--html"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "preset", "dataset", "steps", "best", "metric", "health", "status"]
    table = {line.split()[0]: line for line in lines[1:] if line.startswith("0000")}
    status = {name: line.rsplit("  ", 1)[-1].split()[0] for name, line in table.items()}  # the last column's first word
    assert status == {"00000-finished": "finished", "00001-crashed": "stopped", "00002-running": "running",
                      "00003-fresh": "running", "00004-stale": "stopped"}  # fmt: skip
    assert "stopped (no heartbeat since" in table["00001-crashed"] and "stopped (no change since" in table["00004-stale"]
    assert "fid 80.5 @4" in table["00000-finished"] and " 4/4 " in table["00000-finished"]
    # another machine's process (no pid to ask): a heartbeat within 3 x 30 s is running, an older one stopped
    other = fake_run(root / "00005-elsewhere")
    for updated, want in ((time.time() - 10, "running"), (time.time() - 600, "stopped (no heartbeat since")):
        (other / "status.json").write_text(json.dumps({"state": "running", "pid": 1, "host": "another-host", "updated": updated}))
        assert load_run_info(str(other)).status().startswith(want)
    assert " 2/10 " in table["00001-crashed"]
    index = (root / "index.html").read_text()
    assert index.count('href="') == 5 and 'href="00000-finished/report.html"' in index
    assert all((root / name / "report.html").is_file() for name in status)


def test_a_run_stopped_by_an_error_lists_as_failed_with_its_step_and_message(tmp_path, capsys):
    """status.json's 'failed' (written when training stops on an error), even after the process is gone."""
    root = tmp_path / "runs"
    failed = fake_run(root / "00000-failed")
    (failed / "status.json").write_text(json.dumps({"state": "failed", "pid": 1, "host": socket.gethostname(), "step": 2,
                                                    "steps": 10, "error": "evaluation: out of memory", "updated": 0.0}))  # fmt: skip
    assert main(["runs", str(root), "--html"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.startswith("00000-failed") and row.rsplit("  ", 1)[-1] == "failed (at step 2: evaluation: out of memory)"
    assert '<span class="status-failed">failed (at step 2: evaluation: out of memory)</span>' in (root / "index.html").read_text()
    assert '<span class="status-failed">' in (failed / "report.html").read_text()


# ------------------------------------------------------------------ latent walks


@pytest.mark.parametrize("slerp", [False, True])
def test_walk_ends_are_the_seeds_generated_images(run_dir, slerp):
    run = load_run(str(run_dir))
    walk = latent_walk(run, [3, 7, 11], steps=5, slerp=slerp)
    assert walk.shape == (2, 5, 1, 16, 16)
    for row, (a, b) in enumerate([(3, 7), (7, 11)]):
        torch.testing.assert_close(walk[row, 0], generate(run, 1, seed=a)[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(walk[row, -1], generate(run, 1, seed=b)[0], rtol=1e-5, atol=1e-5)
    assert (walk[0, 2] - walk[0, 0]).abs().max() > 1e-3  # the middle is somewhere else


def test_slerp_follows_the_great_circle():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    torch.testing.assert_close(interpolate_noise(a, b, 3, slerp=True)[1], torch.tensor([3.0, 3.0]) / 2**0.5)
    torch.testing.assert_close(interpolate_noise(a, b, 3, slerp=False)[1], torch.tensor([1.5, 1.5]))


def test_interpolate_command_writes_grid_and_gif(run_dir, tmp_path, capsys):
    png, gif = tmp_path / "walk.png", tmp_path / "walk.gif"
    assert main(["interpolate", str(run_dir), "-o", str(png), "--steps", "4", "--seeds", "0", "5"]) == 0
    assert main(["interpolate", str(run_dir), "-o", str(gif), "--steps", "4", "--slerp"]) == 0
    assert "1 spherical walk(s) of 4 images" in capsys.readouterr().out
    grid = np.asarray(Image.open(png).convert("L")).astype(int)
    assert grid.shape == (2 + 18, 2 + 18 * 4)  # one row of 4 tiles of 16 px, 2 px padding
    run = load_run(str(run_dir))
    for col, seed in ((0, 0), (3, 5)):
        expected = ((generate(run, 1, seed=seed)[0, 0].clamp(-1, 1) + 1) * 127.5).round().numpy()
        tile = grid[2:18, 2 + 18 * col: 18 + 18 * col]
        assert np.abs(tile - expected).max() <= 1
    frames = Image.open(gif)
    assert frames.n_frames == 6  # there and back: 4 + 2
    assert main(["interpolate", str(run_dir), "-o", str(tmp_path / "w.jpg")]) == 2


def test_translation_runs_show_their_triplets(tmp_path):
    run = fake_run(tmp_path / "cyclegan")
    (run / "samples").mkdir()
    Image.new("RGB", (48, 16), (200, 30, 30)).save(run / "samples" / "triplets-0000002.png")
    assert main(["report", str(run)]) == 0
    text = (run / "report.html").read_text()
    assert '<section id="translation">' in text and 'alt="Translation A' in text
    assert '<section id="translation">' not in load_run_info_html(fake_run(tmp_path / "plain"))


def load_run_info_html(run):
    from ganforge.report.html_report import render_report

    return render_report(load_run_info(str(run)))


def test_report_rounds_metric_values_to_four_significant_digits(tmp_path):
    run = fake_run(tmp_path / "run")
    (run / "metrics").mkdir()
    cards = [{"metric": "is", "value": 7.163000808426133, "n_gen": 100, "step": 2, "source": "eval"},
             {"metric": "kid", "value": 0.000123456789, "n_gen": 100, "n_ref": 100, "step": 2, "source": "eval"},
             {"metric": "modes", "value": 1000, "n_gen": 100, "step": 2, "source": "eval"}]  # fmt: skip
    (run / "metrics" / "metrics.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cards))
    text = load_run_info_html(run)
    assert "<th>value</th><td>7.163</td>" in text and "7.163000808426133" not in text
    assert "<th>value</th><td>0.0001235</td>" in text and "<th>value</th><td>1000</td>" in text


def test_a_metric_scored_in_two_feature_spaces_gets_a_chart_per_space(tmp_path):
    run = fake_run(tmp_path / "run")
    (run / "metrics").mkdir()
    cards = [{"metric": "fid", "value": v, "n_gen": 100, "step": step, "source": "eval", "extractor": "x", "feature_space": space}
             for step, v, space in [(2, 5.0, "evaluator"), (4, 4.0, "evaluator"), (2, 40.0, "pixels"), (4, 30.0, "pixels")]]
    (run / "metrics" / "metrics.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cards))
    text = load_run_info_html(run)
    assert "<h3>fid (evaluator space)</h3>" in text and "<h3>fid (pixels space)</h3>" in text and "<h3>fid</h3>" not in text


@pytest.mark.parametrize("algorithm", ["cyclegan", "pix2pix"])
def test_translation_runs_say_what_their_sample_grid_shows(tmp_path, algorithm):
    run = fake_run(tmp_path / algorithm, algorithm=algorithm)
    (run / "samples").mkdir()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(run / "samples" / "step-0000002.png")
    text = load_run_info_html(run)
    assert "The same test images of domain A, translated A\u2192B, through training" in text
    assert "fixed noise" not in text
    plain = fake_run(tmp_path / "gan")
    (plain / "samples").mkdir()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(plain / "samples" / "step-0000002.png")
    assert "The same fixed noise, through training" in load_run_info_html(plain)
