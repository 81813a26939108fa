"""Spectral normalisation (Miyato et al. 2018) through the model switch `model.spectral_norm`."""
import pytest
import torch
import torch.nn as nn

import ganforge as gf
from ganforge.config import ModelConfig, parse_override
from ganforge.errors import ConfigError
from ganforge.nets import build_models
from ganforge.nets.spectral import NORMALISED_LAYERS, apply_spectral_norm, has_spectral_norm


def _top_singular_value(matrix: torch.Tensor) -> float:
    return torch.linalg.matrix_norm(matrix, ord=2).item()


def _power_iterate(layer: nn.Module, x: torch.Tensor, forwards: int = 100) -> None:
    """Each training-mode forward runs one power iteration (Algorithm 1) and refines sigma(W); the
    error shrinks like (sigma_2 / sigma_1)^k, so the layers below are built from a fixed seed."""
    layer.train()
    with torch.no_grad():
        for _ in range(forwards):
            layer(x)


@pytest.mark.parametrize(
    "make, x_shape, as_matrix",
    [
        (lambda: nn.Linear(24, 16), (2, 24), lambda w: w),
        # A convolution's (C_out, C_in, k, k) weight is normalised as the (C_out, C_in*k*k) matrix, as
        # in the paper (sec. 2.1): a bound on, not the exact value of, the convolution's operator norm.
        (lambda: nn.Conv2d(3, 8, 3), (2, 3, 5, 5), lambda w: w.flatten(1)),
        # A transposed convolution's weight is (C_in, C_out, k, k): torch normalises along dim 1.
        (lambda: nn.ConvTranspose2d(8, 4, 4, 2, 1), (2, 8, 5, 5), lambda w: w.transpose(0, 1).flatten(1)),
    ],
    ids=["linear", "conv", "conv-transpose"],
)
def test_top_singular_value_is_one(make, x_shape, as_matrix):
    torch.manual_seed(0)
    layer, x = make(), torch.randn(x_shape)
    with torch.no_grad():
        layer.weight.mul_(5.0)  # well away from 1 before normalising
    assert _top_singular_value(as_matrix(layer.weight.detach())) > 2.0
    apply_spectral_norm(layer)
    _power_iterate(layer, x)
    assert _top_singular_value(as_matrix(layer.weight.detach())) == pytest.approx(1.0, abs=1e-3)
    # The unnormalised weight is what the optimizer updates; it is unchanged by normalising.
    assert _top_singular_value(as_matrix(layer.parametrizations.weight.original.detach())) > 2.0


def _layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, NORMALISED_LAYERS)]


@pytest.mark.parametrize("nets", [[], ["d"], ["g"], ["g", "d"], ["D"]])
def test_switch_normalises_the_named_nets_and_no_others(nets):
    G, D = build_models(ModelConfig(name="dcgan", spectral_norm=nets, g={"width": 4}, d={"width": 4}), (1, 16, 16), "image")
    named = {n.lower() for n in nets}
    for key, net in (("g", G), ("d", D)):
        layers = _layers(net)
        assert len(layers) == 3  # dcgan at 16 = 4*2^2: three (transposed) convs in each net
        assert [has_spectral_norm(m) for m in layers] == [key in named] * len(layers)
        # Norm layers are never normalised.
        assert not any(has_spectral_norm(m) for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_switch_reaches_every_layer_of_a_resnet_with_attention():
    G, D = build_models(ModelConfig(name="sagan", spectral_norm=["g", "d"], g={"width": 8}, d={"width": 8}), (1, 32, 32), "image")
    for net in (G, D):
        assert all(has_spectral_norm(m) for m in _layers(net))
    # The attention's 1x1 convs are normalised; its gamma is a plain parameter.
    attention = next(m for m in D.modules() if type(m).__name__ == "SelfAttention")
    assert all(has_spectral_norm(getattr(attention, n)) for n in "fghv")
    assert isinstance(attention.gamma, nn.Parameter)


def test_unknown_switch_value_names_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown model.spectral_norm entry 'q'; valid: g, d"):
        build_models(ModelConfig(name="dcgan", spectral_norm=["d", "q"]), (1, 16, 16), "image")


def test_switch_from_the_command_line_syntax():
    cfg = gf.resolve_config("dcgan", [parse_override("model.spectral_norm=[d]")])
    assert cfg.model.spectral_norm == ["d"]
    with pytest.raises(ConfigError, match="model.spectral_norm' wants a list"):
        gf.resolve_config("dcgan", [parse_override("model.spectral_norm=7")])


def test_state_dict_restores_the_power_iteration():
    """A checkpoint keeps u and v: a rebuilt net given the state dict computes the same weights."""
    cfg = ModelConfig(name="dcgan", spectral_norm=["d"], d={"width": 4})
    torch.manual_seed(0)
    _, D = build_models(cfg, (1, 16, 16), "image")
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        for _ in range(3):
            D(x)  # moves u, v away from their initial draw
    torch.manual_seed(1)
    _, D2 = build_models(cfg, (1, 16, 16), "image")
    D2.load_state_dict(D.state_dict())
    D.eval(), D2.eval()
    torch.testing.assert_close(D2(x), D(x), rtol=0, atol=0)


def test_dcgan_with_the_switch_trains_and_loads(tmp_path, tiny_overrides):
    cfg = gf.resolve_config("dcgan", [tiny_overrides, {"steps": 2, "model": {"spectral_norm": ["d"], "g": {"width": 4}, "d": {"width": 4}}}])
    result = gf.train(cfg, out=str(tmp_path / "run"), progress=False)
    run = gf.load_run(result.run_dir)
    assert all(has_spectral_norm(m) for m in _layers(run.nets["D"]))
    assert not any(has_spectral_norm(m) for m in _layers(run.G))
    assert gf.generate(run, 2, seed=0).shape == (2, 1, 16, 16)
