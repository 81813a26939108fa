"""Torch's CPU threads, giving way to other programs that keep the cores busy.

torch runs one thread per core. When other programs also want those cores, its OpenMP threads wait
for each other at the end of every operation, and a thread the OS has set aside stalls the rest: the
default demo on 2 cores beside two busy processes ran at 2.4 steps/s on two threads and at 10 on one
(on a quiet machine two threads are 1.4x one; docs/speed.md). `CoreShare` measures how many of this
process's CPUs other programs use (Linux /proc/stat: all busy CPU time, less this process's own) and
sets torch's threads to the cores they leave free: never more than at the start, never fewer than
one, and back up when they finish. A change needs the same verdict twice in a row, POLL_SECONDS
apart, so that a short burst elsewhere moves nothing.

Threads change results by float rounding, so a run trained under a changing load is not bit for bit
the run trained alone; `threads: N` fixes the count (and turns this off).
"""
from __future__ import annotations

import math
import os
import time
from typing import Callable

import torch

POLL_SECONDS = 2.0


def usable_cpus() -> set[int]:
    """The CPUs this process may run on (a container's or taskset's share), else all of them."""
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def busy_cpu_seconds(cpus: set[int] | None = None) -> float | None:
    """CPU seconds all processes have spent busy since boot on `cpus` (all CPUs when None): user, nice,
    system, irq and softirq time, not a hypervisor's steal. From /proc/stat; None where there is no such
    file (not Linux) or it lists none of `cpus`."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    ticks, found = 0, False
    for line in lines:
        fields = line.split()
        if not fields or not fields[0].startswith("cpu") or len(fields) < 8:
            continue
        suffix = fields[0][3:]  # "" for the all-CPU line, "N" for cpuN
        if (cpus is None) != (suffix == "") or (cpus is not None and int(suffix) not in cpus):
            continue
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
        ticks, found = ticks + user + nice + system + irq + softirq, True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


def own_cpu_seconds() -> float:
    """CPU seconds this process (all its threads) has used."""
    t = os.times()
    return t.user + t.system


class CoreShare:
    """`poll()` after every step: at most every `interval` seconds (POLL_SECONDS) it measures the cores
    other programs used since the last poll and, when two polls in a row agree on another thread count,
    sets it."""

    def __init__(self, max_threads: int, cores: int | None = None, clock: Callable[[], float] = time.monotonic,
                 busy: Callable[[], float | None] | None = None, own: Callable[[], float] = own_cpu_seconds,
                 set_threads: Callable[[int], None] = torch.set_num_threads, interval: float | None = None):  # fmt: skip
        """`busy` and `cores` default to the CPUs this process may use, so a container's share is judged
        by its own CPUs' load, not by the whole host's."""
        self.max_threads, self.threads = max_threads, max_threads
        self.interval = POLL_SECONDS if interval is None else interval
        if busy is None:
            cpus = usable_cpus()
            busy, cores = (lambda: busy_cpu_seconds(cpus)), cores or len(cpus)
        self.cores = cores or os.cpu_count() or 1
        self.clock, self.busy, self.own, self.set_threads = clock, busy, own, set_threads
        self.others = 0.0  # cores other programs used over the last interval
        self._last: tuple[float, float, float] | None = None  # (time, all busy seconds, own seconds)
        self._pending: int | None = None  # a new count the last poll asked for
        self.readings = 0  # polls that measured
        self.enabled = True

    def poll(self) -> int | None:
        """The new thread count when it changed now, else None."""
        if not self.enabled:
            return None
        now = self.clock()
        if self._last is not None and now - self._last[0] < self.interval:
            return None
        busy = self.busy()
        if busy is None:  # nothing to measure on this OS: keep torch's threads
            self.enabled = False
            return None
        self.readings += 1
        last, self._last = self._last, (now, busy, self.own())
        if last is None:
            return None
        self.others = max(0.0, (busy - last[1]) - (self._last[2] - last[2])) / (now - last[0])
        target = min(self.max_threads, max(1, round(self.cores - self.others)))
        if target == self.threads:
            self._pending = None
            return None
        if self._pending != target:  # the same verdict twice before acting on it
            self._pending = target
            return None
        self._pending, self.threads = None, target
        self.set_threads(target)
        return target

    @property
    def settled(self) -> bool:
        """Whether the count has had its first chance to change (the third reading: two verdicts after the
        first one), or never will: the speed from here on is the one this machine's load allows."""
        return not self.enabled or self.readings >= 3 or math.isinf(self.interval)

    def note(self, knob: str = "threads=N") -> str:
        """The line a run prints when the count changes; `knob` is how its user fixes the count."""
        return (f"other programs are using {self.others:.1f} of {self.cores} cores: training on {self.threads} "
                f"torch thread(s) of {self.max_threads} (set {knob} to fix the count)")

    def restore(self) -> None:
        """Back to the count at the start (training ended: the process may go on to other work)."""
        if self.threads != self.max_threads:
            self.threads = self.max_threads
            self.set_threads(self.max_threads)


def thread_policy(threads: int, device: torch.device, ranks_share_cores: bool = False) -> CoreShare | None:
    """A training's torch threads, from its `threads` setting: N fixes the count at N (nothing watches
    it); 0 on a CPU gives way to other programs through a CoreShare (returned, to be polled), except
    where the process's ranks share the cores out themselves (torchrun). None where nothing watches."""
    if threads:
        torch.set_num_threads(threads)
        return None
    if device.type != "cpu" or ranks_share_cores:
        return None
    return CoreShare(torch.get_num_threads())

