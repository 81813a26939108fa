"""The msggan algorithm: what it refuses, and that grids and samples show the full-size image only."""
import pytest
import torch

from ganforge.config import merge
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer

TINY = {"data": "fake", "image_size": 8, "channels": 1, "batch_size": 4, "n_samples": 4, "tensorboard": False,
        "model": {"z_dim": 8, "g": {"fmap_base": 32, "fmap_max": 8}, "d": {"fmap_base": 32, "fmap_max": 8}}}  # fmt: skip


def config(**keys):
    return merge(resolve_config("msggan-demo", [TINY]), keys)


@pytest.mark.parametrize("keys, message", [
    ({"model": {"name": "progan"}}, "set model.name=msggan"),
    ({"model": {"conditional_g": "concat"}}, "does not implement model.conditional_g"),
    ({"model": {"minibatch_discrimination": 4}}, "does not implement model.minibatch_discrimination"),
    ({"diffaugment": "color"}, "does not apply diffaugment"),
])  # fmt: skip
def test_what_it_cannot_do_is_refused(keys, message):
    with pytest.raises(ConfigError, match=message):
        build_trainer(config(**keys), progress=False)


def test_samples_and_monitors_see_full_size_images():
    trainer = build_trainer(config(), progress=False)
    trainer.train_step()
    assert trainer.algorithm.fixed_samples().shape == (4, 1, 8, 8)
    assert trainer.algorithm.samples(3, seed=0).shape == (3, 1, 8, 8)
    assert trainer.algorithm.d_logits(torch.zeros(4, 1, 8, 8)).shape == (4,)
