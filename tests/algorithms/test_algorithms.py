"""The algorithm registry and the hooks a paper's Algorithm subclass overrides."""
from dataclasses import dataclass

import pytest
import torch

import ganforge as gf
from ganforge.config import parse_override
from ganforge.errors import ConfigError
from ganforge.algorithms import ALGORITHMS, get_algorithm, list_algorithms
from ganforge.algorithms.gan import GAN
from ganforge.runs import build_trainer
from ganforge.train.algorithm import Algorithm


def make_config(*overrides):
    return gf.resolve_config("dcgan-demo", [parse_override(o) for o in overrides])


def test_gan_is_an_algorithm_of_its_own_and_unknown_names_list_the_valid_ones():
    assert get_algorithm("gan") is GAN and issubclass(GAN, Algorithm)
    assert ("gan", GAN.description) in list_algorithms()
    with pytest.raises(ConfigError, match="valid: .*gan"):
        get_algorithm("gann")


def test_algo_keys_are_refused_by_an_algorithm_without_params():
    cfg = make_config("data=fake", "steps=1", "algo.cycle_weight=10")
    with pytest.raises(ConfigError, match="takes no algo"):
        build_trainer(cfg, progress=False)


@dataclass
class _Params:
    scale: float = 1.0


class _ScaledNoise(GAN):
    """A toy algorithm: its own param, its own latent and its own checkpointed state."""

    name = "test-scaled-noise"
    description = "test only"
    Params = _Params

    @classmethod
    def latent(cls, cfg, n, generator=None, device=None):
        return torch.zeros(n, cfg.model.z_dim, device=device)  # every sample the same: easy to check

    def extra_state(self):
        return {"calls": torch.tensor(self.trainer.step)}

    def load_extra_state(self, state):
        self.restored = int(state["calls"])


def test_a_subclass_gets_its_params_latent_and_extra_state_through_the_loop(tmp_path):
    if "test-scaled-noise" not in ALGORITHMS:
        ALGORITHMS.register("test-scaled-noise")(_ScaledNoise)
    cfg = make_config("data=fake", "steps=2", "batch_size=4", "algorithm=test-scaled-noise", "algo.scale=3", "diagnose.enabled=false", "tensorboard=false")
    with pytest.raises(ConfigError, match="algo.scal"):  # a typo in an algo key names it
        build_trainer(make_config("data=fake", "algorithm=test-scaled-noise", "algo.scal=3"), progress=False)
    result = gf.train(cfg, out=str(tmp_path / "run"), progress=False)
    run = gf.load_run(result.run_dir)
    assert run.algorithm is _ScaledNoise and set(run.nets) == {"G", "D"}
    samples = gf.generate(run, 3)
    assert torch.equal(samples[0], samples[1])  # generate went through the subclass's latent
    state = torch.load(tmp_path / "run" / "checkpoints" / "ckpt-latest.pt", weights_only=True)
    assert state["algorithm"] == "test-scaled-noise" and int(state["extra"]["calls"]) == 2
    trainer = build_trainer(cfg, resume_state=state, progress=False)
    assert trainer.params.scale == 3.0 and trainer.algorithm.restored == 2
