"""`ganforge traverse`: one grid per latent code of an InfoGAN run, clear errors otherwise."""
import re

import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.commands.traverse import purity_lines
from ganforge.metrics.code_purity import assignment_scores, code_purity
from ganforge.runs import load_run

TINY = ["--data", "fake", "--image-size", "16", "--batch-size", "4", "--steps", "1", "--no-progress", "channels=1",
        "n_samples=4", "tensorboard=false", "model.g.width=8", "model.d.width=8", "model.g.hidden=16", "model.d.hidden=16"]  # fmt: skip


@pytest.fixture(scope="module")
def infogan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "infogan"
    assert main(["train", "--preset", "infogan", *TINY, "algo.categorical=[3]", "--out", str(out)]) == 0
    return out


def test_traverse_writes_one_grid_per_code_of_the_right_size(infogan_run, tmp_path, capsys):
    # categorical code 0: one row per value (3); continuous codes 1, 2: --steps rows; 5 columns of noise
    assert main(["traverse", str(infogan_run), "-o", str(tmp_path / "t.png"), "--steps", "4", "--columns", "5"]) == 0
    side = 16 + 2  # each image and its 2-pixel padding (torchvision save_image)
    for code, rows in ((0, 3), (1, 4), (2, 4)):
        with Image.open(tmp_path / f"t-code{code}.png") as im:
            assert im.size == (5 * side + 2, rows * side + 2)
    assert "code 1: 4 rows (-2, -0.666667, 0.666667, 2) x 5 columns" in capsys.readouterr().out


def test_one_code_to_the_named_file_and_default_folder(infogan_run, tmp_path):
    assert main(["traverse", str(infogan_run), "--code", "0", "-o", str(tmp_path / "cat.png")]) == 0
    with Image.open(tmp_path / "cat.png") as im:
        assert im.size == (10 * 18 + 2, 3 * 18 + 2)  # default 10 columns
    assert main(["traverse", str(infogan_run), "--code", "2"]) == 0
    assert (infogan_run / "traversals" / "code-2.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--code", "3"], "--code 3 is out of range: this run has 3 latent codes \\(0..2: code 0: categorical, 3 values; code 1: continuous"),
    (["--code", "-1"], "--code -1 is out of range"),
    (["--code", "1", "--steps", "1"], "--steps must be at least 2"),
    (["-o", "grid.gif"], "output must end in .png"),
])  # fmt: skip
def test_bad_input_exits_2_with_a_clear_message(infogan_run, argv, message, capsys):
    assert main(["traverse", str(infogan_run), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge: error: ") and re.search(message, err), err


def test_a_run_without_codes_is_refused(tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["train", "--preset", "dcgan-demo", *TINY[:-4], "--out", str(out)]) == 0
    assert main(["traverse", str(out)]) == 2
    assert "trained with the 'gan' algorithm, which has no latent codes" in capsys.readouterr().err


def test_code_purity_counts_every_sample(infogan_run):
    run = load_run(str(infogan_run))
    result = code_purity(run, 0, lambda images: (images.mean((1, 2, 3)) > 0).long(), 2, n=6)
    assert len(result["counts"]) == 3 and all(sum(row) == 6 for row in result["counts"])
    assert 0.5 <= result["purity"] <= 1 and result["accuracy"] <= result["purity"]


def test_purity_is_the_mean_of_each_categorys_majority_share():
    # Rows of unequal size: category 0 is 10/10 class 0, category 1 is 1/2 class 1 -> (1 + 0.5) / 2,
    # not the pooled 11/12 that weighs the larger category more.
    scores = assignment_scores([[10, 0], [1, 1]])
    assert scores["purity"] == pytest.approx(0.75)
    assert scores["accuracy"] == pytest.approx(11 / 12) and scores["assignment"] == {0: 0, 1: 1}


def test_collapse_onto_one_digit_leads_with_accuracy_and_says_purity_cannot_show_it():
    # Ten categories that all read as digit 3: purity 1.0, one-to-one accuracy 0.1.
    counts = [[0, 0, 0, 50, 0, 0, 0, 0, 0, 0]] * 10
    lines = purity_lines(0, {**assignment_scores(counts), "n_per_value": 50, "counts": counts}, num_classes=10)
    assert lines[0].startswith("code 0: one-to-one accuracy 0.100 (chance 0.1), purity 1.000")
    note = next(line for line in lines if "note:" in line)
    assert "all 10 categories read mostly as class 3" in note and "purity alone does not show" in note


def test_no_note_when_every_category_reads_as_its_own_class():
    counts = [[9, 1, 0], [0, 8, 2], [1, 0, 9]]
    lines = purity_lines(1, {**assignment_scores(counts), "n_per_value": 10, "counts": counts}, num_classes=3)
    assert lines[0].startswith("code 1: one-to-one accuracy 0.867 (chance 0.333), purity 0.867")
    assert not any("note:" in line for line in lines)


def test_cli_purity_prints_accuracy_before_purity(infogan_run, monkeypatch, capsys):
    import torch

    import ganforge.metrics.evaluator as evaluator_module

    class EveryImageIsAThree:
        num_classes = 10

        def labels(self, images):
            return torch.full((len(images),), 3)

    monkeypatch.setattr(evaluator_module, "load_offline_evaluator", lambda *a, **k: EveryImageIsAThree())
    assert main(["traverse", str(infogan_run), "--purity", "--purity-n", "4"]) == 0
    out = capsys.readouterr().out
    scores = out[out.index("code 0: one-to-one accuracy"):]
    # three categories, all digit 3: one of three matched
    assert scores.startswith("code 0: one-to-one accuracy 0.333 (chance 0.1), purity 1.000")
    assert "all 3 categories read mostly as class 3" in scores
