"""The learning-rate range test: the sweep, stopping on divergence, the suggestion, the classifier side."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from ganforge.errors import ConfigError
from ganforge.optim.lr_finder import lr_find, suggest_lr, sweep_lrs


def test_sweep_lrs_exponential_and_linear():
    assert_close(torch.from_numpy(sweep_lrs(1e-4, 1.0, 5, "exp")), torch.tensor([1e-4, 1e-3, 1e-2, 1e-1, 1.0], dtype=torch.float64))
    assert_close(torch.from_numpy(sweep_lrs(0.1, 0.5, 5, "linear")), torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5], dtype=torch.float64))


def _quadratic():
    """Gradient descent on loss = w^2: w <- w (1 - 2 lr), which diverges once lr > 1."""
    w = torch.nn.Parameter(torch.tensor(1.0))
    opt = torch.optim.SGD([w], lr=0.123)
    lrs_seen = []

    def step():
        lrs_seen.append(opt.param_groups[0]["lr"])
        loss = w**2
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    return w, opt, step, lrs_seen


def test_lr_find_stops_when_the_loss_diverges():
    w, opt, step, lrs_seen = _quadratic()
    result = lr_find(step, opt, start=1e-3, end=100.0, num=100, mode="exp")
    assert result.diverged
    assert len(result.lrs) < 100  # it stopped early...
    assert 1.0 < result.lrs[-1] < 100.0  # ...after the lr passed the point where GD on w^2 diverges
    assert lrs_seen == result.lrs == pytest.approx(sweep_lrs(1e-3, 100.0, 100)[: len(lrs_seen)].tolist())
    assert opt.param_groups[0]["lr"] == 0.123  # the optimizer's lr is given back
    # The loss fell while lr < 1: the suggestion lies in that stretch.
    assert result.suggestion is not None and result.suggestion < 1.0


def test_lr_find_runs_to_the_end_without_divergence_and_smooths_with_bias_correction():
    losses = iter([3.0, 2.0, 1.5, 1.2, 1.0, 0.9])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    result = lr_find(lambda: next(losses), opt, start=1e-3, end=1e-1, num=6, beta=0.5)
    assert not result.diverged and len(result.lrs) == 6
    # EMA with beta 0.5, divided by 1 - 0.5^i.
    avg, want = 0.0, []
    for i, loss in enumerate([3.0, 2.0, 1.5, 1.2, 1.0, 0.9], start=1):
        avg = 0.5 * avg + 0.5 * loss
        want.append(avg / (1 - 0.5**i))
    assert_close(torch.tensor(result.smoothed), torch.tensor(want))
    assert result.smoothed[0] == 3.0


def test_lr_find_stops_at_a_non_finite_loss():
    losses = iter([1.0, 0.9, float("nan"), 0.5])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    result = lr_find(lambda: next(losses), opt, start=1e-3, end=1.0, num=4)
    assert result.diverged and len(result.lrs) == 3 and math.isnan(result.losses[-1])


def test_suggestion_is_the_steepest_descent():
    lrs = np.geomspace(1e-6, 1.0, 61)
    losses = 2.0 - np.tanh(2 * (np.log10(lrs) - np.log10(1e-3)))  # falls fastest at lr = 1e-3
    assert suggest_lr(lrs, losses) == pytest.approx(1e-3)
    # Noise in the first tenth of the sweep (a steeper drop there) is not taken for the descent.
    noisy = losses.copy()
    noisy[0] += 10.0
    assert suggest_lr(lrs, noisy) == pytest.approx(1e-3)
    assert suggest_lr(lrs, noisy, skip_start=0) == pytest.approx(1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "log"}, "unknown sweep mode 'log'; valid: exp, linear"),
        ({"start": 1.0, "end": 0.1}, "start lr > 0 to a larger end lr"),
        ({"num": 1}, "at least 2 steps"),
    ],
)
def test_bad_sweeps_are_refused(kwargs, message):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ConfigError, match=message):
        lr_find(lambda: 1.0, opt, **{"start": 1e-4, "end": 1.0, "num": 10, **kwargs})


def test_classifier_lr_find_and_plot(tmp_path):
    from ganforge.classify import ClassifyConfig
    from ganforge.classify.lr_range import classifier_lr_find

    cfg = ClassifyConfig(model="softmax", data="digits", schedule={"kind": "constant", "lr": 0.1, "optimizer": "sgd", "momentum": 0.9})
    result = classifier_lr_find(cfg, start=1e-4, end=1e3, num=40)
    assert result.diverged  # softmax regression with SGD blows up long before lr 1000
    assert result.lrs[0] == pytest.approx(1e-4) and result.lrs[-1] < 1e3
    assert result.losses[0] == pytest.approx(math.log(10), abs=0.5)  # an untrained 10-class model
    result.plot(str(tmp_path / "lr.png"))
    assert (tmp_path / "lr.png").stat().st_size > 1000


def test_lr_find_command(tmp_path, capsys):
    import argparse

    from ganforge.commands import lr_find as command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    out = tmp_path / "lr.png"
    args = parser.parse_args(["lr-find", "--model", "softmax", "--data", "digits", "--optimizer", "sgd",
                              "--start", "1e-3", "--end", "1e3", "--num", "30", "-o", str(out)])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "the loss diverged" in text and "suggested lr" in text and out.stat().st_size > 1000
