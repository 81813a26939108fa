"""Live diagnosis: each check fires on a deliberately broken short run and stays quiet on a healthy one."""
import json
import os

import pytest
import torch

from ganforge.config import merge
from ganforge.diagnose.collapse import CollapseCheck, diversity, nearest_neighbour_distance
from ganforge.diagnose.convergence import ConvergenceCheck, d_wins
from ganforge.diagnose.ranges import RangeCheck
from ganforge.diagnose.summary import summarize
from ganforge.errors import CheckpointError
from ganforge.presets import resolve_config
from ganforge.runs import load_run, resume, train
from ganforge.train.monitor import StopTraining

# One thread: on a shared 2-core machine a second thread only adds contention for these tiny nets.
QUICK = {"threads": 1, "batch_size": 32, "log_every": 10, "sample_every": 1000, "ckpt_every": 1000, "n_samples": 64}


def run_gan(tmp_path, name, **over):
    cfg = resolve_config("gan", [QUICK, over])
    train(cfg, out=str(tmp_path / name), progress=False)
    return read(tmp_path / name)


def read(run):
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def raised(records):
    return [d["name"] for r in records for d in r.get("diagnoses", [])]


def test_healthy_run_stays_quiet(tmp_path):
    records = run_gan(
        tmp_path, "ok", data="ring8", steps=200, model={"z_dim": 2, "g": {"hidden": [64, 64]}, "d": {"hidden": [64, 64]}},
        opt_g={"lr": 1e-3}, opt_d={"lr": 1e-3}, diagnose={"warmup_steps": 50, "window": 3},
    )  # fmt: skip
    assert [r["health"] for r in records] == ["ok"] * 20
    assert raised(records) == []
    assert all(0 < r["Health/diversity"] for r in records)


def test_tiny_generator_against_strong_discriminator_is_a_convergence_failure(tmp_path):
    records = run_gan(
        tmp_path, "dwins", data="digits", steps=60, model={"z_dim": 8, "g": {"hidden": [2]}, "d": {"hidden": [256, 256]}},
        opt_d={"lr": 2e-3}, diagnose={"warmup_steps": 0, "window": 3},
    )  # fmt: skip
    assert "convergence-failure" in raised(records)
    first = next(r for r in records if "convergence-failure" in raised([r]))
    assert "D wins" in first["health"] and first["D(x)"] > 0.9 and first["D(G(z))"] < 0.1
    advice = next(d for d in first["diagnoses"] if d["name"] == "convergence-failure")["advice"]
    assert any("TTUR" in a for a in advice) and any("label_smoothing" in a for a in advice)
    text = summarize(str(tmp_path / "dwins"))
    assert "convergence-failure" in text and "what to change" in text


def test_nz1_on_a_ring_collapses(tmp_path):
    """z of one dimension and a large lr on ring8: the fixed-noise samples pile onto few modes."""
    records = run_gan(
        tmp_path, "nz1", data="ring8", steps=240, log_every=20, model={"z_dim": 1, "g": {"hidden": [64]}, "d": {"hidden": [64]}},
        opt_g={"lr": 1e-2}, opt_d={"lr": 1e-2}, diagnose={"warmup_steps": 0, "window": 2},
    )  # fmt: skip
    assert "mode-collapse" in raised(records)
    fired = next(r for r in records if "mode-collapse" in raised([r]))
    assert fired["Health/diversity"] < 0.25 and "collapse" in fired["health"]


@pytest.mark.parametrize("z_dim, collapses", [(1, True), (100, False)])
def test_nz1_dcgan_on_digits_draws_near_copies(tmp_path, z_dim, collapses):
    """The image case: with nz = 1 many z give near-copies of a few digits (nearest-neighbour distance
    ~1-2 % of real's; mean pairwise distance stays ~55 %), while the same run with nz = 100 is quiet."""
    cfg = resolve_config("dcgan-demo", [QUICK, {
        "data": "digits", "steps": 400, "log_every": 20, "model": {"z_dim": z_dim, "g": {"width": 16}, "d": {"width": 16}},
        "diagnose": {"warmup_steps": 260, "window": 3},
    }])  # fmt: skip
    train(cfg, out=str(tmp_path / "r"), progress=False)
    records = read(tmp_path / "r")
    late = [r for r in records if r["step"] >= 260]
    if collapses:
        fired = next(r for r in records if "mode-collapse" in raised([r]))
        assert fired["Health/nn-distance"] < 0.05 < 0.3 < fired["Health/diversity"]
        message = next(d["message"] for d in fired["diagnoses"] if d["name"] == "mode-collapse")
        assert "nearest-neighbour distance" in message
    else:
        assert raised(records) == [] and min(r["Health/nn-distance"] for r in late) > 0.25


def test_huge_learning_rate_diverges_and_rolls_back_to_the_last_good_checkpoint(tmp_path):
    over = dict(QUICK, data="ring8", steps=40, log_every=5, ckpt_every=5, keep_checkpoints=10,
                model={"z_dim": 2, "g": {"hidden": [32]}, "d": {"hidden": [32]}},
                # 10 sane steps, then a learning rate of 1e6: NaN within a tick
                opt_d={"schedule": [{"steps": 10, "optimizer": "sgd", "lr": 0.01}, {"steps": 30, "lr": 1e6}]})  # fmt: skip
    run = tmp_path / "nan"
    with pytest.raises(StopTraining, match="diverged at step 15.*rolled back.*step 10"):
        train(resolve_config("gan", [over]), out=str(run), progress=False)
    records = read(run)
    assert records[-1]["health"] == "DIVERGED" and records[-1]["rolled_back_to"] == 10
    assert raised(records) == ["divergence"]
    # the tick at step 15 stops training before its checkpoint is written: 5 and 10 remain
    assert sorted(f for f in os.listdir(run / "checkpoints") if f.startswith("ckpt-0")) == ["ckpt-0000005.pt", "ckpt-0000010.pt"]
    good = load_run(str(run))
    assert good.step == 10 and all(torch.isfinite(p).all() for p in good.G.parameters())
    # --resume continues from the good checkpoint (and, with the same settings, diverges the same way)
    with pytest.raises(StopTraining, match="diverged at step 15.*step 10"):
        resume(str(run), progress=False)
    assert "rolled back to the checkpoint of step 10" in summarize(str(run))


def test_convergence_rule_respects_each_loss():
    bce = {"Loss/D": 0.01, "D(x)": 0.99, "D(G(z))": 0.01}
    assert d_wins(bce, "nonsaturating") and d_wins(bce, "minimax") and d_wins(bce, "least-squares")
    assert not d_wins({**bce, "D(G(z))": 0.4}, "nonsaturating")
    hinge = {"Loss/D": 0.0, "D(x)": 1.5, "D(G(z))": -1.7}
    assert d_wins(hinge, "hinge") and not d_wins(bce, "hinge")  # raw scores 0.99/0.01 are inside the margins
    assert not d_wins({"Loss/D": -50.0, "D(x)": 30.0, "D(G(z))": -20.0}, "wasserstein")  # a critic cannot "win"


def test_checks_need_a_whole_window_and_respect_warmup():
    check = ConvergenceCheck("nonsaturating", window=3, warmup_steps=20)
    bad = {"Loss/D": 0.01, "D(x)": 0.99, "D(G(z))": 0.01}
    assert check.check(None, {"step": 10, **bad}) is None  # warm-up
    assert check.check(None, {"step": 20, **bad}) is None
    assert check.check(None, {"step": 30, "Loss/D": 1.3, "D(x)": 0.5, "D(G(z))": 0.5}) is None  # breaks the run
    assert [check.check(None, {"step": s, **bad}) is None for s in (40, 50, 60)] == [True, True, False]
    hints = RangeCheck("nonsaturating", window=1, warmup_steps=0)
    assert hints.check(None, {"step": 1, "Loss/D": 0.7, "Loss/G": 1.0}) is None
    assert hints.check(None, {"step": 2, "Loss/D": 0.7, "Loss/G": 9.0}).name == "g-loss-high"
    assert RangeCheck("wasserstein", 1, 0).check(None, {"step": 2, "Loss/D": -9.0, "Loss/G": 9.0}) is None


def test_collapse_check_compares_with_real_diversity():
    class FakeTrainer:
        fixed_z = torch.zeros(8, 2)
        n_fixed_samples = 8
        cfg = None  # no run config: the advice lists every lever

        def __init__(self, G):
            self.G = G

        def fixed_samples(self):
            with torch.no_grad():
                return self.G(self.fixed_z)

    torch.testing.assert_close(diversity(torch.tensor([[0.0, 0.0], [3.0, 4.0]])), 5.0)
    check = CollapseCheck(ratio=0.25, window=1, warmup_steps=0)
    check.real = 1.0
    constant = torch.nn.Linear(2, 2)  # zero noise in, one point out: no diversity at all
    record = {"step": 1}
    assert check.check(FakeTrainer(constant), record).name == "mode-collapse" and record["Health/diversity"] == 0.0

    class Pairs(torch.nn.Module):  # four far-apart points, each drawn twice: spread out, yet all near-copies
        def forward(self, z):
            return torch.tensor([[0.0, 0.0], [9.0, 0.0], [0.0, 9.0], [9.0, 9.0]]).repeat(2, 1)

    torch.testing.assert_close(nearest_neighbour_distance(Pairs()(None)), 0.0)
    check = CollapseCheck(ratio=0.25, window=1, warmup_steps=0)
    check.real, check.real_nn = 5.0, 2.0
    record = {"step": 1}
    diagnosis = check.check(FakeTrainer(Pairs()), record)
    assert record["Health/diversity"] > 1 and record["Health/nn-distance"] == 0.0
    assert "nearest-neighbour distance 0%" in diagnosis.message and "mean pairwise" not in diagnosis.message


def test_diagnose_needs_stats(tmp_path):
    cfg = resolve_config("gan", [QUICK, {"data": "ring8", "steps": 1}])
    (tmp_path / "r").mkdir()
    from ganforge import config as config_mod

    config_mod.write_yaml(merge(cfg, {}), str(tmp_path / "r" / "config.yaml"))
    with pytest.raises(CheckpointError, match="no stats.jsonl"):
        summarize(str(tmp_path / "r"))
