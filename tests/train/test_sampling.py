"""Drawing from a generator (train/sampling.py), here the truncation trick of a run without a mapping
network: BigGAN's truncated z, drawn through `truncating(G, psi).latent` by `ganforge generate`."""
import pytest
import torch
from torch.testing import assert_close

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_models
from ganforge.presets import resolve_config
from ganforge.runs import generate, load_run, train
from ganforge.train.sampling import TRUNCATION_MODELS, latent_labels, truncating

TINY_BIGGAN = {"data": "fake", "image_size": 16, "channels": 1, "batch_size": 4, "steps": 2, "n_critic": 1, "n_samples": 4,
               "log_every": 1, "sample_every": 100, "ckpt_every": 100, "tensorboard": False, "ema_start": 0,
               "model": {"z_dim": 12, "g": {"ch": 2, "shared_dim": 4}, "d": {"ch": 2}}}  # fmt: skip


@pytest.fixture(scope="module")
def biggan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "biggan"
    train(resolve_config("biggan-demo", [TINY_BIGGAN]), out=str(out), progress=False)
    return load_run(str(out))


def test_a_conditional_g_is_asked_for_every_class_equally_and_a_grid_row_by_row():
    assert latent_labels(True, 10, 100).view(10, 10).tolist() == [[r] * 10 for r in range(10)]  # row r: class r
    labels = latent_labels(True, 10, 2000)  # 44-wide rows: four whole cycles of 10 rows, then the classes in turn
    assert labels[:1760].view(40, 44).tolist() == [[r % 10] * 44 for r in range(40)]
    assert torch.bincount(labels).tolist() == [200] * 10
    assert torch.bincount(latent_labels(True, 10, 64)).tolist() == [7] * 4 + [6] * 6  # fewer than a cycle: in turn
    assert latent_labels(False, 10, 64) is None and latent_labels(True, 10, 5, class_=3).tolist() == [3] * 5


def test_psi_1_leaves_biggan_samples_as_they_are(biggan_run):
    plain = generate(biggan_run, 12, seed=3)
    assert torch.equal(generate(biggan_run, 12, seed=3, truncation=1.0), plain)
    assert not torch.equal(generate(biggan_run, 12, seed=3, truncation=0.5), plain)


def test_psi_0_gives_one_image_per_class_whatever_the_seed(biggan_run):
    n = 16  # fewer than a whole cycle of rows: the classes in turn
    labels = biggan_run.algorithm.latent_labels(biggan_run.config, biggan_run.num_classes, n)
    a, b = generate(biggan_run, n, seed=0, truncation=0.0), generate(biggan_run, n, seed=1, truncation=0.0)
    assert_close(a, b, rtol=0, atol=0)
    for k in labels.unique():
        same = a[labels == k]
        assert_close(same, same[:1].expand_as(same), rtol=0, atol=0)
    assert not torch.equal(a[labels == 0][0], a[labels == 1][0])  # the class still decides the image


def test_a_truncated_biggan_latent_stays_within_2_psi_and_is_reproducible(biggan_run):
    z = torch.randn(4000, 12, generator=torch.Generator().manual_seed(0))
    trick = truncating(biggan_run.G, 0.3)
    t = trick.latent(z, torch.Generator().manual_seed(1))
    assert t.abs().max() <= 2 * 0.3 and t.abs().max() > 0.59  # about 4.6 % of the draws were cut at 2
    assert torch.equal(t, trick.latent(z, torch.Generator().manual_seed(1)))
    assert torch.equal(truncating(biggan_run.G, None).latent(z), z)  # no truncation asked: z as drawn


@pytest.mark.parametrize("psi", [-0.1, 1.5])
def test_psi_outside_0_1_is_refused(biggan_run, psi):
    with pytest.raises(ConfigError, match=r"truncation psi must be in \[0, 1\]"):
        generate(biggan_run, 4, truncation=psi)


def test_a_generator_without_a_trick_is_refused_naming_its_model_and_those_with_one():
    dcgan, _ = build_models(ModelConfig(name="dcgan", z_dim=8, g={"width": 4}, d={"width": 4}), (1, 16, 16), "image")
    with pytest.raises(ConfigError, match="truncation: model 'dcgan' has no truncation trick .*biggan: .*stylegan2: "):
        truncating(dcgan, 0.7, model="dcgan")
    assert sorted(TRUNCATION_MODELS) == ["biggan", "stylegan2"]
