"""In-training evaluation: score the generator every `eval_every` steps, keep the best checkpoint.

A Monitor (ganforge.train.monitor). The evaluator and the real reference features are prepared once,
when the monitor is built (before a run folder exists, so a missing evaluator fails before any
training). On the logging tick at or after each multiple of `eval_every` (and on the last step) it
draws `eval_n` samples from the sampling generator (the EMA copy when kept) with a private RNG, so
evaluating changes no training state, scores `eval_metrics`, appends the cards to metrics/metrics.jsonl
and puts 'Eval/<score>' entries in the tick's record. With `best_metric` set, a new best score saves
checkpoints/ckpt-best.pt (a full checkpoint plus a 'best' entry) and metrics/best.json.

Under torchrun it runs on every rank: each generates and extracts features for its share of the
samples (and of the reference), every rank scores the gathered whole, and rank 0 alone writes.
"""
from __future__ import annotations

import math
import os

import torch

from ..runtime.checkpoint import FORMAT, atomic_save
from ..runtime import distributed
from ..train.monitor import Monitor
from ..errors import ConfigError
from ..metrics.evaluate import (
    HIGHER_IS_BETTER,
    check_available,
    check_best_metric,
    check_metric_names,
    class_options,
    default_metrics,
    prepare_reference,
    score,
)
from ..metrics.evaluator import resolve_evaluator, split_over_ranks
from ..metrics.records import append_cards, read_best, write_best
from ..metrics.translation import higher_is_better as translation_higher_is_better

EVAL_SEED = 1234  # fixed noise for every in-training evaluation: scores differ only by the weights


class EvalMonitor(Monitor):
    def __init__(self, cfg, cache_dir: str | None = None):
        from ..data import get_dataset

        self.cfg = cfg
        self.translation = _translation_references(cfg, cache_dir)
        if self.translation is not None:  # CycleGAN/pix2pix: their own cards, not A -> B against cfg.data
            self.every, self.last, self.best = cfg.eval_every or cfg.steps, 0, None
            return
        # Under torchrun every rank builds this monitor: joining the process group now lets the ranks
        # share the reference's feature extraction as they later share sampling and scoring.
        self.world, device = distributed.setup(cfg.device)
        self.all_ranks = True
        conditional = bool(cfg.model.conditional_g)
        asked = check_metric_names(cfg.eval_metrics, conditional, "eval_metrics") if cfg.eval_metrics else None
        info = get_dataset(cfg.data, "test", cfg.image_size, cfg.channels, cfg.data_root, skip_bad_images=cfg.skip_bad_images)
        evaluator = resolve_evaluator(
            cfg.data, info.kind, info.num_classes, cfg.eval_evaluator, cfg.eval_inception_weights, cache_dir,
            cfg.data_root,
        )  # fmt: skip
        self.evaluator = split_over_ranks(evaluator, self.world, device)
        self.metrics = asked or default_metrics(info.kind, self.evaluator, conditional)
        if cfg.best_metric:
            check_best_metric(cfg.best_metric, self.metrics)
        self.every = cfg.eval_every or cfg.steps  # best_metric alone: evaluate at the end
        self.reference = prepare_reference(
            cfg.data, self.evaluator, self.metrics, cfg.image_size, cfg.channels, cfg.data_root, n_ref=cfg.eval_n,
            seed=cfg.seed, data_limit=cfg.data_limit,
        )
        try:  # what this evaluator cannot score fails now, not at the first evaluation after training has begun
            check_available(self.metrics, self.reference, self.evaluator)
        except ConfigError as e:
            raise ConfigError(f"eval_metrics: {e}" if asked else str(e)) from None
        self.last = 0
        self.best: dict | None = None

    def on_start(self, trainer) -> None:
        self.last = trainer.step
        if trainer.world.is_main:  # a resumed run keeps its best so far (only rank 0 has the folder)
            self.best = read_best(trainer.run_dir)

    def on_tick(self, trainer, record: dict) -> None:
        step = record["step"]
        if step // self.every <= self.last // self.every and step != self.cfg.steps:
            return
        self.last = step
        if self.translation is not None:
            cards = trainer.algorithm.score_translation(self.translation, seed=EVAL_SEED, metrics=self.cfg.eval_metrics or None)
        else:
            # A class-conditional G's samples are scored against the classes they were drawn for, as `ganforge eval` does.
            options = class_options(self.metrics, trainer.algorithm.sample_classes(self.cfg.eval_n))
            cards = score(self._samples(trainer), self.reference, self.evaluator, self.metrics, seed=EVAL_SEED, options=options)
        if not trainer.world.is_main:  # this rank did its share of sampling and features; rank 0 writes
            return
        append_cards(trainer.run_dir, cards, step, "train")
        for card in cards:
            record[f"Eval/{card.metric}"] = card.value
        if self.cfg.best_metric:
            self._keep_best(trainer, cards, record)

    def _samples(self, trainer) -> torch.Tensor:
        return trainer.samples(self.cfg.eval_n, seed=EVAL_SEED)

    def _keep_best(self, trainer, cards: list, record: dict) -> None:
        name = self.cfg.best_metric
        value = next(c.value for c in cards if c.metric == name)
        if not math.isfinite(value):
            return
        higher = HIGHER_IS_BETTER[name] if self.translation is None else translation_higher_is_better(name)
        if self.best is not None and self.best.get("metric") == name:
            old = self.best["value"]
            if (value <= old) if higher else (value >= old):
                return
        self.best = {"metric": name, "value": value, "step": record["step"], "higher_is_better": higher}
        path = os.path.join(trainer.run_dir, "checkpoints", "ckpt-best.pt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_save({"format": FORMAT, **trainer.state_dict(), "best": dict(self.best)}, path)
        write_best(trainer.run_dir, self.best)
        record["Eval/best_step"] = record["step"]


def _translation_references(cfg, cache_dir: str | None):
    """Prepared references of an image-to-image algorithm (one with `prepare_evaluation`), else None.

    Its cards (metrics/translation.py) replace the GAN metrics: translations are scored against the
    target domain, with cycle and paired errors and label preservation. A best_metric must name one of
    the cards the run will produce (checked here, before training)."""
    from ..algorithms import get_algorithm

    algorithm = get_algorithm(cfg.algorithm)
    if not hasattr(algorithm, "prepare_evaluation"):
        return None
    refs = algorithm.prepare_evaluation(cfg, cfg.eval_n, cfg.eval_evaluator, cfg.eval_inception_weights, cache_dir,
                                        metrics=cfg.eval_metrics or None)  # fmt: skip
    if cfg.best_metric:
        from ..metrics.translation import expected_metrics

        names = expected_metrics(refs, algorithm.directions, cfg.eval_metrics or None)
        if cfg.best_metric not in names:
            raise ConfigError(f"best_metric '{cfg.best_metric}' is not a score of this {cfg.algorithm} run; it scores {', '.join(names)}")
    return refs
