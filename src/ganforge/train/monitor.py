"""Monitors: code that watches training without living in the loop (diagnosis, in-training
evaluation, TensorBoard...).

The loop calls every monitor at the start, on each logging tick and at the end, or with the error when
training stops on one, or with the signal when Ctrl-C or SIGTERM stops it. On a tick a monitor may add
entries to the tick's record (they go to stats.jsonl and, for 'health', to the progress bar) or raise
`StopTraining` with a message for the user. Monitors hold no optimizer and step no network.
"""
from __future__ import annotations

from ..errors import GanforgeError


class StopTraining(GanforgeError):
    """A monitor ends the run (e.g. divergence); the message says why and what to change."""


class Monitor:
    # Under torchrun a monitor runs on rank 0 alone, unless it splits its work over the ranks (in-training
    # evaluation): then every rank calls it on the same ticks, and it writes files on rank 0 only.
    all_ranks: bool = False

    def on_start(self, trainer) -> None:
        """Before the first step of this session (also after a resume)."""

    def on_tick(self, trainer, record: dict) -> None:
        """On a logging tick, with the tick's record (step, losses, D(x), D(G(z)), LR/...)."""

    def on_end(self, trainer) -> None:
        """After the last step (not when training stops on an error)."""

    def on_error(self, trainer, error: Exception) -> None:
        """Training stopped on `error` (raised by a step, a monitor, a save...; not Ctrl-C or SIGTERM,
        which stop cleanly); the loop raises it on after every monitor has seen it."""

    def on_interrupt(self, trainer, signal_name: str) -> None:
        """Training stopped on Ctrl-C or SIGTERM (`signal_name` 'SIGINT' or 'SIGTERM') between steps,
        after saving a checkpoint of step `trainer.step` that resumes exactly."""
