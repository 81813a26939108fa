"""Resizing for the evaluator network: clean-fid's PIL bicubic on uint8 images, named on the card;
older cards still read; a bad --resize is one error line."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
from ganforge.cli import main
from ganforge.errors import ConfigError
from ganforge.metrics.evaluator import resolve_evaluator
from ganforge.metrics.features import InceptionV3, ModuleFeatures, pil_bicubic_resize, resize_method, to_uint8


def images(n=3, c=3, h=9, w=7, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def pil_reference(x_uint8: torch.Tensor, size: int) -> torch.Tensor:
    """PIL's own resize of each uint8 channel (as a float image, clean-fid's way), clipped to [0, 255]."""
    out = [
        [np.asarray(Image.fromarray(ch).convert("F").resize((size, size), Image.BICUBIC)) for ch in img]
        for img in x_uint8.numpy()
    ]
    return torch.from_numpy(np.clip(np.array(out), 0, 255))


def test_pil_bicubic_equals_pil_on_the_uint8_image():
    x = to_uint8(images())
    ours = pil_bicubic_resize(x, 11)
    assert ours.shape == (3, 3, 11, 11) and torch.equal(ours, pil_reference(x, 11))
    # Bicubic overshoots at edges and float mode keeps fractions: not what a bilinear or re-quantised path gives.
    assert (ours != ours.round()).any()
    with pytest.raises(Exception, match="uint8"):
        pil_bicubic_resize(x.float(), 11)


class Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3 * 5 * 5, 4)

    def forward(self, x):
        return self.head(x.flatten(1))


def test_offline_evaluator_pil_path_and_cards():
    net = Flat()
    x = images(h=8, w=8)
    pil = ModuleFeatures(net, name="flat", image_size=5, resize="pil-bicubic")
    feats, _ = pil.features_and_logits(x)
    expected = (pil_reference(to_uint8(x), 5) / 127.5 - 1).flatten(1).float()
    torch.testing.assert_close(feats, expected, rtol=0, atol=1e-6)
    assert pil.resize == "pil-bicubic: uint8 quantisation, PIL bicubic per channel to 5x5"
    legacy = ModuleFeatures(net, name="flat", image_size=5)  # the default keeps existing scores
    assert legacy.resize == "legacy-tensor: antialiased bilinear to 5x5"
    assert not torch.allclose(legacy(x), feats)
    assert resize_method(pil.resize) == "pil-bicubic" and resize_method(legacy.resize) == "legacy-tensor"
    # Cards written before the choice existed read as the legacy path; no resize reads as None.
    assert resize_method("antialiased bilinear to 28x28, 1 channels") == "legacy-tensor"
    assert resize_method("uint8 quantisation, grey->RGB, torch-fidelity TF1-compatible bilinear to 299x299") == "legacy-tensor"
    assert resize_method("none (native resolution)") is None and resize_method(None) is None


class StubInception(nn.Module):
    """Stands in for torch-fidelity's network: records what it is fed (no 24M-parameter build)."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.seen = []

    def forward(self, x):
        self.seen.append(x)
        return torch.zeros(len(x), 2048), torch.zeros(len(x), 1008)


def test_inception_pil_path_feeds_uint8_299_and_names_it(monkeypatch):
    monkeypatch.setattr(tf_inception, "FeatureExtractorInceptionV3", StubInception)
    ex = InceptionV3(resize="pil-bicubic")
    x = images(n=2, c=1, h=28, w=28)
    ex(x)
    fed = ex.network.seen[0]
    assert fed.dtype == torch.uint8 and fed.shape == (2, 3, 299, 299)
    assert torch.equal(fed[:, :1], pil_reference(to_uint8(x), 299).round().to(torch.uint8))
    assert torch.equal(fed[:, 0], fed[:, 2])  # grey -> RGB after the resize
    assert ex.describe()["resize"].startswith("pil-bicubic: ")
    legacy = InceptionV3()
    legacy(x)
    assert legacy.network.seen[0].shape == (2, 3, 28, 28)  # torch-fidelity resizes inside, as before
    assert resize_method(legacy.resize) == "legacy-tensor"


def test_a_bad_resize_is_one_error_line(capsys, tmp_path):
    assert main(["eval", str(tmp_path), "--resize", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert err == "ganforge: error: unknown resize 'bicubic'; valid: legacy-tensor, pil-bicubic\n"
    with pytest.raises(ConfigError, match="unknown resize 'lanczos'"):
        resolve_evaluator("ring8", "points", 0, resize="lanczos")


def test_eval_help_lists_dc_and_resize(capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "dc" in out.split("Metrics:")[1].split(".")[0] and "--resize" in out
