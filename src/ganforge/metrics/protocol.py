"""Every score carries its protocol card: how it was measured, and how far to trust it.

A card names the metric and its value, the number of generated and reference samples, the reference
split, the feature extractor and a SHA-256 of its weights, how images were resized for it, the seed of
any random subsetting, the feature space and the side in pixels the extractor read, and warnings when
the sample sizes are too small for the number to be reliable. Two FIDs are comparable only when their
cards match (apart from the value): an FID in DINOv2's space and one in Inception's are different numbers.
Cards written before `feature_space` and `input_size` existed lack them; they load with both None
(`features.feature_space_of` reads the space off their extractor).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

# Sample sizes below which a score is flagged, each with its reason.
# FID: the Inception pool3 covariance is 2,048 x 2,048, so with fewer samples it is singular and the
# estimate is dominated by its finite-sample bias; papers report FID-10k or FID-50k.
FID_MIN_SAMPLES = 2048
FID_PAPER_SAMPLES = 10_000
# KID: Binkowski et al. (2018) and torch-fidelity use subsets of 1,000; smaller subsets widen its spread.
KID_SUBSET_SIZE = 1000
# IS: Salimans et al. (2016) use 50,000 samples in 10 splits; with few samples per split the marginal
# p(y) is estimated from those same few samples, which biases the score downward.
IS_MIN_SAMPLES = 5000
# Precision/recall: Kynkaanniemi et al. (2019) use 50,000 per side; with few samples the k-NN balls
# grow and both numbers drift up. Below this we warn.
PR_MIN_SAMPLES = 5000


@dataclass
class ProtocolCard:
    """One score and the protocol it was measured under.

    `extra` holds the metric's other numbers (KID's standard deviation over subsets, a mode histogram,
    the bias estimate behind a warning, ...). `to_json()` writes one JSON object; infinities and NaNs
    are written as the strings "inf", "-inf" and "nan" so the line stays valid JSON.
    """

    metric: str
    value: float
    n_gen: int
    n_ref: int | None = None
    ref_split: str | None = None
    extractor: str | None = None
    extractor_weights_sha256: str | None = None
    resize: str | None = None
    seed: int | None = None
    feature_space: str | None = None  # 'inception', 'dinov2-vits14', 'evaluator', 'pixels', 'points'; None: no features
    input_size: int | None = None  # side in pixels the extractor read (299, 224, ...); None: as given
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)


def _jsonable(obj: Any) -> Any:
    """Numbers, arrays and tensors into plain JSON values (non-finite floats as strings)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def state_dict_sha256(module_or_state: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over a state dict's names, dtypes, shapes and raw tensor bytes, in sorted name order.

    Hashing the tensors rather than a file makes the hash independent of how the weights were saved
    (pickle protocol, zip layout), so the same network always carries the same hash.
    """
    state = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name]
        if not isinstance(t, torch.Tensor):  # extra state that is not a tensor: hash its repr
            h.update(f"{name}:{t!r};".encode())
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        # Reinterpret as bytes (works for every dtype, bfloat16 and bool included).
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def sample_size_warning(metric: str, n: int, needed: int, why: str) -> list[str]:
    """A one-item warning list when `n` is below `needed`, else an empty list."""
    if n >= needed:
        return []
    return [f"{metric} from {n:,} samples (fewer than {needed:,}): {why}"]
