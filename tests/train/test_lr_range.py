"""The GAN side of the lr range test: a real sweep over training iterations, stopping on divergence."""
import pytest

from ganforge.cli import main
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer
from ganforge.train.lr_range import gan_lr_find

TINY = {"data": "ring8", "batch_size": 32, "model": {"g": {"hidden": [16]}, "d": {"hidden": [16]}}}


def test_sweeping_d_lr_to_huge_values_diverges_and_stops_early():
    result = gan_lr_find(build_trainer(resolve_config("gan", [TINY]), progress=False), "d", start=1e-4, end=1e6, num=60)
    assert result.diverged and len(result.lrs) < 60
    assert result.lrs[0] == pytest.approx(1e-4) and result.lrs == sorted(result.lrs)


def test_a_gentle_sweep_of_g_runs_to_the_end():
    result = gan_lr_find(build_trainer(resolve_config("gan", [TINY]), progress=False), "g", start=1e-5, end=1e-4, num=8)
    assert not result.diverged and len(result.lrs) == 8 and result.lrs[-1] == pytest.approx(1e-4)


def test_scheduled_network_and_unknown_net_are_refused():
    cfg = resolve_config("gan", [dict(TINY, opt_d={"schedule": [{"steps": 100000, "optimizer": "adam", "lr": 1e-4}]})])
    with pytest.raises(ConfigError, match="opt_d.schedule sets D's lr"):
        gan_lr_find(build_trainer(cfg, progress=False), "d")
    with pytest.raises(ConfigError, match="valid: d, g"):
        gan_lr_find(build_trainer(resolve_config("gan", [TINY]), progress=False), "q")


@pytest.mark.parametrize("preset, extra", [
    ("infogan-demo", {"data": "fake", "image_size": 16, "channels": 1, "batch_size": 8, "model": {"g": {"width": 8, "hidden": 16}, "d": {"width": 8, "hidden": 16}}}),
    ("progan-demo", {"data": "fake", "channels": 1, "batch_size": 4, "model": {"z_dim": 8, "g": {"fmap_max": 8}, "d": {"fmap_max": 8}}}),
    ("cyclegan-demo", {"batch_size": 2, "opt_d": {"schedule": None}, "opt_g": {"schedule": None}}),
])  # fmt: skip
def test_every_algorithm_sweeps_through_its_own_training_step(preset, extra):
    """lr-find drives the preset's own algorithm (InfoGAN's codes, ProGAN's growth, CycleGAN's pair of
    generators), not a plain GAN built from the same config."""
    result = gan_lr_find(build_trainer(resolve_config(preset, [extra]), progress=False), "d", start=1e-5, end=1e-4, num=3)
    assert len(result.lrs) == 3 and all(map(lambda x: x == x, result.losses))


def test_lr_find_command_on_a_gan_preset(tmp_path, capsys):
    out = tmp_path / "lr.png"
    argv = ["lr-find", "--preset", "gan", "--data", "ring8", "--batch-size", "32", "--set", "model.d.hidden=[16]",
            "--start", "1e-4", "--end", "1e5", "--num", "40", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "the loss diverged" in text and out.exists()
