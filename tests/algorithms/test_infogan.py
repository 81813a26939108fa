"""InfoGAN (Chen et al. 2016): the code layout, the mutual-information loss, Q's place, training, resume."""
import json
import math

import pytest
import torch
from torch.testing import assert_close

from ganforge.config import ModelConfig
from ganforge.data import DataSpec
from ganforge.errors import ConfigError
from ganforge.losses.information import HALF_LOG_2PI, categorical_nll, gaussian_nll
from ganforge.metrics.code_purity import assignment_scores
from ganforge.nets import build_models
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer, load_run, resume, train
from ganforge.algorithms import get_algorithm
from ganforge.algorithms.infogan import CodeLayout, InfoGAN, InfoGANParams
from ganforge.runtime.checkpoint import load_checkpoint

SMALL = {"model": {"g": {"width": 8, "hidden": 32}, "d": {"width": 8, "hidden": 32}}, "tensorboard": False, "batch_size": 4}


def tiny(tiny_overrides, preset="infogan", **more):
    return resolve_config(preset, [tiny_overrides, SMALL, more])


def test_layout_sample_split_and_set_code_round_trip():
    layout = CodeLayout(5, InfoGANParams(categorical=[3, 4], continuous=2))
    assert (layout.input_dim, layout.q_outputs, layout.n_codes) == (5 + 3 + 4 + 2, 3 + 4 + 2, 4)
    z = layout.sample(50, generator=torch.Generator().manual_seed(0))
    cats, cont = layout.split(z)
    assert z[:, :5].abs().max() <= 1 and cont.abs().max() <= 1  # uniform noise and codes in [-1, 1]
    assert_close(z[:, 5:8].sum(1), torch.ones(50)) and cats[0].max() < 3 and cats[1].max() < 4
    assert set(cats[1].tolist()) == {0, 1, 2, 3}  # every category drawn in 50 samples
    edited = layout.set_code(z, 1, 2)
    assert layout.split(edited)[0][1].eq(2).all() and torch.equal(edited[:, :8], z[:, :8])
    edited = layout.set_code(z, 3, -1.5)  # the second continuous code
    assert edited[:, -1].eq(-1.5).all() and torch.equal(edited[:, :-1], z[:, :-1])


def test_information_loss_of_a_perfect_q_is_its_minimum():
    """A Q sure of the right category has cross-entropy 0; a Q whose Gaussian mean is the code has the
    fixed-std NLL's floor log(2 pi) / 2 per code (the Gaussian's entropy; only (c - mu)^2 / 2 trains)."""
    values = torch.tensor([0, 2, 1, 2])
    perfect = torch.nn.functional.one_hot(values, 3).float() * 100.0
    assert categorical_nll([perfect], [values]).item() == 0.0
    assert_close(categorical_nll([torch.zeros(4, 3)], [values]), torch.tensor(math.log(3)))  # a blind Q: log K
    cont = torch.tensor([[0.5, -0.25], [1.0, 0.0]])
    assert_close(gaussian_nll(cont, cont), torch.tensor(2 * HALF_LOG_2PI))
    assert_close(gaussian_nll(cont + 1.0, cont), torch.tensor(2 * HALF_LOG_2PI + 2 * 0.5))  # (c - mu)^2 / 2 per code
    # learned std: log sigma + (c - mu)^2 / (2 sigma^2) + log(2 pi) / 2
    log_std = torch.full_like(cont, math.log(2.0))
    assert_close(gaussian_nll(cont + 1.0, cont, log_std), torch.tensor(2 * (math.log(2.0) + 0.125 + HALF_LOG_2PI)))


def test_trainer_information_loss_weights_each_kind(tiny_overrides):
    t = build_trainer(tiny(tiny_overrides, algo={"lambda_cat": 1.0, "lambda_cont": 0.1}), progress=False).algorithm
    z = t.layout.sample(6, generator=torch.Generator().manual_seed(1))
    cats, cont = t.layout.split(z)
    q = torch.cat([torch.nn.functional.one_hot(cats[0], 10).float() * 100.0, cont], 1)  # a perfect Q
    out = t.information_loss(q, z)
    assert out["Loss/Q/cat"].item() == 0.0 and out["Q/accuracy"].item() == 1.0
    assert_close(out["loss"], torch.tensor(0.1 * 2 * HALF_LOG_2PI))


def test_q_head_shares_d_body_and_trains_with_d(tiny_overrides):
    cfg = tiny(tiny_overrides)
    nets = InfoGAN.build_networks(cfg, DataSpec((1, 16, 16), "image", 0))
    G, D = nets["G"], nets["D"]
    assert G.z_dim == 62 + 10 + 2 and D.q_outputs == 12
    logits, q = D(G(InfoGAN.latent(cfg, 4)), with_q=True)
    assert logits.shape == (4,) and q.shape == (4, 12)
    q.sum().backward()  # Q's loss reaches the shared body, not D's own head
    assert D.body[0].weight.grad.abs().sum() > 0 and D.d_head.weight.grad is None
    t = build_trainer(cfg, progress=False)
    q_params = {id(p) for p in t.D.q_head.parameters()}
    assert q_params <= {id(p) for g in t.course_D.optimizer.param_groups for p in g["params"]}
    assert not q_params & {id(p) for g in t.course_G.optimizer.param_groups for p in g["params"]}


def test_infogan_needs_a_model_with_a_q_head_and_valid_codes(tiny_overrides):
    with pytest.raises(ConfigError, match="needs a D with a Q head; model 'dcgan' has none .*infogan"):
        build_trainer(resolve_config("infogan", [tiny_overrides, {"model": {"name": "dcgan", "g": {}, "d": {}}}]), progress=False)
    with pytest.raises(ConfigError, match="at least one latent code"):
        build_trainer(tiny(tiny_overrides, algo={"categorical": [1]}), progress=False)
    with pytest.raises(ConfigError, match="cont_std 'gaussian'; valid: fixed, learned"):
        build_trainer(tiny(tiny_overrides, algo={"cont_std": "gaussian"}), progress=False)
    with pytest.raises(ConfigError, match="the infogan algorithm does not apply pack"):  # Q reads one sample's codes
        build_trainer(tiny(tiny_overrides, pack=2), progress=False)


def test_demo_preset_is_the_paper_preset_at_half_width():
    paper, demo = resolve_config("infogan"), resolve_config("infogan-demo")
    assert (paper.algo, paper.opt_g, paper.opt_d, paper.model.z_dim) == (demo.algo, demo.opt_g, demo.opt_d, demo.model.z_dim)
    assert demo.model.g == {"width": 32, "hidden": 512} and paper.model.g == {"width": 64, "hidden": 1024}


def test_preset_trains_a_few_steps_on_fake(tmp_path, tiny_overrides):
    cfg = tiny(tiny_overrides, steps=2, log_every=1)
    assert get_algorithm(cfg.algorithm) is InfoGAN
    result = train(cfg, out=str(tmp_path / "run"), progress=False)
    assert result.step == 2
    records = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert {"Loss/D", "Loss/G", "D(x)", "D(G(z))", "Loss/Q/cat", "Loss/Q/cont", "Loss/G/info", "Q/accuracy"} <= set(records[-1])
    assert 0 < records[-1]["D(x)"] < 1 and records[-1]["health"] == "ok"
    run = load_run(str(tmp_path / "run"))
    assert run.algorithm is InfoGAN and run.G(InfoGAN.latent(cfg, 3)).shape == (3, 1, 16, 16)


def test_learned_std_and_fresh_fake_train(tmp_path, tiny_overrides):
    cfg = tiny(tiny_overrides, steps=2, reuse_fake=False, algo={"cont_std": "learned", "categorical": [3, 2], "continuous": 1})
    t = build_trainer(cfg, progress=False)
    assert t.D.q_outputs == 3 + 2 + 2 * 1
    assert t.train(str(tmp_path)).step == 2


def test_resume_equals_training_straight_through(tmp_path, tiny_overrides):
    base = dict(steps=2, ckpt_every=100, sample_every=100, log_every=1, ema_half_life=2.0, diagnose={"enabled": False})
    train(tiny(tiny_overrides, **base), out=str(tmp_path / "straight"), progress=False)
    train(tiny(tiny_overrides, **dict(base, steps=1)), out=str(tmp_path / "half"), progress=False)
    assert resume(str(tmp_path / "half"), [{"steps": 2}], progress=False).step == 2
    a, b = (load_checkpoint(str(tmp_path / r / "checkpoints" / "ckpt-latest.pt")) for r in ("straight", "half"))
    assert_close({k: a[k] for k in ("nets", "G_ema", "opt_G", "opt_D")}, {k: b[k] for k in ("nets", "G_ema", "opt_G", "opt_D")}, rtol=0, atol=0)


def test_assignment_scores_by_hand():
    # value 0 draws class 1 mostly, value 1 class 1 too, value 2 class 0: one-to-one must send value 1 elsewhere
    counts = [[1, 8, 1], [0, 6, 4], [9, 0, 1]]
    scores = assignment_scores(counts)
    assert scores["purity"] == pytest.approx((8 + 6 + 9) / 30)
    assert scores["assignment"] == {0: 1, 1: 2, 2: 0} and scores["accuracy"] == pytest.approx((8 + 4 + 9) / 30)


def test_infogan_family_without_q_is_a_plain_pair():
    G, D = build_models(ModelConfig(name="infogan", z_dim=8, g={"width": 8, "hidden": 16}, d={"width": 8, "hidden": 16}), (1, 28, 28), "image")
    assert D.q_head is None and D(G(torch.randn(2, 8))).shape == (2,)
    with pytest.raises(ConfigError, match="no Q head"):
        D(torch.zeros(2, 1, 28, 28), with_q=True)
    with pytest.raises(ConfigError, match="sides divisible by 4"):
        build_models(ModelConfig(name="infogan"), (1, 30, 30), "image")
