"""Scoring a generator: real reference data prepared once, generated samples scored by name.

`ganforge eval` and the in-training evaluation share this module:

    ev = resolve_evaluator(...)                       # evaluator.py
    ref = prepare_reference(data, ev, metrics, ...)   # real features, labels, pixels: once per run
    cards = score(gen_samples, ref, ev, metrics)      # a ProtocolCard per score
    cards = combine_repeats([cards_seed_0, cards_seed_1, ...])   # mean and sd over sampling seeds

The reference split is the dataset's held-out 'test' split: FID/KID/PR compare generated samples
with real data the GAN never saw, and memorization uses it as the real-vs-real baseline against the
training split. FID and KID cards carry that baseline too (`extra.real_vs_real`: the score of as many
real *training* images against the same reference), so a reader sees how far from "as good as real
data" a score is at this sample size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from ..data import get_dataset, random_items
from ..data.synthetic import MIXTURES
from ..errors import ConfigError
from . import compute_metrics, get_metric
from .evaluator import Evaluator
from .features import extract
from .inputs import EvalInputs
from .modes import class_histogram

FEATURE_METRICS = {"fid", "kid", "pr", "dc", "intra-fid"}
# Scores by card name: True when higher is better (for the best checkpoint). Density is left out: its
# ideal is about 1 (above 1, fakes crowd dense real regions), so neither direction is "better".
HIGHER_IS_BETTER = {
    "fid": False, "kid": False, "is": True, "precision": True, "recall": True, "coverage": True,
    "modes/covered": True, "modes/kl": False, "modes/high_quality": True, "memorization": False,
    "conditional/accuracy": True, "conditional/fid": False,
}  # fmt: skip


# The registered metric (what --metrics names) behind each card whose name differs from it.
CARD_SOURCE = {"precision": "pr", "recall": "pr", "density": "dc", "coverage": "dc", "conditional/fid": "intra-fid"}


def metric_of_card(card_name: str) -> str:
    """The registered metric that writes the card `card_name` ('recall' -> 'pr', 'modes/kl' -> 'modes')."""
    return CARD_SOURCE.get(card_name, card_name.split("/")[0])


# Metrics that score G against the classes it was asked for (their option `classes`): class-conditional runs only.
CLASS_METRICS = ("conditional", "intra-fid")


def check_metric_names(names: list[str], conditional: bool, asked_by: str) -> list[str]:
    """The names, each checked against the registry (unknown: ConfigError listing the valid ones). A run
    whose G is not class-conditional (`conditional` False) has no classes for CLASS_METRICS: asking for
    one is a ConfigError naming `asked_by`, the flag or config key that asked ('--metrics', 'eval_metrics')."""
    for name in names:
        get_metric(name)
    if not names:
        raise ConfigError("no metrics asked for")
    classless = [name for name in names if name in CLASS_METRICS]
    if classless and not conditional:
        raise ConfigError(f"{asked_by}: metric '{classless[0]}' scores G against the classes it was asked for, and this "
                          "run's generator is not class-conditional (model.conditional_g is off)")  # fmt: skip
    return list(names)


def class_options(metrics: list[str], classes: torch.Tensor | None) -> dict:
    """`score`'s options for the CLASS_METRICS among `metrics`: the (N,) classes G drew the samples for
    (Algorithm.latent_labels, as `generate` draws them)."""
    return {name: {"classes": classes} for name in CLASS_METRICS if name in metrics}


def check_best_metric(name: str, metrics: list[str]) -> None:
    if name not in HIGHER_IS_BETTER:
        raise ConfigError(f"unknown best_metric '{name}'; valid: {', '.join(HIGHER_IS_BETTER)}")
    source = metric_of_card(name)
    if source not in metrics:
        raise ConfigError(f"best_metric '{name}' comes from metric '{source}', which is not in {metrics}")


def default_metrics(kind: str, ev: Evaluator, conditional: bool = False) -> list[str]:
    """What to score when the user names nothing: all that this data and evaluator can give; for a
    class-conditional G (`conditional`) on images, also conditional accuracy and (with features) per-class FID."""
    if kind == "points":
        return ["modes", "fid"]
    names = ["fid", "kid", "pr"] if ev.extractor is not None else []
    if ev.num_classes:
        names.append("modes")
    names.append("memorization")
    if conditional and ev.num_classes:
        names += ["conditional"] + (["intra-fid"] if ev.extractor is not None else [])
    return names


@dataclass
class Reference:
    kind: str  # 'image' | 'points'
    data: str
    ref: torch.Tensor  # (M, ...) held-out real samples
    train: torch.Tensor  # (T, ...) training samples (memorization; the real-vs-real baseline)
    ref_features: torch.Tensor | None = None
    train_features: torch.Tensor | None = None
    class_distribution: torch.Tensor | None = None  # (K,) training class shares, when labels match
    ref_split: str = "test"
    ref_labels: torch.Tensor | None = None  # (M,) the data's classes of `ref` (-1: unlabelled)
    train_labels: torch.Tensor | None = None  # (T,) and of `train`


def prepare_reference(
    data: str, ev: Evaluator, metrics: list[str], image_size=None, channels=None, data_root=None,
    n_ref: int | None = None, n_train: int | None = None, seed: int = 0, data_limit: int = 0,
) -> Reference:
    """Real data for `metrics`: the test split (reference) and the train split, with their features.
    `data_limit` (the run's config key) cuts the train split to the images the run trained on, so
    memorization looks for copies of those."""
    test = get_dataset(data, "test", image_size, channels, data_root)
    train = get_dataset(data, "train", image_size, channels, data_root, data_limit=data_limit)
    ref, ref_y = random_items(test, n_ref, seed)
    train_x, train_y = random_items(train, n_train, seed + 1)
    out = Reference(train.kind, data, ref, train_x, ref_labels=ref_y, train_labels=train_y)
    wants_features = bool(FEATURE_METRICS & set(metrics)) or "memorization" in metrics
    if ev.extractor is not None and wants_features:
        out.ref_features = extract(ev.extractor, ref, desc="reference features")[0]
        out.train_features = extract(ev.extractor, train_x, desc="training features")[0]
    if ev.num_classes and ev.num_classes == train.num_classes and (train_y >= 0).all() and ev.num_classes != 1000:
        # The data's own class shares (Stacked MNIST is scored against uniform, as in PacGAN).
        out.class_distribution = torch.as_tensor(class_histogram(train_y, ev.num_classes)).double()
    return out


def check_available(names: list[str], ref: Reference, ev: Evaluator) -> None:
    """ConfigError naming the first of `names` that this reference data and evaluator cannot score."""
    space = getattr(ev.extractor, "space", None)
    for name in names:
        if name in FEATURE_METRICS and ev.extractor is None:
            raise ConfigError(f"metric '{name}' needs features, and there is no evaluator: {ev.note}")
        if name == "is" and not getattr(ev.extractor, "has_logits", False):
            raise ConfigError(f"metric 'is' needs class logits; {ev.extractor.name if ev.extractor else 'no evaluator'} "
                              "gives none (IS reads Inception-v3's: --features inception)")  # fmt: skip
        if name in ("modes", "conditional") and ref.kind == "image" and space not in (None, "evaluator", "inception"):
            raise ConfigError(f"metric '{name}' needs the data's classes, and the {space} feature space has none: "
                              "score it in the evaluator's space (--features evaluator, the default)")  # fmt: skip
        if name == "modes" and ref.kind == "points" and ref.data not in MIXTURES:
            raise ConfigError(f"metric 'modes' on points knows the mixtures {', '.join(MIXTURES)}, not '{ref.data}'")
        if name == "modes" and ref.kind == "image" and not ev.num_classes:
            raise ConfigError(f"metric 'modes' needs an evaluator with the data's classes; {ev.note}")
        if name == "conditional" and (ref.kind != "image" or not ev.num_classes):
            raise ConfigError(f"metric 'conditional' needs an image evaluator with the data's classes; {ev.note}")
        if name == "intra-fid" and not (ref.ref_labels is not None and len(ref.ref_labels) and (ref.ref_labels >= 0).all()):
            raise ConfigError(f"metric 'intra-fid' compares each class with its held-out images: the data '{ref.data}' has no class labels")


def score(
    gen: torch.Tensor, ref: Reference, ev: Evaluator, metrics: list[str], seed: int = 0,
    png_path: str | None = None, options: dict | None = None,
) -> list:
    """ProtocolCards of `metrics` for generated samples `gen` (images in [-1, 1], or (N, 2) points)."""
    check_available(metrics, ref, ev)
    protocol = ev.extractor.describe() if ev.extractor is not None else {}
    inputs = EvalInputs(ref_split=ref.ref_split, seed=seed, **protocol)
    gen_logits = None
    if ev.extractor is not None and (FEATURE_METRICS | {"is", "memorization"}) & set(metrics):
        has_logits = getattr(ev.extractor, "has_logits", False)
        inputs.gen_features, gen_logits = extract(ev.extractor, gen, logits=has_logits, desc="generated features")
        inputs.ref_features = ref.ref_features
        inputs.train_features, inputs.heldout_features = ref.train_features, ref.ref_features
        inputs.ref_labels, inputs.train_labels = ref.ref_labels, ref.train_labels
    if "is" in metrics:
        inputs.gen_logits = gen_logits
    if ref.kind == "points":
        inputs.gen_points, inputs.mixture = gen, ref.data
    elif "modes" in metrics:
        inputs.gen_labels = ev.labels(gen)
        inputs.num_classes, inputs.data_class_distribution = ev.num_classes, ref.class_distribution
    if "conditional" in metrics:  # the classes the samples were generated for come as options["conditional"]
        inputs.gen_labels = inputs.gen_labels if inputs.gen_labels is not None else ev.labels(gen)
        inputs.num_classes = ev.num_classes
    if "memorization" in metrics:
        inputs.gen_images, inputs.train_images, inputs.heldout_images = gen, ref.train, ref.ref
    options = {k: dict(v) for k, v in (options or {}).items()}
    if png_path and ref.kind == "image":
        options.setdefault("memorization", {})["png_path"] = png_path
    cards = compute_metrics(metrics, inputs, options)
    _add_real_baseline(cards, ref, len(gen), seed)
    return cards


def _add_real_baseline(cards: list, ref: Reference, n: int, seed: int) -> None:
    """extra.real_vs_real on FID/KID/precision/recall/density/coverage cards: the same metric for n real training samples vs
    the reference (what a perfect generator would score: real data's own precision is below 1)."""
    metric_of = {"fid": "fid", "kid": "kid", "precision": "pr", "recall": "pr", "density": "dc", "coverage": "dc"}
    wanted = [c for c in cards if c.metric in metric_of]
    if not wanted or ref.train_features is None:
        return
    m = min(n, len(ref.train_features))
    real = EvalInputs(gen_features=ref.train_features[:m], ref_features=ref.ref_features, seed=seed)
    baseline = {c.metric: c for c in compute_metrics(sorted({metric_of[c.metric] for c in wanted}), real)}
    for card in wanted:
        card.extra["real_vs_real"] = baseline[card.metric].value
        card.extra["real_vs_real_n"] = m


def expected_protocols(
    metrics: list[str], kind: str, ev: Evaluator, n_gen: int, n_ref: int, n_train: int | None, seed: int, repeats: int = 1,
    sampling: str | None = None,
) -> dict[str, dict]:
    """The card names `score(...)` will write for `metrics` and each one's protocol (records.protocol_of's
    fields), known before any sample is drawn: `ganforge eval --ckpt all` skips a checkpoint whose lines
    already hold all of them. n_ref is the reference set's size (the test split's, when smaller than asked),
    n_train the training split's, sampling how the samples are drawn (LoadedRun.sampling; None: G's own).
    Per-class conditional cards are left out (their accuracy card stands for them).
    tests/commands/test_eval_runs.py checks these against the cards `score` writes for every registered metric."""
    from .features import resize_method

    described = ev.extractor.describe() if ev.extractor is not None else {}
    features = {
        "extractor": described.get("extractor"), "extractor_weights_sha256": described.get("extractor_weights_sha256"),
        "resize": resize_method(described.get("resize")),
    }  # fmt: skip
    no_features = dict.fromkeys(features)
    base = {"n_gen": n_gen, "ref_split": Reference.ref_split, "seed": seed, "repeats": repeats, "sampling": sampling}
    cards = {"fid": ["fid"], "kid": ["kid"], "pr": ["precision", "recall"], "dc": ["density", "coverage"], "intra-fid": ["conditional/fid"],
             "modes": ["modes/covered", "modes/kl"] + (["modes/high_quality"] if kind == "points" else [])}  # fmt: skip
    out = {}
    for metric in metrics:
        if metric in FEATURE_METRICS:
            out.update({name: {**base, "n_ref": n_ref, **features} for name in cards[metric]})
        elif metric == "modes":  # 2D points are scored on the plane: no extractor on their cards
            out.update({name: {**base, "n_ref": None, **(no_features if kind == "points" else features)} for name in cards[metric]})
        elif metric == "is":  # reads no reference data
            out["is"] = {**base, "n_ref": None, "ref_split": None, **features}
        elif metric == "conditional":
            out["conditional/accuracy"] = {**base, "n_ref": None, **features}
        elif metric == "memorization":  # against the training images; held-out reals set its threshold
            out["memorization"] = {**base, "n_ref": n_train, "ref_split": "train", "n_heldout": n_ref,
                                   **(features if ev.extractor is not None else no_features)}  # fmt: skip
        else:  # a metric this table does not know: never taken as scored already, so always scored
            out[metric] = {"unknown": metric}
    return out


def combine_repeats(per_seed: list[list]) -> list:
    """One card per score from the same metrics scored on K sample sets (seeds s, s+1, ...): the value is
    the mean over the K, extra.repeat_std their sample standard deviation (divisor K - 1), extra.repeats
    = K, extra.repeat_values and extra.repeat_seeds each seed's value and seed. The card's other fields
    and extras (the real-vs-real baseline, KID's spread over subsets) are the first seed's; its warnings
    are those of any seed. A single set is returned as it is."""
    if len(per_seed) == 1:
        return list(per_seed[0])
    by_name = [{c.metric: c for c in cards} for cards in per_seed]
    out = []
    for card in per_seed[0]:
        if not all(card.metric in cards for cards in by_name):
            continue
        values = [float(cards[card.metric].value) for cards in by_name]
        warnings = list(dict.fromkeys(w for cards in by_name for w in cards[card.metric].warnings))
        extra = {**card.extra, "repeats": len(values), "repeat_std": _sample_std(values), "repeat_values": values,
                 "repeat_seeds": [cards[card.metric].seed for cards in by_name]}  # fmt: skip
        out.append(replace(card, value=_mean(values), warnings=warnings, extra=extra))
    return out


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def _sample_std(values: list[float]) -> float:
    """Standard deviation with divisor K - 1 (NaN where a value is not finite)."""
    if not all(math.isfinite(v) for v in values):
        return float("nan")
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
