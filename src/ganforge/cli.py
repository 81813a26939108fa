"""`ganforge <verb>`: the command line.

Each verb lives in `ganforge/commands/<verb>.py` with `register(subparsers)`, which adds its parser and
sets `func`. A `GanforgeError` becomes its message on stderr and exit code 2, with no traceback.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from .errors import GanforgeError

WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)

# Modules under ganforge.commands, in the order `ganforge --help` lists them.
COMMAND_MODULES = ["train", "generate", "listing", "schedule", "classify", "lr_find", "stylize", "saliency", "eval", "compare", "fit_evaluator", "diagnose", "report", "runs", "interpolate", "translate", "traverse"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganforge", description="Train, evaluate and sample the classic GANs."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"ganforge.commands.{name}").register(sub)
    return parser


# A verb's trailing word list: argparse fills it only up to the first option, so
# `train --steps 600 loss=hinge` would reject `loss=hinge`; words after options are added here in order.
TRAILING_WORDS = ("overrides", "images")


def parse_words(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args, extra = parser.parse_known_args(argv)
    trailing = next((getattr(args, name) for name in TRAILING_WORDS if isinstance(getattr(args, name, None), list)), None)
    unknown = [w for w in extra if w.startswith("-") or trailing is None]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if trailing is not None:
        trailing.extend(extra)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parse_words(parser, argv)
    args.argv = list(argv)  # the words as typed: `train --nproc K` hands them on to torchrun
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if not argv else 2
    try:
        return int(args.func(args) or 0)
    except GanforgeError as e:
        from .errors import ConfigError, DataError
        from .runtime.distributed import env_world
        from .runtime.torchrun import leave_refusal

        rank = env_world().rank
        if leave_refusal(str(e)):  # a rank of `train --nproc`: its launcher says it once, when every rank has ended
            return 2
        if rank == 0:
            print(f"ganforge: error: {e}", file=sys.stderr)
        elif not isinstance(e, (ConfigError, DataError)):  # every rank reads the same config and data: rank 0 said it
            print(f"ganforge: error: (rank {rank}) {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full or read-only disk, a folder one may not write: the file and what to do
        from .runtime.checkpoint import os_error, what_to_do

        reason = os_error(e)
        if reason is None or reason.errno not in WRITE_ERRNOS:
            raise
        where = f" {reason.filename}" if reason.filename else ""
        print(f"ganforge: error: cannot write{where}: {reason.strerror}; {what_to_do(reason)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ganforge presets | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM from a scheduler: the loop saved a checkpoint first
        print("ganforge: interrupted", file=sys.stderr)
        return getattr(e, "exit_code", 130)


if __name__ == "__main__":
    sys.exit(main())
