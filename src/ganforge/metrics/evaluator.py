"""Which network scores a run: the evaluator behind FID/KID/PR/IS and class-based mode coverage.

An `Evaluator` bundles a feature extractor (features.py) with what it can say about classes:

    auto        2D points: the points themselves; images: Inception-v3 when weights are given, else
                the cached offline evaluator of labelled data, else none (unlabelled data)
    inception   Inception-v3 (torch-fidelity's TF-FID port): standard FID/KID/IS/PR; no data classes
    offline     the dataset's cached classifier (offline_evaluator.py); per channel for stacked-mnist
    none        no network: only pixel-space memorization and 2D-point scores
    PATH        any tools/classify run folder, used as the offline evaluator

`resize` picks how images are resized for the network (features.py: legacy-tensor, the default, or
pil-bicubic); 2D points and `none` resize nothing, so it is only checked there.

The feature space (`--features`) picks the network of the feature metrics (FID, KID, precision/recall,
density/coverage, memorization's feature half) without touching how the evaluator is chosen:

    (absent)    what --evaluator picks, as before the choice existed (so no existing score moves)
    evaluator   the same, said out loud: an error where --evaluator gives no features
    inception   Inception-v3 pool3 (2,048-D), as --evaluator inception
    dinov2-vits14, dinov2-vitb14, dinov2-vitl14   DINOv2's CLS token (384/768/1,024-D; dinov2.py)
    pixels      the flattened pixels at the data's own size (features.PixelFeatures)

Any space but `evaluator` replaces the evaluator for that call: one network scores every card of it, so
the cards share one protocol. Those spaces carry no classes of the data, so IS (only Inception has the
logits it reads), modes and conditional accuracy are refused when asked for and left out of the default
set. `--evaluator` other than auto (or inception with inception) alongside such a space names a second
network and is refused, as are weights for a network the call does not use (`check_feature_options`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..registry import unknown_name_message
from .dinov2 import ARCHS as DINOV2_ARCHS
from .features import POINTS_NAME, FeatureExtractor, ModuleFeatures, PixelFeatures, check_resize_method, inception_v3
from .modes import classify_stacked_mnist
from .offline_evaluator import PER_CHANNEL_SOURCE, evaluator_dir, read_facts

EVALUATORS = ("auto", "offline", "inception", "none")
FEATURE_SPACES = ("inception", *DINOV2_ARCHS, "evaluator", "pixels")
WEIGHTED_SPACES = ("inception", *DINOV2_ARCHS)  # the spaces whose network reads a weights file


@dataclass
class Evaluator:
    extractor: FeatureExtractor | None  # None: no features (FID/KID/PR/IS unavailable)
    num_classes: int | None = None  # classes of the *data* its labels name; None: no class-based scores
    labels: Callable[[torch.Tensor], torch.Tensor] | None = None  # images -> (N,) predicted classes
    note: str = ""  # what it is, for the report


class PointFeatures(FeatureExtractor):
    """2D points are their own features: FID/KID/PR on the plane, no network."""

    name = POINTS_NAME
    space = "points"
    resize = "none"

    def __init__(self):
        super().__init__(nn.Identity())

    @torch.no_grad()
    def features_and_logits(self, points: torch.Tensor):
        return points.float().cpu().reshape(len(points), -1), None


class PerChannelFeatures(FeatureExtractor):
    """A grey-digit classifier read on each channel of a stacked image: features concatenated (3 D),
    labels = 100 d0 + 10 d1 + d2 (Stacked MNIST's 1,000 modes)."""

    def __init__(self, digit: ModuleFeatures):
        self.digit = digit
        self.name = f"per-channel {digit.name}"
        self.resize = f"each channel as a grey image: {digit.resize}"
        self.input_size = digit.input_size
        super().__init__(digit.network, digit.device)

    @torch.no_grad()
    def features_and_logits(self, images: torch.Tensor):
        n, c = images.shape[:2]
        features, _ = self.digit.features_and_logits(images.reshape(n * c, 1, *images.shape[2:]))
        return features.reshape(n, -1), None

    def labels(self, images: torch.Tensor) -> torch.Tensor:
        return classify_stacked_mnist(images, lambda x: self.digit.features_and_logits(x)[1])


class RankSplitFeatures(FeatureExtractor):
    """An extractor that splits each call's images over the ranks of a torchrun job (gather_rows):
    every rank gets all the features and logits, having computed 1/K of them."""

    def __init__(self, inner: FeatureExtractor, world, device: torch.device):
        self.inner, self.world, self.comm_device = inner, world, device
        self.name, self.resize, self.has_logits = inner.name, inner.resize, inner.has_logits
        self.space, self.input_size = inner.space, inner.input_size
        self.network, self.device = inner.network, inner.device

    @property
    def weights_hash(self) -> str | None:
        return self.inner.weights_hash

    def describe(self) -> dict:
        return self.inner.describe()

    def features_and_logits(self, images: torch.Tensor):
        from ..runtime.distributed import gather_rows

        return gather_rows(self.inner.features_and_logits, images, self.world, self.comm_device)


def split_over_ranks(ev: Evaluator, world, device: torch.device) -> Evaluator:
    """`ev` with its networks' work (features, logits, labels) split over the ranks; `ev` itself when
    alone. Every rank must then make the same calls (they are collective)."""
    if not world.enabled:
        return ev
    from ..runtime.distributed import gather_rows

    extractor = RankSplitFeatures(ev.extractor, world, device) if ev.extractor is not None else None
    labels = (lambda images: gather_rows(ev.labels, images, world, device)) if ev.labels is not None else None
    return Evaluator(extractor, ev.num_classes, labels, ev.note)


def classifier_evaluator(
    run_dir: str, per_channel: bool = False, facts: dict | None = None, device="cpu", resize: str | None = None
) -> Evaluator:
    """A tools/classify run as evaluator (its last Linear's input as features, its argmax as labels)."""
    from ..classify import load_classifier

    model, info = load_classifier(run_dir, device)
    cfg, shape = info["config"], info["input"]
    name = f"{cfg.model}-{cfg.data} classifier"
    ex = ModuleFeatures(
        model, name=name, image_size=shape["resolution"], channels=shape["channels"], device=device, resize=resize
    )
    accuracy = f", {100 * facts['test_accuracy']:.2f}% held-out accuracy" if facts and "test_accuracy" in facts else ""
    if per_channel:
        pc = PerChannelFeatures(ex)
        return Evaluator(pc, 1000, pc.labels, f"{name} on each channel{accuracy}")
    return Evaluator(ex, shape["num_classes"], lambda x: ex.logits(x).argmax(1), f"{name}{accuracy}")


def check_feature_options(
    features: str | None, evaluator: str = "auto", inception_weights: str | None = None,
    features_weights: str | None = None,
) -> str | None:
    """`features` (None: the evaluator's, as before the choice existed) checked with the flags it could
    contradict; one ConfigError for an unknown space or a contradictory combination (module docstring)."""
    if features is not None and features not in FEATURE_SPACES:
        raise ConfigError(unknown_name_message("feature space", features, list(FEATURE_SPACES)))
    own_network = features not in (None, "evaluator")  # the space names its own network
    if own_network and evaluator not in ("auto", features):
        raise ConfigError(
            f"--features {features} and --evaluator {evaluator} name two different networks: --evaluator picks "
            "the features only under --features evaluator (the default); leave one of them out"
        )
    if inception_weights and own_network and features != "inception":
        raise ConfigError(f"--inception-weights are unused with --features {features}, which reads no Inception-v3; "
                          "leave them out (a DINOv2 file goes to --features-weights)")  # fmt: skip
    if features_weights and features not in WEIGHTED_SPACES:
        raise ConfigError(f"--features-weights is for --features {', '.join(WEIGHTED_SPACES)}; "
                          f"--features {features or 'evaluator (the default)'} reads no weights file")  # fmt: skip
    if features_weights and inception_weights:
        raise ConfigError("Inception-v3's weights are given twice (--inception-weights and --features-weights): keep one")
    return features


def feature_space_evaluator(
    space: str, weights: str | None = None, device="cpu", resize: str | None = None, resolution: int | None = None
) -> Evaluator:
    """An Evaluator with the features of one space other than 'evaluator' and no data classes.
    `resolution` is the data's side, which the card of `pixels` names."""
    if space == "inception":
        ex = inception_v3(weights, device, resize)
        return Evaluator(ex, None, None, "Inception-v3 (ImageNet classes: no class-based scores for this data)")
    if space == "pixels":
        ex = PixelFeatures(native_size=resolution, device=device, resize=resize)
        return Evaluator(ex, None, None, "pixels, flattened (no network, no classes: no IS, modes or conditional accuracy)")
    from .dinov2 import DINOv2

    ex = DINOv2(space, weights, device, resize)
    return Evaluator(ex, None, None, f"DINOv2 {ex.arch.label} CLS token, {ex.arch.dim}-D (no class logits: no IS, "
                                     "modes or conditional accuracy)")  # fmt: skip


def resolve_evaluator(
    data: str, kind: str, num_classes: int, evaluator: str = "auto", inception_weights: str | None = None,
    cache_dir: str | None = None, data_root: str | None = None, device="cpu", resize: str | None = None,
    *, features: str | None = None, features_weights: str | None = None, resolution: int | None = None,
) -> Evaluator:
    """The evaluator for a run on `data` (kind 'image' or 'points'), in feature space `features` (None:
    the evaluator's own); see the module docstring. `resolution` is the data's side (for `pixels`)."""
    resize = check_resize_method(resize)
    features = check_feature_options(features, evaluator, inception_weights, features_weights)
    if kind == "points":
        if evaluator not in ("auto", "none"):
            raise ConfigError(f"2D point data are scored on the plane; evaluator '{evaluator}' does not apply")
        if features not in (None, "evaluator"):
            raise ConfigError(f"2D point data are scored on the plane; --features {features} does not apply")
        return Evaluator(PointFeatures(), None, None, "2D points scored directly")
    if features not in (None, "evaluator"):
        return feature_space_evaluator(features, features_weights or inception_weights, device, resize, resolution)
    ev = _image_evaluator(data, num_classes, evaluator, inception_weights, cache_dir, data_root, device, resize)
    if features == "evaluator" and ev.extractor is None:
        raise ConfigError(f"--features evaluator: the evaluator gives no features here ({ev.note})")
    return ev


def _image_evaluator(data, num_classes, evaluator, inception_weights, cache_dir, data_root, device, resize) -> Evaluator:
    """What --evaluator picks for image data (the module docstring's table)."""
    if evaluator == "none":
        return Evaluator(None, None, None, "no evaluator: pixel-space memorization only")
    if evaluator == "inception" or (evaluator == "auto" and inception_weights):
        return feature_space_evaluator("inception", inception_weights, device, resize)
    if evaluator == "offline" or (evaluator == "auto" and (num_classes > 0 or data in PER_CHANNEL_SOURCE)):
        return load_offline_evaluator(data, cache_dir, data_root, device, resize)
    if evaluator == "auto":
        return Evaluator(None, None, None, f"'{data}' is unlabelled and no --inception-weights were given: "
                         "pixel-space memorization only")  # fmt: skip
    if os.path.isdir(evaluator):
        return classifier_evaluator(evaluator, per_channel=data in PER_CHANNEL_SOURCE, device=device, resize=resize)
    raise ConfigError(f"unknown evaluator '{evaluator}'; valid: {', '.join(EVALUATORS)}, or a classifier run folder")


def load_offline_evaluator(
    data: str, cache_dir: str | None = None, data_root: str | None = None, device="cpu", resize: str | None = None
):
    """The cached evaluator of `data` as an `Evaluator`; a ConfigError says how to fit it when missing."""
    try:
        folder = evaluator_dir(data, cache_dir, data_root)
    except DataError as e:
        raise ConfigError(
            f"no offline evaluator for '{data}': {e}. Class-based scores need labels; for FID/KID/PR/IS pass "
            "--inception-weights PATH (memorization works on pixels without an evaluator)"
        ) from None
    if not os.path.isfile(os.path.join(folder, "evaluator.json")):
        raise ConfigError(
            f"no offline evaluator for '{data}' in {os.path.dirname(folder)}: fit one first with\n"
            f"  ganforge fit-evaluator --data {data}" + (f" --cache-dir {cache_dir}" if cache_dir else "")
            + "\n(a few CPU minutes, once per dataset version), or pass --inception-weights PATH"
        )
    facts = read_facts(folder)
    # stacked-mnist shares mnist5k's cached classifier: whether it is read per channel depends on the data
    # asked about, not on which of the two happened to fit the shared classifier first
    per_channel = data in PER_CHANNEL_SOURCE
    return classifier_evaluator(
        os.path.join(folder, "classifier"), per_channel=per_channel, facts=facts, device=device, resize=resize
    )
