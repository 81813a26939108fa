"""`ganforge compare`: one table of runs' `ganforge eval` scores, written as Markdown and CSV with their curves
and samples, refusing scores that are not comparable."""
import csv
import json
import os
import shutil

import pytest
from PIL import Image

from ganforge.cli import main
from ring_runs import lines, ring_run

CKPT = 10  # scored at steps 10 and 20
SCORE = ["--metrics", "fid,pr", "-n", "100"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two ring8 runs (seeds 0 and 1) scored at steps 10 and 20; the first with mean ± sd of 2 seeds."""
    root = tmp_path_factory.mktemp("compare")
    a, b = ring_run(root / "a", seed=0, ckpt_every=CKPT), ring_run(root / "b", seed=1, ckpt_every=CKPT)
    assert main(["eval", a, "--ckpt", "all", "--repeats", "2", *SCORE]) == 0
    assert main(["eval", b, "--ckpt", "all", *SCORE]) == 0
    return a, b


def copy_run(run, folder, keep_metrics=True) -> str:
    shutil.copytree(run, folder)
    if not keep_metrics:
        shutil.rmtree(os.path.join(folder, "metrics"))
    return str(folder)


def test_compare_prints_one_table_and_writes_markdown_csv_and_pictures(runs, tmp_path, capsys):
    a, b = runs
    out = tmp_path / "out"
    assert main(["compare", a, b, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    header, row_a, row_b = text.splitlines()[:3]
    assert header.split() == ["run", "step", "fid", "precision", "recall"]
    latest = {(os.path.basename(r), e["metric"]): e for r in runs for e in lines(r) if e["step"] == 20}
    fid_a, fid_b = latest["a", "fid"], latest["b", "fid"]
    assert row_a.startswith("a ") and f"{fid_a['value']:.4g} ± {fid_a['extra']['repeat_std']:.2g} (K=2)" in row_a
    assert row_b.startswith("b ") and f"{fid_b['value']:.4g}" in row_b and "±" not in row_b
    assert "dataset: ring8" in text and "mean and standard deviation over k sampling seeds" in text

    md = (out / "compare.md").read_text()
    assert md.startswith("| run | step | fid | precision | recall |\n|---|---|---|---|---|\n| a | 20 |")
    with open(out / "compare.csv", newline="") as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"a", "b"} and rows["a"]["step"] == "20" and rows["a"]["data"] == "ring8"
    assert float(rows["a"]["fid"]) == fid_a["value"] and float(rows["a"]["fid_std"]) == fid_a["extra"]["repeat_std"]
    assert rows["a"]["fid_repeats"] == "2" and rows["b"]["fid_repeats"] == "1" and rows["b"]["fid_std"] == ""
    assert float(rows["b"]["recall"]) == latest["b", "recall"]["value"]
    for name in ("compare-curves.png", "compare-samples.png"):
        with Image.open(out / name) as png:
            assert png.format == "PNG" and png.width > 300

    # Nothing is overwritten silently: a second compare into the same folder is refused, before writing.
    stamp = os.path.getmtime(out / "compare.md")
    assert main(["compare", a, b, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "compare.md" in err and "already exist" in err and "--force" in err
    assert os.path.getmtime(out / "compare.md") == stamp
    assert main(["compare", a, b, "--out", str(out), "--force", "--metrics", "fid"]) == 0
    assert (out / "compare.md").read_text().startswith("| run | step | fid |\n")


def test_compare_at_a_chosen_step(runs, tmp_path, capsys):
    a, b = runs
    assert main(["compare", a, b, "--step", "10", "--metrics", "recall", "--out", str(tmp_path)]) == 0
    rows = capsys.readouterr().out.splitlines()
    recall_b = next(e for e in lines(b) if e["step"] == 10 and e["metric"] == "recall")["value"]
    assert rows[0].split() == ["run", "step", "recall"] and rows[2].split() == ["b", "10", f"{recall_b:.4g}"]
    assert main(["compare", a, b, "--step", "15", "--out", str(tmp_path / "x")]) == 2
    assert "has no scores at step 15 (its scored steps: 10, 20)" in capsys.readouterr().err


def test_compare_refuses_other_protocols_unless_allowed(runs, tmp_path, capsys):
    a, _ = runs
    fewer = copy_run(a, tmp_path / "fewer", keep_metrics=False)
    assert main(["eval", fewer, "--ckpt", "20", *SCORE[:2], "-n", "50"]) == 0
    capsys.readouterr()
    assert main(["compare", a, fewer, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different protocols" in err and "n_gen 100 (a), 50 (fewer)" in err and "--allow-mismatch" in err
    assert not os.path.exists(tmp_path / "out")
    assert main(["compare", a, fewer, "--allow-mismatch", "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    row = next(r for r in text.splitlines() if r.startswith("fewer "))
    assert row.count("*") == 3  # fid, precision, recall
    assert "* the protocol differs from the first run's" in text
    with open(tmp_path / "out" / "compare.csv", newline="") as f:
        flagged = {r["run"]: r["protocol_differs"] for r in csv.DictReader(f)}
    assert flagged["a"] == "" and "fid: n_gen, n_ref" in flagged["fewer"]


def test_compare_refuses_runs_of_different_datasets(runs, tmp_path, capsys):
    a, _ = runs
    grid = ring_run(tmp_path / "grid", data="grid25", ckpt_every=CKPT)
    assert main(["eval", grid, *SCORE]) == 0
    capsys.readouterr()
    assert main(["compare", a, grid, "--allow-mismatch", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "different datasets (a: ring8, grid: grid25)" in err and err.count("\n") == 1


def test_a_run_without_eval_scores_is_told_to_score_it_first(runs, tmp_path, capsys):
    a, _ = runs
    bare = copy_run(a, tmp_path / "bare", keep_metrics=False)
    assert main(["compare", a, bare, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{bare} has no scores from `ganforge eval` yet" in err and f"run `ganforge eval {bare}`" in err
    os.makedirs(os.path.join(bare, "metrics"))
    with open(os.path.join(bare, "metrics", "metrics.jsonl"), "w") as f:  # in-training scores only
        f.write(json.dumps({"metric": "fid", "value": 1.0, "n_gen": 100, "step": 20, "source": "train"}) + "\n")
    assert main(["compare", a, bare, "--out", str(tmp_path)]) == 2
    assert "in-training scores are not compared" in capsys.readouterr().err
    assert main(["compare", a, "--out", str(tmp_path)]) == 2
    assert "two or more runs" in capsys.readouterr().err
    assert main(["compare", a, a, "--out", str(tmp_path)]) == 2
    assert "named twice" in capsys.readouterr().err
    assert main(["compare", a, runs[1], "--metrics", "fjd", "--out", str(tmp_path)]) == 2
    assert "no run has a score named fjd; they have: fid, precision, recall" in capsys.readouterr().err
    modes = copy_run(a, tmp_path / "modes", keep_metrics=False)
    assert main(["eval", modes, "--metrics", "modes", "-n", "100"]) == 0
    capsys.readouterr()
    assert main(["compare", a, modes, "--metrics", "fid", "--out", str(tmp_path)]) == 2
    assert f"{modes} has no `ganforge eval` score of fid; score it with `ganforge eval {modes} --metrics fid`" in capsys.readouterr().err
