"""Scores of a class-conditional generator against the classes it is asked for.

Conditional accuracy (metric `conditional`, card conditional/accuracy): does G make the class it is
asked for? The evaluator's classifier labels each generated sample; the score is the share whose
predicted class equals the class G was given (per class k: over the samples asked for class k; the mean
over classes is the headline, as in the "classification accuracy" of AC-GAN-style evaluations, Odena et
al. 2017 sec. 4.1). A perfect conditional generator scores the classifier's own held-out accuracy, not 1;
chance is 1/K.

Per-class FID (metric `intra-fid`, card conditional/fid): Miyato & Koyama 2018's intra-FID (sec. 5), for
each class k the FID between the samples G drew for class k and the held-out real images of class k, in
the feature space of the domain FID; the headline is the mean over classes. A domain FID cannot see a G
that draws good digits of the wrong class; this can. With few held-out images per class (about 50 in
mnist5k) each FID is biased far upward, so every class carries its real-vs-real floor: as many training
images of class k as G drew for k, against the same held-out class k (what a perfect G would score at
these sample sizes, as `extra.real_vs_real` is for the domain FID).

Inputs: the option `classes` (the (N,) classes G was given), which `ganforge eval` and in-training
evaluation pass for conditional runs (evaluate.class_options); `inputs.gen_labels` (the evaluator's predictions) for accuracy; generated, held-out
and training features with the real images' classes (`ref_labels`, `train_labels`) for intra-FID.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from . import METRICS
from .fid import fid_from_features
from .inputs import EvalInputs
from .protocol import ProtocolCard


def conditional_accuracy(predicted: torch.Tensor, asked: torch.Tensor, num_classes: int) -> tuple[float, list[float | None]]:
    """(mean over classes of per-class accuracy, per-class accuracy; None for a class never asked)."""
    predicted, asked = predicted.long().cpu(), asked.long().cpu()
    per_class: list[float | None] = []
    for k in range(num_classes):
        mine = asked == k
        per_class.append(float((predicted[mine] == k).double().mean()) if mine.any() else None)
    seen = [a for a in per_class if a is not None]
    return (sum(seen) / len(seen) if seen else float("nan")), per_class


def _check_classes(metric: str, classes: torch.Tensor | None, n: int) -> None:
    if classes is None:
        raise ConfigError(f"metric '{metric}' scores class-conditional runs: it needs the classes G was given")
    if len(classes) != n:
        raise ConfigError(f"metric '{metric}': {len(classes)} classes for {n} samples")


@METRICS.register("conditional")
def conditional_metric(inputs: EvalInputs, classes: torch.Tensor | None = None) -> list[ProtocolCard]:
    """Conditional accuracy: the evaluator's class of each sample vs the class G was asked for (mean and per class)."""
    inputs.require("conditional", "gen_labels", "num_classes")
    _check_classes("conditional", classes, len(inputs.gen_labels))
    mean, per_class = conditional_accuracy(inputs.gen_labels, classes, inputs.num_classes)
    protocol = inputs.protocol()
    extra = {"chance": 1.0 / inputs.num_classes}
    cards = [ProtocolCard("conditional/accuracy", mean, len(classes), None, **protocol, extra=dict(extra, per_class=per_class))]
    cards += [
        ProtocolCard(f"conditional/accuracy/{k}", acc, int((classes == k).sum()), None, **protocol, extra=dict(extra))
        for k, acc in enumerate(per_class) if acc is not None
    ]  # fmt: skip
    return cards


def per_class_fid(gen_features, asked, ref_features, ref_labels, train_features, train_labels, num_classes: int) -> list[dict | None]:
    """For each class k: {"fid": FID(G's features for k, held-out features of k), "floor": FID(the first
    n_gen of the training features of k, held-out features of k), "n_gen", "n_ref", "n_train"}; None for a
    class with fewer than two samples on a side (a covariance needs two). The training features come in a
    random order (evaluate.prepare_reference draws them so), so their first n_gen are a random subset."""
    asked, ref_labels, train_labels = asked.long().cpu(), ref_labels.long().cpu(), train_labels.long().cpu()
    out: list[dict | None] = []
    for k in range(num_classes):
        gen, ref, train = gen_features[asked == k], ref_features[ref_labels == k], train_features[train_labels == k]
        n_train = min(len(gen), len(train))  # as many real images as G drew for k, where the training split has them
        if min(len(gen), len(ref), n_train) < 2:
            out.append(None)
            continue
        out.append({"fid": fid_from_features(gen, ref), "floor": fid_from_features(train[:n_train], ref),
                    "n_gen": len(gen), "n_ref": len(ref), "n_train": n_train})  # fmt: skip
    return out


@METRICS.register("intra-fid")
def intra_fid_metric(inputs: EvalInputs, classes: torch.Tensor | None = None) -> list[ProtocolCard]:
    """Per-class FID (intra-FID): each class's samples vs its held-out reals, with a real-vs-real floor per class."""
    inputs.require("intra-fid", "gen_features", "ref_features", "ref_labels", "train_features", "train_labels")
    _check_classes("intra-fid", classes, len(inputs.gen_features))
    num_classes = 1 + int(max(classes.max(), inputs.ref_labels.max()))
    per_class = per_class_fid(inputs.gen_features, classes, inputs.ref_features, inputs.ref_labels,
                              inputs.train_features, inputs.train_labels, num_classes)  # fmt: skip
    scored = [c for c in per_class if c is not None]
    if not scored:
        raise ConfigError("metric 'intra-fid': no class has two generated and two held-out samples to compare")

    def column(key: str) -> list:  # one value per class, None where the class was not scored
        return [None if c is None else c[key] for c in per_class]

    def mean(key: str) -> float:  # over the scored classes
        return sum(c[key] for c in scored) / len(scored)

    dim = inputs.gen_features.shape[1]
    n_gen, n_ref = [c["n_gen"] for c in scored], [c["n_ref"] for c in scored]
    warnings = []
    if min(n_gen + n_ref) <= dim:
        warnings.append(f"per-class FID from {min(n_gen)}-{max(n_gen)} generated and {min(n_ref)}-{max(n_ref)} held-out samples "
                        f"per class of {dim}-dimensional features: the covariances are singular and each FID is biased far "
                        "upward; read it against its real-vs-real floor (extra.real_vs_real)")  # fmt: skip
    left_out = [k for k, c in enumerate(per_class) if c is None and (classes == k).any()]
    if left_out:
        warnings.append(f"classes {', '.join(map(str, left_out))} have fewer than two generated or held-out samples: "
                        f"left out of the mean over {len(scored)} classes")  # fmt: skip
    extra = {
        "per_class": column("fid"), "real_vs_real": mean("floor"), "real_vs_real_n": sum(c["n_train"] for c in scored),
        "real_vs_real_per_class": column("floor"), "n_gen_per_class": column("n_gen"), "n_ref_per_class": column("n_ref"),
        "n_train_per_class": column("n_train"), "classes_scored": len(scored), "feature_dim": dim,
    }  # fmt: skip
    return [ProtocolCard("conditional/fid", mean("fid"), len(classes), len(inputs.ref_features), **inputs.protocol(),
                         warnings=warnings, extra=extra)]  # fmt: skip
