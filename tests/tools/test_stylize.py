"""Style transfer: the maths (Gram matrix, losses), the hooks, the optimiser, the offline proof on a
bundled texture, and the errors a user meets. Small random networks keep it fast on a CPU."""
import urllib.error

import pytest
import torch
from torch import nn

from ganforge.cli import main
from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.tools.feature_hooks import FeatureHooks, capture
from ganforge.tools.feature_nets import module_feature_net, vgg_feature_net
from ganforge.tools.image_io import load_image, resize_short_side
from ganforge.tools.stylize import content_loss, gram_matrix, style_loss, stylize


def tiny_net(channels: int = 1, seed: int = 0) -> nn.Module:
    """A random VGG-like stack: conv-ReLU-conv-ReLU-pool, conv-ReLU-pool, conv-ReLU, 2 logits."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (16, S/2, S/2)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (32, S/4, S/4)
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 2),  # a head for 16x16 inputs
    )  # fmt: skip


def tiny_feature_net(channels: int = 1, seed: int = 0):
    return module_feature_net(tiny_net(channels, seed), channels, 16, "tiny random net")


def no_hooks(net: nn.Module) -> bool:
    return all(not m._forward_hooks for m in net.modules())


def texture(name: str, size: int) -> torch.Tensor:
    return resize_short_side(load_image(name, channels=1), size)[None]


@pytest.fixture(scope="module")
def vgg16_random():
    return vgg_feature_net("vgg16", weights=None)


@pytest.fixture(scope="module")
def vgg16_file(vgg16_random, tmp_path_factory):
    """vgg16_random's weights as a features-only state dict named as torchvision names it ("0.weight")."""
    state = {f"{i}.{key}": value for i, layer in enumerate(vgg16_random.net) for key, value in layer.state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "vgg16-features.pth"
    torch.save(state, path)
    return str(path)


# --- the maths ---------------------------------------------------------------------------------------


def test_gram_matrix_matches_hand_computation():
    # One image, 2 channels of 1x2 pixels: F = [[1, 2], [3, 4]], F F^T = [[5, 11], [11, 25]], / (2*1*2).
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    torch.testing.assert_close(gram_matrix(f), torch.tensor([[[1.25, 2.75], [2.75, 6.25]]]))
    # A batch gives one Gram matrix per image, not cross-image products.
    g = gram_matrix(torch.cat([f, 2 * f]))
    assert g.shape == (2, 2, 2)
    torch.testing.assert_close(g[1], 4 * g[0])


def test_losses_are_zero_at_the_target_and_positive_elsewhere():
    torch.manual_seed(0)
    feats = {"a": torch.rand(2, 3, 4, 4), "b": torch.rand(2, 5, 2, 2)}
    grams = {k: gram_matrix(v) for k, v in feats.items()}
    assert content_loss(feats["a"], feats["a"]).item() == 0.0
    assert style_loss(feats, grams).item() == 0.0
    assert content_loss(feats["a"] + 0.1, feats["a"]).item() == pytest.approx(2 * 0.01)  # per image, summed
    assert style_loss({"a": feats["a"] * 2, "b": feats["b"]}, grams).item() > 0


def test_objective_is_zero_when_the_image_is_both_targets():
    fn = tiny_feature_net()
    image = texture("brick", 16)
    result = stylize(fn, image, image, init="content", steps=1, progress=False)
    assert result.history[0] == {"content": 0.0, "style": 0.0, "objective": 0.0}


# --- hooks -------------------------------------------------------------------------------------------


def test_hooks_capture_named_layers_and_are_removed_afterwards():
    net = tiny_net()
    x = torch.rand(2, 1, 16, 16)
    feats = capture(net, x, ["3", "6"])
    assert feats["3"].shape == (2, 16, 16, 16) and feats["6"].shape == (2, 32, 8, 8)
    torch.testing.assert_close(feats["3"], net[:4](x))
    assert no_hooks(net)
    # The layer a hook captured is a copy: the next call does not change what an earlier call returned.
    before = feats["3"].clone()
    capture(net, torch.rand(2, 1, 16, 16), ["3"])
    torch.testing.assert_close(feats["3"], before)


def test_hooks_survive_inplace_relu_after_a_captured_conv():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 4, 3, padding=1))
    x = torch.randn(1, 1, 8, 8)
    feats = capture(net, x, ["0", "2"])
    torch.testing.assert_close(feats["0"], net[0](x))  # negative values kept: not overwritten by the ReLU
    assert (feats["0"] < 0).any()


def test_stylize_leaves_no_hooks_even_when_it_fails():
    fn = tiny_feature_net()
    stylize(fn, None, texture("brick", 16), steps=2, progress=False)
    assert no_hooks(fn.net)
    with pytest.raises(DataError, match="too small"):
        stylize(fn, None, texture("brick", 1), steps=2, progress=False)  # 1x1 -> pooled to 0x0
    assert no_hooks(fn.net)


def test_unknown_layer_lists_the_valid_ones(vgg16_random):
    with pytest.raises(ConfigError, match=r"unknown layer 'relu4_4'.*valid: .*relu4_3"):
        stylize(vgg16_random, torch.rand(1, 3, 32, 32), None, content_layer="relu4_4", steps=1, progress=False)
    with pytest.raises(ConfigError, match=r"unknown layer 'nope'"):
        FeatureHooks(tiny_net(), ["nope"])


# --- networks ----------------------------------------------------------------------------------------


def test_vgg_layers_default_to_those_before_each_max_pool(vgg16_random):
    assert vgg16_random.style_layers == ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
    assert vgg16_random.content_layer == "relu4_3"
    assert vgg16_random.min_size(["relu5_3"]) == 16 and vgg16_random.min_size(["relu1_1"]) == 1


def test_too_small_image_for_vgg_layers_is_a_clear_error(vgg16_random):
    with pytest.raises(DataError, match=r"too small for layer relu5_3.*at least 16 pixels"):
        stylize(vgg16_random, torch.rand(1, 3, 12, 12), torch.rand(1, 3, 12, 12), steps=1, progress=False)


def test_local_vgg_weights_load_and_bad_files_are_refused(vgg16_random, vgg16_file, tmp_path):
    loaded = vgg_feature_net("vgg16", weights=vgg16_file)
    assert list(loaded.net.state_dict()) == list(vgg16_random.net.state_dict())  # conv1_1.weight, ...
    for a, b in zip(loaded.net.state_dict().values(), vgg16_random.net.state_dict().values()):
        assert torch.equal(a, b)
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read weights file"):
        vgg_feature_net("vgg16", weights=str(tmp_path / "bad.pth"))
    with pytest.raises(CheckpointError, match="no weights file"):
        vgg_feature_net("vgg16", weights=str(tmp_path / "missing.pth"))


def test_offline_pretrained_weights_explain_the_way_out(monkeypatch):
    import torchvision.models as tvm

    def offline(weights=None):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(tvm, "vgg19", offline)
    with pytest.raises(CheckpointError, match=r"vgg19-dcbb9e9d\.pth.*--weights PATH"):
        vgg_feature_net("vgg19", weights="default")


def test_a_user_trained_classifier_gives_layers_before_each_downsampling():
    from ganforge.classify import build_classifier

    fn = module_feature_net(build_classifier("cnn", 1, 28, 10), 1, 28, "cnn")
    # TwoConvCNN: [conv, BN, ReLU, maxpool] x 2 -> the ReLUs before the pools.
    assert fn.style_layers == ["features.2", "features.6"] and fn.content_layer == "features.6"
    # The linear head never runs (the forward pass stops after the last hooked layer), so any size works.
    result = stylize(fn, None, texture("grass", 20), steps=3, progress=False)
    assert result.images.shape == (1, 1, 20, 20)


# --- the optimiser, and the offline proof ------------------------------------------------------------


def test_lbfgs_decreases_the_loss_on_a_tiny_image():
    fn = tiny_feature_net(channels=3)
    torch.manual_seed(1)
    content, style = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 24, 20)
    result = stylize(fn, content, style, steps=15, progress=False)
    objectives = [h["objective"] for h in result.history]
    assert result.final["objective"] < 0.2 * objectives[0]
    assert result.images.shape == (1, 3, 16, 16) and 0 <= result.images.min() and result.images.max() <= 1


def test_adam_and_content_init():
    fn = tiny_feature_net()
    content, style = texture("chelsea", 16)[..., :16], texture("grass", 16)
    result = stylize(fn, content, style, init="content", optimizer="adam", steps=3, progress=False)
    assert result.history[0]["content"] == 0.0 and result.history[0]["style"] > 0  # starts at the photo
    assert (result.iterations, result.evaluations) == (3, 3)
    assert result.final["objective"] < result.history[0]["objective"]
    with pytest.raises(ConfigError, match="--init content needs a content image"):
        stylize(fn, None, style, init="content", steps=1, progress=False)


def test_texture_synthesis_matches_the_texture_gram_statistics():
    """Offline proof with a fixed random network: the Gram loss falls by orders of magnitude, and the
    synthesised texture's Gram matrices are closer to brick's than to grass's or gravel's."""
    fn = tiny_feature_net()
    brick = texture("brick", 32)
    result = stylize(fn, None, brick, steps=30, progress=False)
    assert result.final["style"] < 1e-2 * result.history[0]["style"]

    def features(image):
        return capture(fn.net, fn.prepare(image), fn.style_layers)

    def grams(image):
        return {k: gram_matrix(v) for k, v in features(image).items()}

    synthesised = features(result.images)
    distance = {name: style_loss(synthesised, grams(texture(name, 32))).item() for name in ("brick", "grass", "gravel")}
    assert distance["brick"] < 0.1 * min(distance["grass"], distance["gravel"])


def test_content_reconstruction_approaches_the_content_image():
    fn = tiny_feature_net()
    cat = resize_short_side(load_image("chelsea", channels=1), 24)[:, :, :24][None]
    result = stylize(fn, cat, None, content_layer="3", steps=30, progress=False)
    start = torch.rand(cat.shape, generator=torch.Generator().manual_seed(0))
    assert (result.images - cat).pow(2).mean() < 0.1 * (start - cat).pow(2).mean()


def test_a_batch_is_optimised_as_independent_images():
    # Per-image losses summed over the batch: each image gets the gradient it would get alone.
    fn = tiny_feature_net()
    style = texture("gravel", 16)
    images = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(3), requires_grad=True)
    target = {k: gram_matrix(v) for k, v in capture(fn.net, fn.prepare(style), fn.style_layers).items()}

    def loss(x):
        return style_loss(capture(fn.net, fn.prepare(x), fn.style_layers), target)

    (batch_grad,) = torch.autograd.grad(loss(images), images)
    (alone_grad,) = torch.autograd.grad(loss(images[:1]), images)
    torch.testing.assert_close(batch_grad[:1], alone_grad[:1])
    result = stylize(fn, images.detach(), style, steps=2, progress=False)
    assert result.images.shape == (2, 1, 16, 16)


# --- the command -------------------------------------------------------------------------------------


def test_cli_texture_with_intermediate_images(vgg16_file, tmp_path, capsys):
    out = tmp_path / "tex.png"
    code = main(["stylize", "--style-only", "brick", "-o", str(out), "--network", "vgg16", "--weights", vgg16_file,
                 "--size", "16", "--steps", "2", "--save-every", "1", "--style-layers", "relu1_2,relu2_2", "--quiet"])  # fmt: skip
    assert code == 0
    from PIL import Image

    assert Image.open(out).size == (16, 16)
    assert (tmp_path / "tex-step00001.png").exists() and (tmp_path / "tex-step00002.png").exists()
    assert "loss" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["stylize", "missing.png", "brick", "-o", "x.png", "--random-weights"], "no such image file: missing.png"),
        (["stylize", "brick", "-o", "x.png", "--random-weights"], "CONTENT [CONTENT ...] STYLE"),
        (["stylize", "--style-only", "brick", "-o", "x.png", "--network", "alexnet"], "unknown network 'alexnet'"),
    ],
)  # fmt: skip
def test_cli_bad_input_is_a_clear_error(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--content-weight", "--style-weight"])
def test_cli_negative_weight_is_refused_naming_the_flag(flag, capsys, tmp_path, monkeypatch):
    # A negative weight turns minimising that loss into maximising it: refused before any network is built.
    monkeypatch.chdir(tmp_path)
    argv = ["stylize", "chelsea", "brick", "-o", "x.png", "--random-weights", "--network", "vgg16", "--size", "16",
            "--steps", "1", "--style-layers", "relu1_2", "--content-layer", "relu1_2", "--quiet", flag, "-1"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ganforge: error: {flag} must be >= 0, got -1") and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("weight", ["content_weight", "style_weight"])
def test_negative_or_non_finite_weight_is_refused_by_the_tool(weight):
    fn = tiny_feature_net()
    image = texture("brick", 16)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match=f"{weight} must be >= 0"):
            stylize(fn, image, image, steps=1, progress=False, **{weight: bad})


class NotAllowlisted:
    """A plain class that torch's weights_only allowlist does not know."""


def test_tampered_vgg_weights_file_gives_no_advice_to_load_it_unsafely(tmp_path):
    torch.save({"0.weight": torch.zeros(1), "x": NotAllowlisted()}, tmp_path / "tampered.pth")
    with pytest.raises(CheckpointError, match="cannot read weights file .*Unsupported global") as e:
        vgg_feature_net("vgg16", weights=str(tmp_path / "tampered.pth"))
    assert "NotAllowlisted" in str(e.value)
    assert not any(advice in str(e.value) for advice in ("weights_only", "trust", "safe_globals"))
