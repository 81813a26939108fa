"""The GAN side of the lr range test: a real sweep over training iterations, stopping on divergence."""
import pytest

from ganforge.cli import main
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.train.lr_range import gan_lr_find

TINY = {"data": "ring8", "batch_size": 32, "model": {"g": {"hidden": [16]}, "d": {"hidden": [16]}}}


def test_sweeping_d_lr_to_huge_values_diverges_and_stops_early():
    result = gan_lr_find(resolve_config("gan", [TINY]), "d", start=1e-4, end=1e6, num=60)
    assert result.diverged and len(result.lrs) < 60
    assert result.lrs[0] == pytest.approx(1e-4) and result.lrs == sorted(result.lrs)


def test_a_gentle_sweep_of_g_runs_to_the_end():
    result = gan_lr_find(resolve_config("gan", [TINY]), "g", start=1e-5, end=1e-4, num=8)
    assert not result.diverged and len(result.lrs) == 8 and result.lrs[-1] == pytest.approx(1e-4)


def test_scheduled_network_and_unknown_net_are_refused():
    cfg = resolve_config("gan", [dict(TINY, schedule_d=[{"steps": 100000, "optimizer": "adam", "lr": 1e-4}])])
    with pytest.raises(ConfigError, match="schedule_d sets D's lr"):
        gan_lr_find(cfg, "d")
    with pytest.raises(ConfigError, match="valid: d, g"):
        gan_lr_find(resolve_config("gan", [TINY]), "q")


def test_lr_find_command_on_a_gan_preset(tmp_path, capsys):
    out = tmp_path / "lr.png"
    argv = ["lr-find", "--preset", "gan", "--data", "ring8", "--batch-size", "32", "--set", "model.d.hidden=[16]",
            "--start", "1e-4", "--end", "1e5", "--num", "40", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "the loss diverged" in text and out.exists()
