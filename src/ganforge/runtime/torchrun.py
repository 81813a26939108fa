"""torchrun for `ganforge train --nproc K`, with ganforge's exit codes and without a traceback for a refusal.

    python -m ganforge.runtime.torchrun --standalone --nproc_per_node K -m ganforge train ...

This is torch.distributed.run itself (same arguments, same signal handling), run in its own process.
What differs is how a failure ends. torchrun turns a failed rank into a ChildFailedError, which prints
a traceback and a summary and exits 1, and it stops the other ranks with SIGTERM as soon as one fails,
so a rank that would have said why may be stopped before it does. Here the ranks do not print their
`ganforge: error:` refusals (bad config, data, checkpoint: exit code 2): each leaves its message in a
folder this launcher made (`leave_refusal`, called by cli.main), and the launcher prints it once, after
every rank has ended. When every failed rank refused, or was stopped by torchrun after a refusal, it then
exits 2 and adds nothing. Any other failure prints torchrun's summary of the failed ranks after the
messages, and exits with the first failed rank's own code (1 for a rank a signal killed).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile

REFUSED = 2  # ganforge's exit code for a bad input (cli.main)
REFUSALS_ENV = "GANFORGE_REFUSALS"  # the folder where this launcher's ranks leave their refusals


def leave_refusal(message: str) -> bool:
    """Under this launcher: leave this rank's refusal for the launcher to print, and say True. False (and
    nothing left) in any other process, which prints its refusal itself."""
    folder = os.environ.get(REFUSALS_ENV)
    if not folder or not os.path.isdir(folder):
        return False
    path = os.path.join(folder, f"rank-{int(os.environ.get('RANK', '0')):05d}.txt")
    try:
        with open(path + ".part", "w") as f:
            f.write(message)
        os.replace(path + ".part", path)  # whole or absent, however soon torchrun stops this rank
    except OSError:  # a full or read-only disk: the rank says it itself
        return False
    return True


def refusal_lines(folder: str) -> list[str]:
    """The ranks' refusals as `ganforge: error:` lines: one line when every rank said the same (they read
    the same config and data), else each different message once, with the first rank that said it."""
    first_rank: dict[str, int] = {}
    for name in sorted(n for n in os.listdir(folder) if n.startswith("rank-") and n.endswith(".txt")):
        with open(os.path.join(folder, name)) as f:
            first_rank.setdefault(f.read(), int(name[5:-4]))
    if len(first_rank) == 1:
        return [f"ganforge: error: {message}" for message in first_rank]
    return [f"ganforge: error: (rank {rank}) {message}" for message, rank in first_rank.items()]


def main(argv: list[str]) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # The elastic agent logs each failed rank at ERROR level; a refusal is said below in one line, and
    # other failures get torchrun's summary.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="ganforge-refusals-") as folder:
        os.environ[REFUSALS_ENV] = folder  # the ranks inherit the launcher's environment
        try:
            run(parse_args(argv))
        except ChildFailedError as failed:
            codes = [failure.exitcode for _, failure in sorted(failed.failures.items())]
            for line in refusal_lines(folder):
                print(line, file=sys.stderr)
            stopped_by_torchrun = -signal.SIGTERM  # what a rank reports when torchrun ends it after another failed
            if REFUSED in codes and all(code in (REFUSED, stopped_by_torchrun) for code in codes):
                return REFUSED
            print(failed.format_msg(), file=sys.stderr)
            return next((code for code in codes if code > 0 and code != REFUSED), 1)
        finally:
            del os.environ[REFUSALS_ENV]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
