"""Memorization: does the generator hand back its training images?

For each generated sample we find its nearest training image, by L2 distance in evaluator-feature space
and in pixel space. A distance alone means little, so it is compared with a real-vs-real baseline:
real images the GAN never saw (the held-out split) are matched to their nearest training image the same
way, and the `quantile` (1 % by default) of those distances is the near-copy threshold. A generator
whose samples are as novel as fresh real data has about `quantile` of its samples under the threshold;
a memorizing one has many more. The report gives both shares, measured with the same rule, plus the
number of exact copies (same image once quantised to 8 bits).

`save_memorization_png` draws the closest pairs (generated | nearest training image) side by side.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.utils import make_grid, save_image

from ..errors import ConfigError, DataError
from . import METRICS
from .inputs import EvalInputs
from .protocol import ProtocolCard


@dataclass(frozen=True)
class Neighbours:
    index: torch.Tensor  # (N,) index of each query's nearest bank row
    distance: torch.Tensor  # (N,) its L2 distance, float64


@dataclass(frozen=True)
class SpaceReport:
    """Near-copy test in one space ('features' or 'pixels')."""

    space: str
    neighbours: Neighbours  # of each generated sample among the training set
    threshold: float  # `quantile` of held-out-to-training nearest distances
    near_copy: torch.Tensor  # (N,) bool: generated sample closer to training data than the threshold
    baseline_near_copy: torch.Tensor  # (H,) bool: the same test on held-out real images


@dataclass(frozen=True)
class MemorizationReport:
    spaces: dict  # name -> SpaceReport
    near_copy: torch.Tensor  # (N,) bool: a near-copy in any space
    share: float  # share of generated samples that are near-copies
    baseline_share: float  # share of held-out real images that pass the same test (about `quantile`)
    exact_copies: int  # generated samples equal to their nearest training image at 8 bits (pixels only)
    quantile: float


def _flat64(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x).detach().cpu()
    if x.ndim < 2:
        raise DataError(f"{name} must have a sample axis and at least one value per sample")
    return x.reshape(len(x), -1).double()


def nearest_neighbours(query, bank, batch_size: int = 1024) -> Neighbours:
    """Nearest row of `bank` (M, ...) for each row of `query` (N, ...), L2 over the flattened values."""
    q, b = _flat64(query, "queries"), _flat64(bank, "training set")
    if q.shape[1] != b.shape[1] or len(b) == 0:
        raise DataError(f"queries and training set must be non-empty and of equal size; got {q.shape} and {b.shape}")
    dist, index = [], []
    for qb in q.split(batch_size):
        d, i = torch.cdist(qb, b).min(1)  # float64: an exact copy lands within ~1e-7 of zero
        dist.append(d)
        index.append(i)
    return Neighbours(torch.cat(index), torch.cat(dist))


def near_copy_test(gen, train, heldout, space: str, quantile: float = 0.01) -> SpaceReport:
    """Flag generated samples nearer to the training set than `quantile` of held-out reals are."""
    if not 0.0 < quantile < 1.0:
        raise ConfigError(f"memorization quantile must lie in (0, 1), got {quantile}")
    nn_gen = nearest_neighbours(gen, train)
    nn_heldout = nearest_neighbours(heldout, train)
    threshold = float(torch.quantile(nn_heldout.distance, quantile))
    return SpaceReport(space, nn_gen, threshold, nn_gen.distance < threshold, nn_heldout.distance < threshold)


def memorization_report(
    gen_images=None,
    train_images=None,
    heldout_images=None,
    gen_features=None,
    train_features=None,
    heldout_features=None,
    quantile: float = 0.01,
) -> MemorizationReport:
    """Near-copies of training data in pixel space and/or feature space (whichever triples are given).

    A generated sample is a near-copy when it is one in any space; the baseline share applies the same
    any-space rule to the held-out real images.
    """
    for space, triple in (("features", (gen_features, train_features, heldout_features)),
                          ("pixels", (gen_images, train_images, heldout_images))):
        if any(x is not None for x in triple) and any(x is None for x in triple):
            raise ConfigError(f"memorization in {space} space needs generated, training and held-out {space}")
    spaces = {}
    if gen_features is not None:
        spaces["features"] = near_copy_test(gen_features, train_features, heldout_features, "features", quantile)
    if gen_images is not None:
        spaces["pixels"] = near_copy_test(gen_images, train_images, heldout_images, "pixels", quantile)
    if not spaces:
        raise ConfigError("memorization needs generated, training and held-out images or features")
    near = torch.stack([r.near_copy for r in spaces.values()]).any(0)
    baseline = torch.stack([r.baseline_near_copy for r in spaces.values()]).any(0)
    exact = 0
    if "pixels" in spaces:
        nearest = torch.as_tensor(train_images)[spaces["pixels"].neighbours.index]
        as_uint8 = lambda x: ((torch.as_tensor(x).float() + 1) * 127.5).round().clamp(0, 255)  # noqa: E731
        exact = int((as_uint8(gen_images) == as_uint8(nearest)).reshape(len(nearest), -1).all(1).sum())
    return MemorizationReport(
        spaces, near, near.double().mean().item(), baseline.double().mean().item(), exact, quantile
    )


def save_memorization_png(
    path: str | os.PathLike, gen_images, train_images, neighbours: Neighbours, n_pairs: int = 16, pairs_per_row: int = 4
) -> np.ndarray:
    """Save the `n_pairs` closest (generated, nearest training image) pairs side by side; returns the
    (n_pairs,) generated indices shown, closest first. Images in [-1, 1]."""
    order = torch.argsort(neighbours.distance)[:n_pairs]
    gen = torch.as_tensor(gen_images)[order].float()
    train = torch.as_tensor(train_images)[neighbours.index[order]].float()
    pairs = torch.stack([gen, train], 1).flatten(0, 1)  # (2 n_pairs, C, H, W): gen_0, train_0, gen_1, ...
    grid = make_grid(pairs, nrow=2 * pairs_per_row, padding=2, normalize=True, value_range=(-1, 1), pad_value=1.0)
    save_image(grid, path)
    return order.numpy()


@METRICS.register("memorization")
def memorization_metric(inputs: EvalInputs, quantile: float = 0.01, png_path: str | None = None) -> list[ProtocolCard]:
    """Share of generated samples that are near-copies of training images, against a real-vs-real baseline."""
    heldout_images, heldout_features = inputs.heldout()
    use_features = all(x is not None for x in (inputs.gen_features, inputs.train_features, heldout_features))
    use_pixels = all(x is not None for x in (inputs.gen_images, inputs.train_images, heldout_images))
    if not (use_features or use_pixels):
        raise ConfigError(
            "metric 'memorization' needs generated, training and held-out real samples (images or evaluator "
            "features); the held-out set is heldout_images/heldout_features, or the reference set when its "
            "split is not 'train'"
        )
    report = memorization_report(
        inputs.gen_images if use_pixels else None,
        inputs.train_images if use_pixels else None,
        heldout_images if use_pixels else None,
        inputs.gen_features if use_features else None,
        inputs.train_features if use_features else None,
        heldout_features if use_features else None,
        quantile,
    )
    if png_path is not None and use_pixels:
        save_memorization_png(png_path, inputs.gen_images, inputs.train_images, report.spaces["pixels"].neighbours)
    extra = {
        "baseline_share": report.baseline_share,
        "quantile": quantile,
        "exact_copies": report.exact_copies,
        "n_train": len(inputs.train_images if use_pixels else inputs.train_features),
        "n_heldout": len(heldout_images if use_pixels else heldout_features),
    }
    for name, r in report.spaces.items():
        extra[f"{name}_threshold"] = r.threshold
        extra[f"{name}_share"] = r.near_copy.double().mean().item()
        extra[f"{name}_median_nn_distance"] = r.neighbours.distance.median().item()
    if png_path is not None and use_pixels:
        extra["png"] = str(png_path)
    warnings = []
    n_heldout = extra["n_heldout"]
    if n_heldout * quantile < 5:
        warnings.append(
            f"the near-copy threshold rests on {n_heldout * quantile:.1f} held-out images "
            f"({quantile:.0%} of {n_heldout:,}); use more held-out images or a larger quantile"
        )
    protocol = inputs.protocol()
    protocol["ref_split"] = "train"  # compared against the training images
    if not use_features:
        protocol.update(extractor=None, extractor_weights_sha256=None, resize=None, feature_space=None, input_size=None)
    n_gen = len(inputs.gen_images if use_pixels else inputs.gen_features)
    n_train = extra["n_train"]
    card = ProtocolCard("memorization", report.share, n_gen, n_train, **protocol, warnings=warnings, extra=extra)
    return [card]
