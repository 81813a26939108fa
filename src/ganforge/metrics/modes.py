"""Mode coverage: which of the data's modes the generator reaches, and how evenly.

Three settings, one result type (`ModeCoverage`):

- Labelled data: an evaluator classifies each generated sample; the class histogram gives the modes
  covered (classes with at least `min_count` samples) and KL(p_gen || p_data) over classes.
- Stacked MNIST (Metz et al., 2017; VEEGAN; PacGAN): three MNIST digits stacked as RGB channels, 1,000
  modes. A digit classifier labels each channel; mode = 100 d0 + 10 d1 + d2; then as above against the
  uniform distribution (PacGAN's protocol: 26,000 samples, modes with >= 1 sample, KL to uniform).
- 2D mixtures `ring8`/`grid25` (VEEGAN, Srivastava et al., 2017; PacGAN, Lin et al., 2018): each sample
  is assigned to its nearest mode; it is *high quality* if it lies within 3 standard deviations of that
  mode's centre. Modes covered = modes with at least one high-quality sample; the high-quality share is
  over all samples; reverse KL = KL(histogram of high-quality samples over modes || uniform), as in
  PacGAN's evaluation code.

KL is in nats, with 0 log 0 = 0; it is infinite when the generator puts mass on a class the data lacks.
With finite samples, even a perfect generator misses modes and shows KL above zero; the cards report
that baseline (`expected_modes_covered`, and the plug-in KL bias (K - 1) / (2 n)) so a reader can tell
sampling noise from collapse.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..data.synthetic import MIXTURES
from ..errors import ConfigError, DataError
from . import METRICS
from .inputs import EvalInputs
from .protocol import ProtocolCard

STACKED_MNIST_MODES = 1000
PACGAN_STACKED_SAMPLES = 26_000  # PacGAN's Stacked MNIST protocol


@dataclass(frozen=True)
class ModeCoverage:
    histogram: np.ndarray  # (K,) samples counted per mode (for mixtures: high-quality samples only)
    modes_covered: int  # modes with at least min_count counted samples
    num_modes: int  # K
    kl_gen_data: float  # KL(p_gen || p_data) over modes, nats
    high_quality_share: float  # share of all samples that were counted (1.0 for classifier labels)
    n: int  # samples scored


def kl_divergence(p, q) -> float:
    """KL(p || q) in nats for two distributions over the same K outcomes (0 log 0 = 0)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    support = p > 0
    if np.any(q[support] <= 0):
        return math.inf
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def expected_modes_covered(n: int, data_distribution) -> float:
    """Modes a perfect generator covers on average with n samples: sum_k 1 - (1 - p_k)^n."""
    p = np.asarray(data_distribution, dtype=np.float64)
    return float(np.sum(1.0 - (1.0 - p) ** n))


def _distribution(data_distribution, num_classes: int) -> np.ndarray:
    if data_distribution is None:
        return np.full(num_classes, 1.0 / num_classes)
    q = torch.as_tensor(data_distribution).detach().cpu().double().numpy()
    if q.shape != (num_classes,) or (q < 0).any() or q.sum() <= 0:
        raise DataError(f"the data's class distribution must be {num_classes} non-negative weights, got {q.shape}")
    return q / q.sum()


def _coverage(counts: np.ndarray, n: int, q: np.ndarray, min_count: int) -> ModeCoverage:
    counted = int(counts.sum())
    p = counts / counted if counted else np.zeros_like(q)
    return ModeCoverage(
        histogram=counts,
        modes_covered=int((counts >= min_count).sum()),
        num_modes=len(q),
        kl_gen_data=kl_divergence(p, q) if counted else math.inf,
        high_quality_share=counted / n if n else 0.0,
        n=n,
    )


def class_histogram(labels, num_classes: int) -> np.ndarray:
    """(K,) counts of integer labels in [0, K)."""
    y = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"labels must lie in [0, {num_classes}), got values from {int(y.min())} to {int(y.max())}")
    return torch.bincount(y, minlength=num_classes).numpy()


def class_coverage(pred_labels, num_classes: int, data_distribution=None, min_count: int = 1) -> ModeCoverage:
    """Class histogram, modes covered and KL(gen || data) from predicted labels of generated samples.

    `data_distribution` is the data's class shares (K,) (e.g. a histogram of training labels); None
    means uniform.
    """
    counts = class_histogram(pred_labels, num_classes)
    return _coverage(counts, int(counts.sum()), _distribution(data_distribution, num_classes), min_count)


def stacked_mnist_labels(channel_digits) -> torch.Tensor:
    """(N, 3) digits predicted per channel (R, G, B) -> (N,) Stacked MNIST modes 100 d0 + 10 d1 + d2."""
    d = torch.as_tensor(channel_digits).long()
    if d.ndim != 2 or d.shape[1] != 3 or (d < 0).any() or (d > 9).any():
        raise DataError(f"stacked MNIST needs (N, 3) digits in 0..9, got shape {tuple(d.shape)}")
    return 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]


@torch.no_grad()
def classify_stacked_mnist(
    images: torch.Tensor, digit_classifier: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 500
) -> torch.Tensor:
    """(N,) Stacked MNIST modes of (N, 3, H, W) images, classifying each channel as a grey MNIST digit.

    `digit_classifier` maps (n, 1, H, W) images in [-1, 1] to (n, 10) digit logits (e.g. the classifier
    trainer's MNIST model, in eval mode).
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise DataError(f"stacked MNIST images must be (N, 3, H, W), got shape {tuple(images.shape)}")
    digits = []
    for batch in images.split(batch_size):
        n = len(batch)
        logits = digit_classifier(batch.reshape(n * 3, 1, *batch.shape[2:]))  # channels become samples
        digits.append(logits.argmax(1).reshape(n, 3).cpu())
    return stacked_mnist_labels(torch.cat(digits))


def stacked_mnist_coverage(labels, min_count: int = 1) -> ModeCoverage:
    """1,000-mode score of Stacked MNIST labels (0..999) against the uniform distribution."""
    return class_coverage(labels, STACKED_MNIST_MODES, None, min_count)


def mixture_coverage(points, mixture: str, n_std: float = 3.0, min_count: int = 1) -> ModeCoverage:
    """VEEGAN/PacGAN score of (N, 2) generated points on the named 2D mixture ('ring8' or 'grid25')."""
    if mixture not in MIXTURES:
        raise ConfigError(f"unknown mixture '{mixture}'; valid: {', '.join(sorted(MIXTURES))}")
    means_fn, std = MIXTURES[mixture]
    means = means_fn().double()
    x = torch.as_tensor(points).detach().cpu().double()
    if x.ndim != 2 or x.shape[1] != 2:
        raise DataError(f"mixture points must be (N, 2), got shape {tuple(x.shape)}")
    dist, nearest = torch.cdist(x, means).min(1)
    good = dist < n_std * std  # all modes share one isotropic std
    counts = torch.bincount(nearest[good], minlength=len(means)).numpy()
    return _coverage(counts, len(x), np.full(len(means), 1.0 / len(means)), min_count)


def _cards(
    cov: ModeCoverage, q: np.ndarray, setting: str, inputs: EvalInputs, with_quality: bool
) -> list[ProtocolCard]:
    """Cards for modes covered, KL (and the high-quality share for mixtures), sharing their extras."""
    expected = expected_modes_covered(cov.n, q)
    kl_bias = (cov.num_modes - 1) / (2 * cov.n) if cov.n else math.inf  # first-order plug-in bias, n >> K
    warnings = []
    if expected < cov.num_modes - 0.5:
        warnings.append(
            f"with {cov.n:,} samples a perfect generator would cover only about {expected:.1f} of "
            f"{cov.num_modes} modes; use more samples (PacGAN uses 26,000 for Stacked MNIST)"
        )
    extra = {
        "setting": setting,
        "num_modes": cov.num_modes,
        "histogram": cov.histogram,
        "perfect_generator_modes_covered": expected,
        "perfect_generator_kl_bias": kl_bias,
    }
    protocol = inputs.protocol()
    if setting.startswith("mixture"):
        # points are scored directly
        protocol.update(extractor=None, extractor_weights_sha256=None, resize=None, feature_space=None, input_size=None)
    scores = [("modes/covered", float(cov.modes_covered)), ("modes/kl", cov.kl_gen_data)]
    if with_quality:
        scores.append(("modes/high_quality", cov.high_quality_share))
    return [
        ProtocolCard(name, value, cov.n, None, **protocol, warnings=list(warnings), extra=dict(extra))
        for name, value in scores
    ]


@METRICS.register("modes")
def modes_metric(inputs: EvalInputs, min_count: int = 1) -> list[ProtocolCard]:
    """Mode coverage: modes covered, KL(gen || data) (and high-quality share on 2D mixtures)."""
    if inputs.gen_points is not None:
        inputs.require("modes", "mixture")
        cov = mixture_coverage(inputs.gen_points, inputs.mixture, min_count=min_count)
        q = np.full(cov.num_modes, 1.0 / cov.num_modes)
        return _cards(cov, q, f"mixture {inputs.mixture}, high quality = within 3 std of a mode", inputs, True)
    if inputs.gen_labels is None and inputs.gen_logits is None:
        raise ConfigError("metric 'modes' needs gen_points (2D mixtures) or gen_labels / gen_logits (labelled data)")
    labels = inputs.gen_labels if inputs.gen_labels is not None else inputs.gen_logits.argmax(1)
    num_classes = inputs.num_classes or (inputs.gen_logits.shape[1] if inputs.gen_logits is not None else None)
    if not num_classes:
        raise ConfigError("metric 'modes' needs num_classes with gen_labels")
    q = _distribution(inputs.data_class_distribution, num_classes)
    cov = class_coverage(labels, num_classes, q, min_count)
    return _cards(cov, q, f"classes predicted by the evaluator, {num_classes} modes", inputs, False)
