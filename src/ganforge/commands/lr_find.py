"""`ganforge lr-find`: the learning-rate range test, plotted, with the suggested lr.

Classifiers take the model/data/optimizer flags of `ganforge classify train`; `--preset NAME` runs the
test on a GAN preset instead, sweeping D's (or with `--net g`, G's) lr over real training iterations
(ganforge.train.lr_range). The sweep is `ganforge.optim.lr_finder.lr_find` for both.
"""
from __future__ import annotations

from .classify import add_training_arguments, config_from_args


def register(sub) -> None:
    p = sub.add_parser(
        "lr-find",
        help="learning-rate range test: loss vs lr, with a suggested lr",
        description="Train a classifier for up to --num steps while the lr grows from --start to --end; stop "
        "when the loss diverges; plot loss against lr and print the suggested lr (steepest descent of the "
        "smoothed loss) and the min-loss lr / 10. The optimizer, momentum and weight decay are those of the "
        "first phase of the schedule the flags describe (e.g. --schedule 1cycle --weight-decay 5e-4).",
    )
    add_training_arguments(p)
    p.add_argument("--start", type=float, default=1e-6, help="first lr (default 1e-6)")
    p.add_argument("--end", type=float, default=10.0, help="last lr (default 10)")
    p.add_argument("--num", type=int, default=100, help="steps of the sweep (default 100)")
    p.add_argument("--mode", default="exp", help="exp (geometric, default) or linear")
    p.add_argument("--diverge", type=float, default=4.0, help="stop when the smoothed loss exceeds this x its lowest")
    p.add_argument("-o", "--out", default="lr_find.png", help="plot to write (default: lr_find.png)")
    p.add_argument("--preset", help="a GAN preset: sweep one of its networks' lr instead of a classifier's")
    p.add_argument("--net", default="d", help="with --preset: d (default) or g; --data, --batch-size, --seed, "
                   "--device and --set KEY=VALUE then apply to the preset's config")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.preset:
        return run_gan(args)
    from ..classify.lr_range import classifier_lr_find

    cfg = config_from_args(args)
    result = classifier_lr_find(cfg, args.start, args.end, args.num, args.mode, args.diverge)
    return report(result, args.out, f"lr range test: {cfg.model} on {cfg.data}")


def run_gan(args) -> int:
    from ..config import parse_override
    from ..presets import resolve_config
    from ..runs import build_trainer
    from ..train.lr_range import gan_lr_find

    flags = {"data": args.data, "batch_size": args.batch_size, "seed": args.seed, "device": args.device}
    overrides = [parse_override(o) for o in args.overrides] + [{k: v for k, v in flags.items() if v is not None}]
    cfg = resolve_config(args.preset, overrides)
    trainer = build_trainer(cfg, progress=False)
    result = gan_lr_find(trainer, args.net, args.start, args.end, args.num, args.mode, args.diverge)
    return report(result, args.out, f"lr range test: {args.net.upper()} of {cfg.preset} on {cfg.data}")


def report(result, out: str, title: str) -> int:
    how = "the loss diverged" if result.diverged else "reached the end lr"
    print(f"{len(result.lrs)} steps, lr {result.lrs[0]:.3g} -> {result.lrs[-1]:.3g} ({how})")
    if result.suggestion is not None:
        print(f"suggested lr (steepest descent): {result.suggestion:.3g}")
    if result.min_loss_lr is not None:
        print(f"lowest loss at lr {result.min_loss_lr:.3g}; a tenth of it: {result.min_loss_lr / 10:.3g}")
    result.plot(out, title=title)
    print(f"wrote {out}")
    return 0
