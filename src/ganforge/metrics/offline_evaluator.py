"""The offline evaluator: a small classifier trained on a dataset's real training split, cached per
dataset and version, whose features give FID/KID/precision-recall in the data's own domain and whose
predictions give class-based scores (mode coverage, IS over the data's classes).

    <cache>/evaluators/<data>-<version>/evaluator.json    what it is: data, version, model, test accuracy
    <cache>/evaluators/<data>-<version>/classifier/       a tools/classify run folder (kind: classifier)

<cache> is --cache-dir, else $GANFORGE_CACHE, else ~/.cache/ganforge. <version> is the first 12 hex
digits of a SHA-256 over the training split's pixels and labels, so a changed dataset gets a new
evaluator instead of silently reusing a stale one.

Which data get one:
- labelled image sets (mnist5k, digits, mnist, fashion-mnist, cifar10, class-per-folder image folders):
  the classifier trainer's model (darknet-small by default: its pooled 64-D features keep FID's
  covariance well conditioned at the few hundred samples a CPU run scores; `--model cnn` for the
  tutorial CNN, whose features are 1,568-D);
- stacked-mnist: the mnist5k digit classifier applied to each channel (features concatenated, mode =
  the three digits), as in VEEGAN/PacGAN;
- unlabelled sets (lfw-faces, single-image, plain image folders): none. A classifier needs classes;
  rather than invent a proxy (an autoencoder's features have no agreed meaning), class-based scores are
  refused there and FID/KID/PR/IS use Inception-v3 (`--inception-weights PATH`). Memorization works
  on pixels without any evaluator.
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import torch


# Data whose evaluator is another dataset's classifier, applied per channel.
PER_CHANNEL_SOURCE = {"stacked-mnist": "mnist5k"}
DEFAULT_MODEL = "darknet-small"
# Default courses per model: the classifier benchmark's settings (>= 98 % on mnist5k).
DEFAULT_TRAINING = {
    "darknet-small": dict(schedule="1cycle", lr=0.1, epochs=5),
    "cnn": dict(schedule={"kind": "1cycle", "optimizer": "adam", "lr_max": 3e-3}, epochs=8),
}


def cache_root(cache_dir: str | None = None) -> str:
    """--cache-dir, else $GANFORGE_CACHE, else ~/.cache/ganforge."""
    return cache_dir or os.environ.get("GANFORGE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ganforge")


def evaluator_source(data: str) -> str:
    """The dataset whose classifier evaluates `data` (itself, or mnist5k for stacked-mnist)."""
    return PER_CHANNEL_SOURCE.get(data, data)


def data_version(data: str, data_root: str | None = None) -> str:
    """12 hex digits of SHA-256 over the training split's images and labels."""
    from ..classify.data import load_labelled

    train = load_labelled(data, "train", root=data_root)
    h = hashlib.sha256()
    for t in (train.images, train.labels):
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:12]


def evaluator_dir(data: str, cache_dir: str | None = None, data_root: str | None = None) -> str:
    from ..runtime.rundir import slug

    source = evaluator_source(data)
    name = slug(os.path.basename(os.path.normpath(source)) if os.path.isdir(source) else source)
    return os.path.join(cache_root(cache_dir), "evaluators", f"{name}-{data_version(source, data_root)}")


def fit_evaluator(
    data: str, cache_dir: str | None = None, model: str = DEFAULT_MODEL, epochs: float | None = None,
    force: bool = False, data_root: str | None = None, device: str = "auto", progress: bool = True,
    **train_args,
) -> tuple[str, dict]:
    """Train (or find cached) the evaluator of `data`; returns (its folder, its evaluator.json facts).

    `train_args` are further ClassifyConfig keys (schedule, lr, batch_size, seed...).
    """
    import fcntl
    import shutil

    folder = evaluator_dir(data, cache_dir, data_root)
    facts_path = os.path.join(folder, "evaluator.json")
    if os.path.isfile(facts_path) and not force:
        return folder, read_facts(folder)
    os.makedirs(folder, exist_ok=True)
    # One fit at a time: a second process (two benchmarks, two evaluations started together) waits for
    # the first and then reads its evaluator instead of colliding with its half-written classifier.
    with open(os.path.join(folder, ".fit.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(facts_path) and not force:
            return folder, read_facts(folder)
        for stale in (facts_path, os.path.join(folder, "classifier")):  # forced, or an interrupted fit's
            if os.path.isdir(stale):
                shutil.rmtree(stale)
            elif os.path.exists(stale):
                os.remove(stale)
        return _fit(data, folder, facts_path, model, epochs, data_root, device, progress, train_args)


def _fit(data, folder, facts_path, model, epochs, data_root, device, progress, train_args) -> tuple[str, dict]:
    from ..classify import ClassifyConfig, train

    settings = dict(DEFAULT_TRAINING.get(model, {"epochs": 5}))
    settings.update(train_args)
    if epochs is not None:
        settings["epochs"] = epochs
    source = evaluator_source(data)
    cfg = ClassifyConfig(model=model, data=source, data_root=data_root, device=device, **settings)
    t0 = time.perf_counter()
    result = train(cfg, out=os.path.join(folder, "classifier"), progress=progress)
    facts = {
        "data": data, "source": source, "version": os.path.basename(folder).rsplit("-", 1)[-1],
        "model": model, "per_channel": source != data, "test_accuracy": result.test.accuracy,
        "train_seconds": round(time.perf_counter() - t0, 1), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }  # fmt: skip
    tmp = facts_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(facts, f, indent=1)
    os.replace(tmp, facts_path)  # written last: a folder without it is an interrupted fit
    return folder, facts


def read_facts(folder: str) -> dict:
    with open(os.path.join(folder, "evaluator.json")) as f:
        return json.load(f)
