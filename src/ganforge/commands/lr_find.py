"""`ganforge lr-find`: the learning-rate range test, plotted, with the suggested lr.

The classifier side is here (the same model/data/optimizer flags as `ganforge classify train`); the
sweep itself is `ganforge.tools.lr_finder.lr_find`, which takes any one-step training callable.
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
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.classify.lr_range import classifier_lr_find

    cfg = config_from_args(args)
    result = classifier_lr_find(cfg, args.start, args.end, args.num, args.mode, args.diverge)
    how = "the loss diverged" if result.diverged else "reached the end lr"
    print(f"{len(result.lrs)} steps, lr {result.lrs[0]:.3g} -> {result.lrs[-1]:.3g} ({how})")
    if result.suggestion is not None:
        print(f"suggested lr (steepest descent): {result.suggestion:.3g}")
    if result.min_loss_lr is not None:
        print(f"lowest loss at lr {result.min_loss_lr:.3g}; a tenth of it: {result.min_loss_lr / 10:.3g}")
    result.plot(args.out, title=f"lr range test: {cfg.model} on {cfg.data}")
    print(f"wrote {args.out}")
    return 0
