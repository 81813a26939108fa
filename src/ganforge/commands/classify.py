"""`ganforge classify train|eval|models`: the companion classifier trainer."""
from __future__ import annotations

import argparse

from ..config import parse_override
from ..errors import ConfigError


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments that make a ClassifyConfig (shared with `ganforge lr-find`)."""
    p.add_argument("--model", help="softmax, mlp, cnn, darknet, darknet-wide, darknet-small (default: cnn)")
    p.add_argument("--data", help="a labelled dataset (default: mnist5k)")
    p.add_argument("--data-root", help="where torchvision sets are (or are downloaded to)")
    p.add_argument("--image-size", type=int, help="resize images to this size")
    p.add_argument("--schedule", help="a course (constant, step, sgdr, 1cycle, ...) or a YAML file of phases; "
                   "default: the model's best known recipe, all 1cycle (cnn: Adam to 3e-3 over 8 epochs; "
                   "darknet-small: SGD to 0.1 over 5; `ganforge classify models` lists each)")
    p.add_argument("--schedule-arg", dest="schedule_args", action="append", default=[], metavar="KEY=VALUE",
                   help="an argument of the course, e.g. --schedule-arg annihilate=0.2")
    p.add_argument("--epochs", type=float, help="length of the course (default: the default course's own, "
                   "e.g. 8 for cnn; 2 for a --schedule that names no length)")
    p.add_argument("--lr", type=float, help="the course's learning rate (1cycle/sgdr: the peak)")
    p.add_argument("--optimizer", help="the course's optimizer: sgd, adam, adamw, rmsprop")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--augment", action="store_true", default=None, help="random flips and padded crops")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--no-amp", dest="amp", action="store_false", default=None, help="no mixed precision on a GPU")
    p.add_argument("--threads", type=int, help="torch CPU threads (0: torch's default, fewer while other programs keep the cores busy)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set model_args.nf=16 --set label_smoothing=0.1")


FLAG_KEYS = ("model", "data", "data_root", "image_size", "schedule", "epochs", "lr", "weight_decay", "batch_size",
             "augment", "seed", "device", "amp", "threads")


def config_from_args(args):
    """ClassifyConfig from defaults <- flags <- --set overrides <- --schedule-arg course arguments."""
    from ..config import merge
    from ..classify.config import ClassifyConfig

    cfg = ClassifyConfig()
    merge(cfg, {k: getattr(args, k) for k in FLAG_KEYS if getattr(args, k, None) is not None})
    for text in args.overrides:
        merge(cfg, parse_override(text))
    if args.optimizer or args.schedule_args:
        from ..classify.config import schedule_spec

        spec = schedule_spec(cfg)
        if not isinstance(spec, dict):
            raise ConfigError("--optimizer and --schedule-arg change a course; a file of phases sets its own")
        if args.optimizer:
            spec["optimizer"] = args.optimizer
        for text in args.schedule_args:
            spec.update(parse_override(text))
        cfg.schedule, cfg.lr, cfg.weight_decay = spec, None, None
    return cfg


def register(sub) -> None:
    p = sub.add_parser("classify", help="train and evaluate image classifiers (tutorial models, phases, 1cycle)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")

    t = verbs.add_parser("train", help="train a classifier: a run folder with stats, checkpoints, confusion matrix")
    add_training_arguments(t)
    t.add_argument("--out", help="run folder (default: runs/NNNNN-classify-<model>-<data>)")
    t.add_argument("--runs-root", default="runs", help="where numbered run folders go (default: runs)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a classifier run from its latest checkpoint. With "
                   "--epochs N, a constant course (--schedule constant) is extended to N epochs in all, a finished run "
                   "too, exactly as if trained for N straight through; a course shaped by its length (1cycle, the "
                   "default; step; sgdr) is refused, since longer it would give every step a new lr: start a new run")
    t.set_defaults(func=run_train)

    e = verbs.add_parser("eval", help="test accuracy of a trained classifier")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--data", help="dataset whose test split to use (default: the run's)")
    e.add_argument("--data-root")
    e.add_argument("--device", default="auto")
    e.add_argument("--confusion", metavar="PNG", help="also write the confusion matrix image here")
    e.set_defaults(func=run_eval)

    m = verbs.add_parser("models", help="list the classifier models")
    m.set_defaults(func=run_models)

    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_train(args) -> int:
    from ..classify import trainer

    if args.resume:
        given = {k: getattr(args, k) for k in FLAG_KEYS if getattr(args, k, None) is not None}
        for text in args.overrides:
            given.update(parse_override(text))
        if args.optimizer or args.schedule_args:
            raise ConfigError("a resumed run keeps its schedule; drop --optimizer/--schedule-arg")
        result = trainer.resume(args.resume, given)
    else:
        result = trainer.train(config_from_args(args), out=args.out, runs_root=args.runs_root)
    print(f"test accuracy {100 * result.test.accuracy:.2f}% (loss {result.test.loss:.4f}); run: {result.run_dir}")
    return 0


def run_eval(args) -> int:
    from ..classify.report import save_confusion_matrix
    from ..classify.trainer import evaluate_run

    evaluation, facts = evaluate_run(args.run_dir, args.data, args.data_root, args.device)
    print(f"{args.run_dir} on {facts['data']} test ({facts['image_size']}px, step {facts['step']}): "
          f"accuracy {100 * evaluation.accuracy:.2f}%  loss {evaluation.loss:.4f}")
    if args.confusion:
        save_confusion_matrix(evaluation.confusion, args.confusion, title=facts["data"])
        print(f"wrote {args.confusion}")
    return 0


def describe_course(course: dict) -> str:
    """'1cycle, adam to 0.003, 8 epochs' for {kind: 1cycle, optimizer: adam, lr_max: 3e-3, epochs: 8}."""
    lr = course.get("lr_max", course.get("lr"))
    extra = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k}" for k, v in (course.get("opt_args") or {}).items() if v)
    return (f"{course['kind']}, {course.get('optimizer', 'sgd')}{f' ({extra})' if extra else ''} to {lr:g}, "
            f"{course['epochs']:g} epochs")


def run_models(args) -> int:
    from ..classify.models import CLASSIFIERS, DEFAULT_COURSES

    for name in CLASSIFIERS.list():
        doc = (CLASSIFIERS.get(name).__doc__ or "").strip().splitlines()[0]
        print(f"{name:<14} {doc}\n{'':<14} default course: {describe_course(DEFAULT_COURSES[name])}")
    return 0
