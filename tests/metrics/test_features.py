"""Feature extractors: a classifier as offline evaluator; Inception-v3 from a local weights file, and a
clear message without one offline."""
import io
import re
import sys
import urllib.error

import pytest
import torch
from torch import nn

import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
from ganforge.errors import ConfigError, GanforgeError
from ganforge.metrics.features import (
    InceptionV3, ModuleFeatures, PixelFeatures, extract, feature_space_of, inception_v3, to_uint8,
)
from ganforge.metrics.protocol import state_dict_sha256


class TinyClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(16, 10)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


class NoLinearClassifier(nn.Module):
    """Convolutions only: the evaluator falls back to its features(x) method."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.classes = nn.Conv2d(4, 10, 1)

    def features(self, x):
        return self.conv(x).mean((2, 3), keepdim=True)  # (N, 4, 1, 1)

    def forward(self, x):
        return self.classes(self.features(x)).flatten(1)


def images(n=6, c=1, size=8, seed=0):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_a_classifier_gives_features_and_logits():
    torch.manual_seed(0)
    net = TinyClassifier()
    ex = ModuleFeatures(net, name="tiny")
    x = images()
    feats, logits = ex.features_and_logits(x)
    torch.testing.assert_close(feats, net.body(x))
    torch.testing.assert_close(logits, net(x))
    assert ex.describe() == {
        "extractor": "tiny", "extractor_weights_sha256": state_dict_sha256(net), "resize": "none (native resolution)",
        "feature_space": "evaluator", "input_size": None,
    }


def test_features_from_a_named_layer_or_the_class_head():
    torch.manual_seed(0)
    net = TinyClassifier()
    x = images()
    by_layer = ModuleFeatures(net, feature_layer="body.3")(x)  # input of the Flatten: pooled (N, 4, 2, 2)
    torch.testing.assert_close(by_layer, net.body(x))
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 5), nn.ReLU(), nn.Linear(5, 3))
    torch.testing.assert_close(ModuleFeatures(plain)(x), plain[:3](x))  # input of the last Linear
    no_linear = NoLinearClassifier()
    torch.testing.assert_close(ModuleFeatures(no_linear)(x), no_linear.features(x).flatten(1))  # its features()
    with pytest.raises(ConfigError, match="no layer 'neck'"):
        ModuleFeatures(net, feature_layer="neck")
    with pytest.raises(ConfigError, match="cannot serve as an evaluator"):
        ModuleFeatures(nn.Sequential(nn.Flatten()))


def test_inputs_are_resized_to_the_evaluator(monkeypatch):
    torch.manual_seed(0)
    net = TinyClassifier()
    ex = ModuleFeatures(net, image_size=8, channels=1)
    feats = ex(images(c=3, size=16))
    assert feats.shape == (6, 16) and "8x8" in ex.resize


def test_pixel_features_are_the_flattened_images():
    x = images(n=4, c=3, size=8)
    ex = PixelFeatures(native_size=8)
    feats, logits = ex.features_and_logits(x)
    assert feats.shape == (4, 3 * 8 * 8) and logits is None and not ex.has_logits
    torch.testing.assert_close(feats, x.flatten(1), rtol=0, atol=0)
    assert ex.describe() == {"extractor": "pixels", "extractor_weights_sha256": None, "resize": "none (the data's own size)",
                             "feature_space": "pixels", "input_size": 8}  # fmt: skip
    small = PixelFeatures(size=4)  # resized first, as the offline evaluator resizes
    assert small(x).shape == (4, 3 * 4 * 4) and small.describe()["input_size"] == 4
    assert small.resize == "legacy-tensor: antialiased bilinear to 4x4"
    with pytest.raises(ConfigError, match="gives no class logits"):
        ex.logits(x)


def test_cards_from_before_feature_spaces_read_their_space_off_the_extractor():
    assert feature_space_of({"extractor": "inception-v3-compat"}) == "inception"
    assert feature_space_of({"extractor": "points (identity)"}) == "points"
    assert feature_space_of({"extractor": "cnn-digits classifier", "resize": "none"}) == "evaluator"
    assert feature_space_of({"extractor": None}) is None and feature_space_of({}) is None
    assert feature_space_of({"extractor": "vit_small_patch14_dinov2", "feature_space": "dinov2-vits14"}) == "dinov2-vits14"


def test_extract_in_batches_equals_one_pass():
    torch.manual_seed(0)
    ex = ModuleFeatures(TinyClassifier())
    x = images(n=10)
    feats, logits = extract(ex, x, batch_size=3, logits=True)
    torch.testing.assert_close(feats, ex(x))
    assert logits.shape == (10, 10)
    loader = [(x[:4], None), (x[4:], None)]
    torch.testing.assert_close(extract(ex, loader)[0], feats)


def test_uint8_quantisation_rounds_like_save_image():
    x = torch.tensor([-1.0, -0.998, 0.0, 0.999, 1.0])
    assert to_uint8(x).tolist() == [0, 0, 128, 255, 255]


def test_inception_offline_without_weights_says_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached download

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", no_network)
    with pytest.raises(GanforgeError, match="--inception-weights PATH") as e:
        inception_v3()
    assert tf_inception.URL_INCEPTION_V3 in str(e.value)
    with pytest.raises(GanforgeError, match="no such file"):
        inception_v3(tmp_path / "missing.pth")


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory):
    """torch-fidelity's Inception-v3 with random weights, saved as a weights file (no download)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        net = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], verbose=False)
    path = tmp_path_factory.mktemp("inception") / "weights.pth"
    torch.save(net.state_dict(), path)
    return path, state_dict_sha256(net)


@pytest.mark.slow  # builds and runs a 24M-parameter network at 299x299: a few seconds on a CPU
def test_inception_from_a_local_weights_file(random_inception_weights):
    path, sha = random_inception_weights
    ex = InceptionV3(path)
    feats, logits = ex.features_and_logits(images(n=1, c=1, size=28))  # grey digits are repeated to RGB
    assert feats.shape == (1, 2048) and logits.shape == (1, 1008) and feats.isfinite().all()
    assert ex.weights_hash == sha and ex.name == "inception-v3-compat" and "299x299" in ex.resize


def test_inception_rejects_a_foreign_weights_file(tmp_path):
    torch.save(TinyClassifier().state_dict(), tmp_path / "other.pth")
    with pytest.raises(GanforgeError, match="does not hold torch-fidelity Inception-v3 weights"):
        inception_v3(tmp_path / "other.pth")


class NotAllowlisted:
    """A plain class that torch's weights_only allowlist does not know."""


def test_inception_tampered_weights_file_gives_no_advice_to_load_it_unsafely(tmp_path):
    torch.save({"weight": torch.zeros(1), "x": NotAllowlisted()}, tmp_path / "tampered.pth")
    with pytest.raises(GanforgeError, match="not a plain PyTorch weights file: Unsupported global") as e:
        inception_v3(tmp_path / "tampered.pth")
    assert "NotAllowlisted" in str(e.value)
    assert not any(advice in str(e.value) for advice in ("weights_only", "trust", "safe_globals"))


class Terminal(io.StringIO):
    """stderr as an interactive terminal, where progress bars show."""

    def isatty(self):
        return True


def test_extract_shows_a_progress_bar_on_a_terminal_and_nothing_elsewhere(monkeypatch, capsys):
    ex = ModuleFeatures(TinyClassifier())
    plain = extract(ex, images(n=30), batch_size=10, desc="generated features")[0]
    assert capsys.readouterr().err == ""  # not a terminal (tests, pipes, log files): quiet
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    shown = extract(ex, images(n=30), batch_size=10, desc="generated features")[0]
    # The bar counts images against the total (tqdm redraws at most every 0.1 s; this run is quicker).
    assert re.search(r"generated features: .*\d+/30 ", terminal.getvalue()), terminal.getvalue()
    torch.testing.assert_close(shown, plain)
