"""StyleGAN2's networks (Karras et al. 2020): modulated convolution, demodulation, truncation, shapes,
and `ganforge generate --truncation` on a trained run."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from ganforge.cli import main
from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_models
from ganforge.nets.stylegan2 import MinibatchStd, modulated_conv2d
from ganforge.train.sampling import truncating

TINY_G = {"w_dim": 8, "mapping_layers": 2, "channel_base": 64, "channel_max": 8}
TINY_D = {"channel_base": 64, "channel_max": 8}


def nets(shape=(1, 16, 16), g=None, d=None, z_dim=8):
    torch.manual_seed(0)
    return build_models(ModelConfig(name="stylegan2", z_dim=z_dim, g={**TINY_G, **(g or {})}, d={**TINY_D, **(d or {})}), shape, "image")


@pytest.mark.parametrize("demodulate", [False, True])
def test_modulated_conv_is_a_plain_conv_with_each_samples_modulated_weight(demodulate):
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    out = modulated_conv2d(x, weight, styles, demodulate=demodulate)
    for n in range(3):
        w = weight * styles[n].view(1, 4, 1, 1)  # scale input channel i by s_i (eq. 1)
        if demodulate:  # eq. 3: divide output channel j by sqrt(sum_{i,k} w_ijk^2)
            w = w / (w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        assert_close(out[n : n + 1], F.conv2d(x[n : n + 1], w, padding=1), rtol=1e-5, atol=1e-5)


def test_demodulation_keeps_unit_variance():
    torch.manual_seed(0)
    x = torch.randn(8, 64, 16, 16)  # unit-variance, independent inputs
    styles = torch.rand(8, 64) * 3  # strong, uneven modulation
    out = modulated_conv2d(x, torch.randn(32, 64, 3, 3), styles)
    inner = out[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert abs(inner.var().item() - 1) < 0.05
    # without demodulation the variance follows the styles' scale
    assert modulated_conv2d(x, torch.randn(32, 64, 3, 3), styles, demodulate=False)[:, :, 1:-1, 1:-1].var() > 10


@pytest.mark.parametrize("size, num_ws", [(8, 4), (16, 6), (28, 6), (32, 8)])
def test_shapes_and_number_of_ws(size, num_ws):
    G, D = nets((3, size, size))
    z = torch.randn(4, 8)
    img, ws = G(z, return_ws=True)
    assert img.shape == (4, 3, size, size) and ws.shape == (4, num_ws, 8)
    assert img.min() >= -1 and img.max() <= 1
    assert D(img).shape == (4,)


@pytest.mark.parametrize("shape, message", [((1, 6, 6), "cannot make 6x6"), ((1, 16, 8), "square"), ((1, 5, 5), "cannot make 5x5")])
def test_bad_sizes_are_refused(shape, message):
    with pytest.raises(ConfigError, match=message):
        nets(shape)


@pytest.mark.parametrize("g, d, message", [
    ({"output": "sigmoid"}, {}, "model.g.output"),
    ({"style_mixing": 1.5}, {}, "style_mixing"),
    ({}, {"architecture": "skip"}, "model.d.architecture"),
    ({}, {"mbstd_channels": 3}, "mbstd_channels"),
])  # fmt: skip
def test_bad_options_are_refused(g, d, message):
    with pytest.raises(ConfigError, match=message):
        nets(g=g, d=d)


def test_w_avg_moves_in_training_mode_only():
    G, _ = nets()
    G.mapping(torch.randn(16, 8))
    moved = G.mapping.w_avg.clone()
    assert moved.abs().sum() > 0
    G.eval()
    G(torch.randn(4, 8))
    assert torch.equal(G.mapping.w_avg, moved)


def test_style_mixing_takes_later_ws_from_a_second_z():
    G, _ = nets(g={"style_mixing": 1.0})
    z = torch.randn(4, 8)
    _, ws = G(z, return_ws=True)
    own = G.mapping(z)
    same = (ws == own).all(dim=2).all(dim=0)  # (num_ws,): which ws are z's own
    k = int(same.long().sum())  # the crossover: z's own up to k, the second z's after
    assert 1 <= k < G.num_ws and same[:k].all() and not same[k:].any()


def test_eval_mode_noise_is_fixed_so_a_code_always_gives_one_image():
    G, _ = nets()
    for layer in G.modules():
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(0.5)
    z = torch.randn(2, 8)
    G.eval()
    assert torch.equal(G(z), G(z))
    G.train()
    G.style_mixing = 0.0
    assert not torch.equal(G(z), G(z))  # fresh noise in training


def test_truncation_one_changes_nothing_and_zero_gives_the_average_ws_image():
    G, _ = nets()
    G.mapping(torch.randn(64, 8))  # give w_avg a value
    G.eval()
    z = torch.randn(3, 8)
    plain = G(z)
    with truncating(G, 1.0):
        assert torch.equal(G(z), plain)
    with truncating(G, 0.0):
        at_zero = G(z)
    average = G.synthesis(G.mapping.w_avg.expand(1, G.num_ws, -1))
    assert_close(at_zero, average.expand(3, -1, -1, -1))
    assert torch.equal(G(z), plain)  # restored
    with truncating(G, 0.5):
        _, ws = G(z, return_ws=True)
    assert_close(ws, G.mapping.w_avg.lerp(G.mapping(z), 0.5))


def test_truncation_is_refused_outside_0_1_and_for_families_without_it():
    G, _ = nets()
    with pytest.raises(ConfigError, match=r"in \[0, 1\]"):
        truncating(G, 1.5)
    dcgan, _ = build_models(ModelConfig(name="dcgan", z_dim=8, g={"width": 4}, d={"width": 4}), (1, 16, 16), "image")
    with pytest.raises(ConfigError, match="truncation: this generator has no truncation trick"):
        truncating(dcgan, 0.7)


def test_minibatch_stddev_is_zero_for_identical_samples_and_any_batch_works():
    layer = MinibatchStd(group=4, channels=1)
    same = torch.randn(1, 3, 2, 2).expand(8, -1, -1, -1)
    out = layer(same)
    assert out.shape == (8, 4, 2, 2) and out[:, 3].max() < 1e-3
    assert layer(torch.randn(6, 3, 2, 2)).shape == (6, 4, 2, 2)  # groups of gcd(4, 6) = 2


TRAIN = ["--preset", "stylegan2-demo", "--data", "fake", "--image-size", "8", "--batch-size", "4", "--steps", "2",
         "--no-progress", "channels=1", "n_samples=4", "model.g.channel_base=32", "model.g.channel_max=4",
         "model.d.channel_base=32", "model.d.channel_max=4", "model.z_dim=8", "model.g.w_dim=8"]  # fmt: skip


@pytest.fixture(scope="module")
def stylegan2_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "sg2"
    assert main(["train", *TRAIN, "--out", str(out)]) == 0
    return out


def test_generate_with_truncation(stylegan2_run, tmp_path):
    paths = {name: tmp_path / f"{name}.npz" for name in ("plain", "one", "zero")}
    assert main(["generate", str(stylegan2_run), "-n", "3", "-o", str(paths["plain"])]) == 0
    assert main(["generate", str(stylegan2_run), "-n", "3", "-o", str(paths["one"]), "--truncation", "1"]) == 0
    assert main(["generate", str(stylegan2_run), "-n", "3", "-o", str(paths["zero"]), "--truncation", "0"]) == 0
    plain, one, zero = (np.load(p)["samples"] for p in paths.values())
    assert np.array_equal(plain, one)
    assert (zero == zero[:1]).all() and not (plain == plain[:1]).all()  # psi 0: every sample is the average w's


@pytest.mark.parametrize("psi", ["1.5", "-0.1"])
def test_generate_refuses_truncation_outside_0_1(stylegan2_run, tmp_path, capsys, psi):
    assert main(["generate", str(stylegan2_run), "-o", str(tmp_path / "x.png"), f"--truncation={psi}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("ganforge: error:") and "--truncation must be in [0, 1]" in err


def test_generate_refuses_truncation_for_a_family_without_it(tmp_path, capsys):
    out = tmp_path / "dc"
    argv = ["train", "--preset", "dcgan-demo", "--data", "fake", "--image-size", "8", "--batch-size", "4", "--steps", "1", "--no-progress",
            "channels=1", "n_samples=4", "model.g.width=4", "model.d.width=4", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["generate", str(out), "-o", str(tmp_path / "x.png"), "--truncation", "0.7"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "truncation: model 'dcgan' has no truncation trick (models with one: biggan" in err
