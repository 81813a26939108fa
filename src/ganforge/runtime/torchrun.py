"""torchrun for `ganforge train --nproc K`, with ganforge's exit codes and without a traceback for a refusal.

    python -m ganforge.runtime.torchrun --standalone --nproc_per_node K -m ganforge train ...

This is torch.distributed.run itself (same arguments, same signal handling), run in its own process.
What differs is how a failure ends. torchrun turns a failed rank into a ChildFailedError, which prints
a traceback and a summary and exits 1. Here, when every failed rank exited 2 (a `ganforge: error:`
refusal, which rank 0 printed as one line), the launcher exits 2 and adds nothing. Any other failure
prints torchrun's summary of the failed ranks and exits with the first failed rank's own code (1 for a
rank a signal killed).
"""
from __future__ import annotations

import logging
import sys

REFUSED = 2  # ganforge's exit code for a bad input (cli.main)


def main(argv: list[str]) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # The elastic agent logs each failed rank at ERROR level; a refusal has said everything already,
    # and other failures get torchrun's summary below.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    try:
        run(parse_args(argv))
    except ChildFailedError as failed:
        codes = [failure.exitcode for _, failure in sorted(failed.failures.items())]
        if all(code == REFUSED for code in codes):
            return REFUSED
        print(failed.format_msg(), file=sys.stderr)
        return next((code for code in codes if code > 0 and code != REFUSED), 1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
