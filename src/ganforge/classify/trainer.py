"""The classifier trainer: phases of (optimizer, lr/momentum curve, data, image size), cross-entropy loss.

A run folder is laid out like a GAN run (runs/NNNNN-classify-<model>-<data>/): config.yaml (with
`kind: classifier`), stats.jsonl (one line per epoch), checkpoints/, confusion.png at the end.

Epochs: epoch e visits the data in the order randperm(n) seeded by (seed, e), in whole batches (the
last partial batch is dropped). An epoch ends when the pass is done, at the end of training, or where a
phase switches to other data, image size or batch size (progressive resizing). At each epoch end the
model is evaluated on the test split and a checkpoint is written, so a resume continues exactly as
training straight through: the schedule is a function of the step, the batch order of the epoch, and
the optimizer, scaler and RNG states are in the checkpoint.
"""
from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..runtime.core_share import thread_policy
from ..runtime.checkpoint import list_checkpoints, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ..runtime.rundir import claim_run_dir, new_run_dir, require_run_dir
from ..optim.schedule import Phase, PhasedOptimizer, Schedule, build_schedule
from .config import RESUMABLE_KEYS, ClassifyConfig, config_from_dict, config_to_dict, schedule_spec, write_config
from ..devices import resolve_device
from .data import LabelledImages, flip_and_crop, load_labelled
from .models import ANY_SIZE, build_classifier
from .report import Evaluation, evaluate, save_confusion_matrix

DEFAULT_RUNS_ROOT = "runs"


def train_step(model: nn.Module, optimizer, scaler, x, y, amp: bool, label_smoothing: float = 0.0) -> torch.Tensor:
    """One update on a batch; returns the loss and the logits (detached) for the statistics."""
    with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp):
        logits = model(x)
    # Cross-entropy in float32 (the softmax of float16 logits loses precision).
    loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach(), logits.detach()


@dataclass
class ClassifyResult:
    run_dir: str
    test: Evaluation
    epochs: list[dict] = field(default_factory=list)  # the stats lines written by this call
    seconds: float = 0.0  # training time of this call, evaluation included


class ClassifierTrainer:
    """Builds data, model, schedule and optimizer from a ClassifyConfig; `train(run_dir)` runs it."""

    def __init__(self, cfg: ClassifyConfig, resume_state: dict | None = None, progress: bool = True):
        cfg = copy.deepcopy(cfg)  # resolved below (schedule spec); the caller's object stays as it was
        self.cfg, self.progress = cfg, progress
        self.device = resolve_device(cfg.device)
        self.core_share = thread_policy(cfg.threads, self.device)  # as a GAN training's (runtime/core_share.py)
        self.amp = bool(cfg.amp and self.device.type == "cuda")
        for key in ("batch_size", "eval_batch_size"):
            if getattr(cfg, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(cfg, key)}")
        self._data: dict[tuple, LabelledImages] = {}

        # Resolve the schedule once; the config keeps the resolved spec (lr/weight decay folded in).
        spec = schedule_spec(cfg)
        cfg.schedule, cfg.lr, cfg.weight_decay = spec, None, None
        self.schedule: Schedule = build_schedule(spec, steps_per_epoch=self._steps_per_epoch)
        sizes = {self._data_key(p)[1] for p in self.schedule.phases}
        first = self.train_data(self.schedule.phases[0])
        if len(sizes) > 1 and cfg.model not in ANY_SIZE:
            raise ConfigError(
                f"the phases change the image size, but '{cfg.model}' works at one size; use one of "
                f"{', '.join(sorted(ANY_SIZE))} for progressive resizing"
            )
        self.input = {"channels": first.channels, "resolution": first.resolution, "num_classes": first.num_classes}
        for phase in self.schedule.phases:
            data = self.train_data(phase)
            if data.num_classes != first.num_classes or data.channels != first.channels:
                raise ConfigError("every phase's data must have the same classes and channels as the first phase's")

        torch.manual_seed(cfg.seed)
        self.model = build_classifier(cfg.model, **self.input, **cfg.model_args).to(self.device)
        self.popt = PhasedOptimizer(self.schedule, self.model.parameters())
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.step, self.epoch = 0, 0
        if resume_state is not None:
            self._load_state(resume_state)

    # --- data -------------------------------------------------------------------------------------

    def _data_key(self, phase: Phase) -> tuple:
        return (phase.data or self.cfg.data, phase.image_size or self.cfg.image_size)

    def _batch_size(self, phase: Phase) -> int:
        return phase.batch_size or self.cfg.batch_size

    def _load(self, key: tuple, split: str) -> LabelledImages:
        if (key, split) not in self._data:
            name, size = key
            self._data[key, split] = load_labelled(name, split, size, self.cfg.channels, self.cfg.data_root, self.device)
        return self._data[key, split]

    def train_data(self, phase: Phase) -> LabelledImages:
        return self._load(self._data_key(phase), "train")

    def test_data(self, phase: Phase) -> LabelledImages:
        return self._load(self._data_key(phase), "test")

    def _steps_per_epoch(self, phase: Phase) -> int:
        n, bs = len(self.train_data(phase)), self._batch_size(phase)
        if n < bs:
            raise ConfigError(f"the dataset has {n} training images, fewer than one batch of {bs}")
        return n // bs

    def _epoch_key(self, step: int) -> tuple:
        phase = self.schedule.phase_at(step)
        return (*self._data_key(phase), self._batch_size(phase))

    # --- checkpoints ------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "kind": "classifier",
            "config": config_to_dict(self.cfg),
            "input": dict(self.input),
            "schedule": self.schedule.to_list(),
            "step": self.step,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.popt.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
        }

    def _load_state(self, state: dict) -> None:
        saved, rebuilt = state["schedule"], self.schedule.to_list()
        if saved != rebuilt and not extends_constant_end(saved, rebuilt):
            raise CheckpointError(
                "the schedule rebuilt from the config differs from the checkpoint's (did the dataset change?)"
            )
        self.model.load_state_dict(state["model"])
        self.popt.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        set_rng_state(state["rng"])

    # --- the loop ---------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        if self.progress:
            print(text, flush=True)

    def train(self, run_dir: str, max_epochs: int | None = None) -> ClassifyResult:
        """Train from the current step to the end of the schedule (or for at most `max_epochs` epochs of
        this call: an interrupted run, for tests of resuming)."""
        try:
            return self._train(run_dir, max_epochs)
        finally:
            if self.core_share is not None:
                self.core_share.restore()

    def _train(self, run_dir: str, max_epochs: int | None) -> ClassifyResult:
        cfg, schedule = self.cfg, self.schedule
        end = schedule.total_steps
        epochs_left = max_epochs if max_epochs is not None else -1
        ckpt_dir = os.path.join(run_dir, "checkpoints")
        stats_path = os.path.join(run_dir, "stats.jsonl")
        t_start = time.perf_counter()
        written: list[dict] = []
        last_eval: Evaluation | None = None
        self.model.train()
        while self.step < end and epochs_left != 0:
            epochs_left -= 1
            # One epoch: the batches of order randperm(n; seed, epoch) until the pass ends, the data of
            # the phase changes, or training ends.
            t_epoch = time.perf_counter()
            key = self._epoch_key(self.step)
            phase = schedule.phase_at(self.step)
            data, bs = self.train_data(phase), self._batch_size(phase)
            order = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.epoch))
            order = order.to(self.device)
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), dtype=torch.long, device=self.device)
            seen = position = 0
            while True:
                idx = order[position * bs : (position + 1) * bs]
                x, y = data.images[idx], data.labels[idx]
                if cfg.augment:
                    x = flip_and_crop(x)
                optimizer = self.popt.prepare(self.step)
                loss, logits = train_step(self.model, optimizer, self.scaler, x, y, self.amp, cfg.label_smoothing)
                loss_sum += loss * len(y)
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
                position += 1
                self.step += 1
                if self.core_share is not None and self.core_share.poll() is not None:
                    self._say(self.core_share.note("--threads N"))
                if self.step >= end or (position + 1) * bs > len(data) or self._epoch_key(self.step) != key:
                    break
            self.epoch += 1
            last_eval = evaluate(self.model, self.test_data(phase), cfg.eval_batch_size, self.amp)
            record = {
                "Progress/epoch": self.epoch,
                "Progress/step": self.step,
                "Progress/phase": schedule.phase_index(self.step - 1) + 1,
                "Schedule/lr": schedule.lr_at(self.step - 1),
                "Loss/train": float(loss_sum) / seen,
                "Accuracy/train": float(correct) / seen,
                **last_eval.as_stats("test"),
                "Timing/epoch_sec": time.perf_counter() - t_epoch,
            }
            if self.core_share is not None:
                record["threads"] = self.core_share.threads
            with open(stats_path, "a") as f:
                f.write(json.dumps(record) + "\n")
            written.append(record)
            save_checkpoint(self.state_dict(), ckpt_dir, self.step, keep=cfg.keep_checkpoints)
            self._say(
                f"epoch {self.epoch:>3}  step {self.step:>6}/{schedule.total_steps}  lr {record['Schedule/lr']:.3g}  "
                f"train loss {record['Loss/train']:.4f} acc {100 * record['Accuracy/train']:.2f}%  "
                f"test loss {last_eval.loss:.4f} acc {100 * last_eval.accuracy:.2f}%  ({record['Timing/epoch_sec']:.1f} s)"
            )
        if last_eval is None:  # nothing left to train (a finished run resumed): evaluate what there is
            last_eval = evaluate(self.model, self.test_data(schedule.phases[-1]), cfg.eval_batch_size, self.amp)
        if self.step >= schedule.total_steps:
            save_confusion_matrix(last_eval.confusion, os.path.join(run_dir, "confusion.png"), title=f"{cfg.model} on {cfg.data}")
        return ClassifyResult(run_dir, last_eval, written, time.perf_counter() - t_start)


# --- runs: start, resume, load -----------------------------------------------------------------------


def train(cfg: ClassifyConfig, out: str | None = None, runs_root: str = DEFAULT_RUNS_ROOT, progress: bool = True) -> ClassifyResult:
    """Train a new classifier run; `out` names its folder (refused if it exists and is not empty)."""
    if out is not None and os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        claim_run_dir(out)  # raises before any work: never overwrite a run
    trainer = ClassifierTrainer(cfg, progress=progress)  # a bad config fails before a folder exists
    run_dir = claim_run_dir(out) if out else new_run_dir(runs_root, "classify", cfg.model, cfg.data)
    write_config(trainer.cfg, os.path.join(run_dir, "config.yaml"))
    trainer._say(f"training {cfg.model} on {cfg.data}: {trainer.schedule.total_steps} steps, {len(trainer.schedule.phases)} phases -> {run_dir}")
    return trainer.train(run_dir)


def latest_checkpoint(run_dir: str) -> str:
    path = os.path.join(run_dir, "checkpoints", "ckpt-latest.pt")
    if not os.path.isfile(path):
        if list_checkpoints(os.path.join(run_dir, "checkpoints")):
            path = list_checkpoints(os.path.join(run_dir, "checkpoints"))[-1][1]
        else:
            raise CheckpointError(f"{run_dir} has no checkpoint yet")
    return path


def _load_run_state(run_dir: str) -> dict:
    require_run_dir(run_dir)
    state = load_checkpoint(latest_checkpoint(run_dir))
    if state.get("kind") != "classifier":
        raise CheckpointError(f"{run_dir} is not a classifier run (train GANs with `ganforge train`)")
    return state


def extends_constant_end(saved: list[dict], rebuilt: list[dict]) -> bool:
    """Whether the phases `rebuilt` are `saved` with only its last phase made longer, that phase at a
    constant lr and momentum: then every step already trained has the lr and momentum it had."""
    if len(saved) != len(rebuilt) or saved[:-1] != rebuilt[:-1]:
        return False
    length = ("steps", "epochs")
    old, new = saved[-1], rebuilt[-1]
    constant = old.get("decay") == "constant" and old.get("momentum_decay", "constant") == "constant"
    same_otherwise = {k: v for k, v in old.items() if k not in length} == {k: v for k, v in new.items() if k not in length}
    longer = all(k in old and k in new and new[k] > old[k] for k in length if k in old or k in new)
    return constant and same_otherwise and longer


def _epochs(n: float) -> str:
    return f"{n:g} epoch{'' if n == 1 else 's'}"


def _extend_course(cfg: ClassifyConfig, epochs: float, run_dir: str) -> None:
    """Lengthen `cfg`'s course to `epochs` in all, where that keeps the steps already trained exactly as
    they were: a constant course, whose lr is the same at every step. A course shaped by its length
    (1cycle, step, sgdr, ...) would give every step a new lr, so it is refused."""
    spec = cfg.schedule  # the resolved course the run trained (a course mapping or a list of phases)
    course = isinstance(spec, dict) and isinstance(spec.get("epochs"), (int, float))
    if not course:
        what = "a list of phases" if isinstance(spec, list) else "a course measured in steps"
        raise ConfigError(
            f"{run_dir} trained {what}; --resume with --epochs extends only a constant course measured in "
            f"epochs. To train longer, start a new run with --epochs {epochs:g}"
        )
    if spec.get("kind") != "constant":
        raise ConfigError(
            f"{run_dir} trained a {spec['kind']} course of {_epochs(spec['epochs'])}, which sets the lr of every step by its length: extending it to "
            f"{_epochs(epochs)} would change the steps already trained. To train longer, start a new run "
            f"with --epochs {epochs:g}; only a --schedule constant course (its lr the same at every step) "
            "can be extended by --resume with --epochs"
        )
    if epochs < spec["epochs"]:
        raise ConfigError(
            f"{run_dir}'s course is already {_epochs(spec['epochs'])} long; extending takes more than that, got --epochs {epochs:g}"
        )
    cfg.schedule, cfg.epochs = {**spec, "epochs": epochs}, epochs


def resume(run_dir: str, overrides: dict | None = None, progress: bool = True) -> ClassifyResult:
    """Continue a classifier run from its latest checkpoint. Only bookkeeping keys may change, and
    `epochs`, which extends a constant course (see `_extend_course`; a finished run trains on)."""
    state = _load_run_state(run_dir)
    cfg = config_from_dict(state["config"])
    overrides = dict(overrides or {})
    if "epochs" in overrides:
        epochs = overrides.pop("epochs")
        course = cfg.schedule.get("epochs") if isinstance(cfg.schedule, dict) else None
        if epochs != course:
            _extend_course(cfg, float(epochs), run_dir)
    changes = {k: v for k, v in overrides.items() if getattr(cfg, k, None) != v}
    bad = sorted(k for k in changes if k not in RESUMABLE_KEYS)
    if bad:
        raise ConfigError(
            f"a resumed run keeps its hyperparameters; {', '.join(bad)} would change. Only "
            f"{', '.join(sorted(RESUMABLE_KEYS))} may change (or start a new run)."
        )
    for key, value in changes.items():
        setattr(cfg, key, value)
    trainer = ClassifierTrainer(cfg, resume_state=state, progress=progress)
    write_config(trainer.cfg, os.path.join(run_dir, "config.yaml"))
    trainer._say(f"resuming {run_dir} at step {trainer.step}/{trainer.schedule.total_steps}")
    return trainer.train(run_dir)


def load_classifier(run_dir: str, device="cpu") -> tuple[nn.Module, dict]:
    """The trained model of a classifier run (eval mode) and its checkpoint's facts: config, input
    (channels, resolution, num_classes), step. What evaluators built on trained classifiers load."""
    state = _load_run_state(run_dir)
    cfg = config_from_dict(state["config"])
    model = build_classifier(cfg.model, **state["input"], **cfg.model_args)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return model, {"config": cfg, "input": state["input"], "step": state["step"], "schedule": state["schedule"]}


def evaluate_run(run_dir: str, data: str | None = None, data_root: str | None = None, device="auto",
                 batch_size: int = 500) -> tuple[Evaluation, dict]:
    """Test accuracy of a trained classifier on `data`'s test split (default: the run's own data),
    resized to the size the run last trained at."""
    device = resolve_device(device)
    model, facts = load_classifier(run_dir, device)
    cfg = facts["config"]
    last = facts["schedule"][-1]  # phases are saved with every key explicit
    size = last.get("image_size") or cfg.image_size or facts["input"]["resolution"]
    name = data or last.get("data") or cfg.data
    test = load_labelled(name, "test", size, facts["input"]["channels"], data_root or cfg.data_root, device)
    if test.num_classes != facts["input"]["num_classes"]:
        raise ConfigError(f"'{name}' has {test.num_classes} classes; the classifier was trained on {facts['input']['num_classes']}")
    return evaluate(model, test, batch_size), {"data": name, "image_size": size, "step": facts["step"]}
