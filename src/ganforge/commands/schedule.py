"""`ganforge schedule PRESET_OR_FILE -o schedule.png`: plot a schedule's lr and momentum, list its phases."""
from __future__ import annotations

import os

from ..config import parse_override
from ..errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser(
        "schedule",
        help="plot a training schedule (lr, momentum, phases)",
        description="Plot lr and momentum over training, with phase boundaries and each phase's optimizer. "
        "PRESET_OR_FILE is a course (constant, step, sgdr, 1cycle, cyclegan, wgan-drop) or a YAML file holding "
        "a list of phases, a course mapping {kind: ...}, or a config with a 'schedule' key.",
    )
    p.add_argument("source", metavar="PRESET_OR_FILE")
    p.add_argument("-o", "--out", default="schedule.png", help="image to write (default: schedule.png)")
    p.add_argument("--steps", type=int, help="length of a course, in steps")
    p.add_argument("--epochs", type=float, help="length of a course, in epochs (needs --steps-per-epoch)")
    p.add_argument("--steps-per-epoch", type=int, help="converts phases measured in epochs to steps")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a course argument, e.g. --set lr_max=0.4 --set annihilate=0.2")
    p.add_argument("--log-lr", action="store_true", help="log scale for the lr axis")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..optim.schedule import build_schedule
    from ..optim.courses import load_schedule_spec
    from ..optim.plot import plot_schedule

    spec = load_schedule_spec(args.source)
    extra = {}
    for text in args.overrides:
        extra.update(parse_override(text))
    if args.steps is not None:
        extra["steps"] = args.steps
    if args.epochs is not None:
        extra["epochs"] = args.epochs
    if extra:
        if not isinstance(spec, dict):
            raise ConfigError("--steps/--epochs/--set change a course; edit the file to change a list of phases")
        spec = {**spec, **extra}
    try:
        schedule = build_schedule(spec, steps_per_epoch=args.steps_per_epoch)
    except ConfigError as e:
        if "no steps per epoch" in str(e):
            raise ConfigError(f"{e}, or pass --steps-per-epoch N") from None
        raise
    print(f"{schedule.total_steps} steps in {len(schedule.phases)} phases:")
    for phase, start, n in zip(schedule.phases, schedule.starts, schedule.lengths):
        m0, m1 = phase.momentum_at(0.0), phase.momentum_at((n - 1) / n)
        mom = "" if m0 is None else f"  momentum {m0:.3g} -> {m1:.3g}"
        name = f" ({phase.name})" if phase.name else ""
        print(f"  steps {start:>7}-{start + n - 1:<7} {phase.optimizer:<8} lr {phase.lr[0]:.3g} -> "
              f"{phase.lr[1]:.3g} {phase.decay}{mom}{name}")
    title = os.path.basename(args.source) if not isinstance(spec, dict) else f"{spec.get('kind', '')}"
    plot_schedule(schedule, args.out, title=title, log_lr=args.log_lr)
    print(f"wrote {args.out}")
    return 0
