"""Translation metrics: SSIM/PSNR/L1 against hand computation and scikit-image, label preservation, the cards."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganforge.errors import ConfigError
from ganforge.metrics.evaluator import Evaluator
from ganforge.metrics.features import ModuleFeatures
from ganforge.metrics.translation import (
    DirectionReference, expected_metrics, gaussian_window, higher_is_better, l1_error, label_preservation, psnr,
    score_translation, ssim, target_reference,
)  # fmt: skip


def test_ssim_of_an_image_with_itself_is_one():
    x = torch.rand(3, 3, 16, 20, generator=torch.Generator().manual_seed(0))
    assert_close(ssim(x, x, 1.0), torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-12)


def test_ssim_of_constant_images_is_the_luminance_term_by_hand():
    # Constant images: sigma_x = sigma_y = sigma_xy = 0, so the contrast-structure term is C2 / C2 = 1 and
    # SSIM = (2 a b + C1) / (a^2 + b^2 + C1) with C1 = (0.01 L)^2.
    x, y = torch.full((1, 1, 11, 13), 0.5), torch.full((1, 1, 11, 13), 0.25)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert_close(ssim(x, y, 1.0), torch.tensor([expected], dtype=torch.float64), rtol=1e-12, atol=0)
    # The data range enters only through C1, C2: L = 255 on the same pixels gives C1 = 2.55^2.
    c1 = (0.01 * 255) ** 2
    assert_close(ssim(x, y, 255.0), torch.tensor([(0.25 + c1) / (0.3125 + c1)], dtype=torch.float64), rtol=1e-12, atol=0)


def test_ssim_matches_scikit_image_with_wang_et_al_settings():
    metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 24, 31, generator=g)
    y = (x + 0.2 * torch.randn(2, 3, 24, 31, generator=g)).clamp(0, 1)
    ours = ssim(x, y, 1.0)
    for i in range(2):
        theirs = metrics.structural_similarity(
            x[i].numpy().astype(np.float64), y[i].numpy().astype(np.float64), data_range=1.0, channel_axis=0,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        )  # fmt: skip
        assert_close(ours[i].item(), float(theirs), rtol=1e-9, atol=1e-12)


def test_gaussian_window_and_small_images():
    w = gaussian_window()
    assert w.shape == (11,) and abs(w.sum().item() - 1) < 1e-15 and w.argmax() == 5
    assert_close(w[4] / w[5], torch.tensor(math.exp(-1 / (2 * 1.5**2)), dtype=torch.float64))
    with pytest.raises(ConfigError, match="at least 11 px"):
        ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), 1.0)
    with pytest.raises(ConfigError, match="one shape"):
        psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 3, 8, 8), 1.0)


def test_psnr_l1_and_label_preservation_by_hand():
    x = torch.zeros(2, 1, 4, 4)
    y = torch.stack([torch.full((1, 4, 4), 0.1), torch.zeros(1, 4, 4)])
    # MSE 0.01 with L = 1: 10 log10(1 / 0.01) = 20 dB; identical images: infinite
    assert_close(psnr(y, x, 1.0), torch.tensor([20.0, math.inf], dtype=torch.float64))
    assert_close(psnr(2 * y, 2 * x, 2.0)[0].item(), 20.0)  # scaling pixels and range together changes nothing
    y[1, 0, 0, :2] = torch.tensor([1.0, -1.0])  # |.| sums to 2 over 16 pixels
    assert_close(l1_error(y, x), torch.tensor([0.1, 2 / 16], dtype=torch.float64))
    assert label_preservation(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 0, 3, 4])) == 0.75
    with pytest.raises(ConfigError):
        label_preservation(torch.tensor([1, 2]), torch.tensor([1, 2, 3]))


def test_higher_is_better():
    assert higher_is_better("paired/AtoB/psnr") and higher_is_better("paired/AtoB/ssim") and higher_is_better("labels/AtoB")
    assert not any(higher_is_better(m) for m in ("cycle/AtoBtoA", "fid/AtoB", "kid/BtoA", "paired/AtoB/l1"))


class Brightness(nn.Module):
    """A stub 'classifier': features = the flattened pixels, class 1 when the mean pixel is positive."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(2, 2)

    def forward(self, x):
        m = x.flatten(1).mean(1, keepdim=True)
        return self.head(torch.cat([m, -m], 1))


def test_score_translation_cards_on_known_translators():
    g = torch.Generator().manual_seed(2)
    a = torch.rand(6, 3, 12, 12, generator=g) * 2 - 1
    a[:3] = -a[:3].abs()  # three dark images (label 0), three bright (label 1)
    a[3:] = a[3:].abs()
    head = Brightness()
    with torch.no_grad():
        head.head.weight.copy_(torch.eye(2)[[1, 0]])  # logits (-m, m): argmax 1 when m > 0
        head.head.bias.zero_()
    ex = ModuleFeatures(head)
    ev = Evaluator(ex, 2, lambda x: ex.logits(x).argmax(1), "stub")
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    ref = target_reference(ev, -a, -a, "negatives")
    refs = [DirectionReference("AtoB", a, labels, target=-a, evaluator=ev, reference=ref, target_name="negatives"),
            DirectionReference("BtoA", -a, None, target_name="A")]  # fmt: skip
    negate = {"AtoB": lambda x: -x, "BtoA": lambda x: -x}
    cards = {c.metric: c for c in score_translation(negate, refs)}
    assert set(cards) == set(expected_metrics(refs, ("AtoB", "BtoA")))
    assert cards["cycle/AtoBtoA"].value == 0 and cards["cycle/BtoAtoB"].value == 0  # -(-x) = x exactly
    assert cards["paired/AtoB/l1"].value == 0 and cards["paired/AtoB/psnr"].value == math.inf
    assert_close(cards["paired/AtoB/ssim"].value, 1.0)
    assert cards["labels/AtoB"].value == 0.0  # negation flips every brightness class
    assert cards["fid/AtoB"].value == pytest.approx(0, abs=1e-6)  # translations are the reference itself
    keep = {"AtoB": lambda x: x, "BtoA": lambda x: x}
    cards = {c.metric: c for c in score_translation(keep, refs)}
    assert cards["labels/AtoB"].value == 1.0 and cards["cycle/AtoBtoA"].value == 0
    assert_close(cards["paired/AtoB/l1"].value, a.abs().mean().double().item() * 2)  # |a - (-a)| = 2|a|
