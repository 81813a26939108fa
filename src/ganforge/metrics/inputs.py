"""What the registered metrics read: features, logits, labels, points and pixels, plus the protocol.

The caller (`ganforge eval`, the training loop) extracts features once and fills the fields the
requested metrics need; a metric that finds a field it needs empty says which field and why.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError


@dataclass
class EvalInputs:
    """Everything a metric may read. Shapes: N generated, M reference, T training samples.

    Features come from one extractor (see `features.py`); `ex.describe()` fills the five protocol
    fields that describe it (extractor, weights hash, resize, feature space, input size). Images are in [-1, 1], shaped (n, C, H, W).
    """

    gen_features: torch.Tensor | None = None  # (N, D) evaluator features of generated samples
    ref_features: torch.Tensor | None = None  # (M, D) the same features of the reference split
    ref_labels: torch.Tensor | None = None  # (M,) the reference images' own classes (per-class FID)
    gen_logits: torch.Tensor | None = None  # (N, K) evaluator class logits of generated samples (IS, modes)
    gen_labels: torch.Tensor | None = None  # (N,) predicted classes; for modes, overrides argmax(gen_logits)
    num_classes: int | None = None  # K for mode coverage (Stacked MNIST: 1,000)
    data_class_distribution: torch.Tensor | None = None  # (K,) the data's class shares; None = uniform
    gen_points: torch.Tensor | None = None  # (N, 2) for the 2D mixtures
    mixture: str | None = None  # 'ring8' or 'grid25' when gen_points are given
    gen_images: torch.Tensor | None = None  # (N, C, H, W) generated pixels (memorization)
    train_images: torch.Tensor | None = None  # (T, C, H, W) the GAN's training images (memorization)
    train_features: torch.Tensor | None = None  # (T, D) their evaluator features (memorization, per-class FID's floor)
    train_labels: torch.Tensor | None = None  # (T,) the training images' own classes (per-class FID's floor)
    heldout_images: torch.Tensor | None = None  # real images never trained on: memorization's baseline
    heldout_features: torch.Tensor | None = None  # their evaluator features
    ref_images: torch.Tensor | None = None  # (M, C, H, W) reference pixels (a held-out baseline if ref_split != train)
    ref_split: str | None = None  # 'train' or 'test'
    extractor: str | None = None
    extractor_weights_sha256: str | None = None
    resize: str | None = None
    feature_space: str | None = None
    input_size: int | None = None
    seed: int = 2020  # torch-fidelity's default, so subset draws match its own

    def require(self, metric: str, *names: str) -> None:
        """ConfigError naming the empty fields `metric` needs."""
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise ConfigError(f"metric '{metric}' needs {', '.join(missing)}, which were not computed")

    def protocol(self) -> dict:
        """The card fields that every metric computed from these inputs shares."""
        return {
            "ref_split": self.ref_split,
            "extractor": self.extractor,
            "extractor_weights_sha256": self.extractor_weights_sha256,
            "resize": self.resize,
            "seed": self.seed,
            "feature_space": self.feature_space,
            "input_size": self.input_size,
        }

    def heldout(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Real images (and features) the GAN never saw: `heldout_*`, else the reference set when its
        split is not the training split."""
        if self.heldout_images is not None or self.heldout_features is not None:
            return self.heldout_images, self.heldout_features
        if self.ref_split is not None and self.ref_split != "train":
            return self.ref_images, self.ref_features
        return None, None

