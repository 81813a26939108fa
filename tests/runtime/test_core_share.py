import sys

import pytest

from ganforge.runtime.core_share import CoreShare, busy_cpu_seconds, usable_cpus


class Machine:
    """A fake clock and CPU accounts: `run(seconds, others=cores, own=cores)` advances them."""

    def __init__(self):
        self.now, self.all_busy, self.own_busy = 0.0, 0.0, 0.0
        self.reads = 0
        self.set_to: list[int] = []

    def run(self, seconds: float, others: float, own: float = 1.0) -> None:
        self.now += seconds
        self.all_busy += seconds * (others + own)
        self.own_busy += seconds * own

    def busy(self) -> float:
        self.reads += 1
        return self.all_busy

    def share(self, max_threads: int = 2, cores: int = 2) -> CoreShare:
        return CoreShare(max_threads, cores=cores, clock=lambda: self.now, busy=self.busy, own=lambda: self.own_busy,
                         set_threads=self.set_to.append, interval=2.0)  # fmt: skip


def test_threads_drop_while_other_programs_hold_a_core_and_come_back_when_they_stop():
    m = Machine()
    share = m.share()
    assert share.poll() is None  # the first poll only starts the accounts
    m.run(2, others=1.0)
    assert share.poll() is None and share.threads == 2  # one verdict: not yet
    assert not share.settled  # the run's speed may still change
    m.run(2, others=1.0)
    assert share.poll() == 1 and m.set_to == [1] and share.others == pytest.approx(1.0)
    assert share.settled  # the first chance to change has come: what it trains at now is this load's speed
    m.run(2, others=1.5)  # still busy: stays at 1, never 0
    assert share.poll() is None and share.threads == 1
    m.run(2, others=0.0)
    assert share.poll() is None
    m.run(2, others=0.1)
    assert share.poll() == 2 and m.set_to == [1, 2]


def test_a_burst_shorter_than_two_polls_and_this_process_own_use_move_nothing():
    m = Machine()
    share = m.share()
    share.poll()
    m.run(2, others=2.0)
    assert share.poll() is None
    m.run(2, others=0.0, own=2.0)  # the burst ended; this process's own two busy cores are not "others"
    assert share.poll() is None
    m.run(2, others=0.0, own=2.0)
    assert share.poll() is None and m.set_to == [] and share.threads == 2


def test_it_measures_at_most_once_per_interval_and_never_above_the_starting_count():
    m = Machine()
    share = m.share(max_threads=4, cores=16)
    share.poll()
    for _ in range(10):  # steps 0.1 s apart: one read per interval
        m.run(0.1, others=0.0)
        share.poll()
    assert m.reads == 1
    for _ in range(3):  # the first interval still holds the quiet second
        m.run(2, others=13.0)  # 3 cores left free of 16
        share.poll()
    assert m.set_to == [3]
    for _ in range(2):
        m.run(2, others=0.0)
        share.poll()
    assert m.set_to == [3, 4]  # back to the start's 4, not the 16 cores


def test_no_accounts_no_changes_and_restore_puts_the_count_back():
    share = CoreShare(2, cores=2, busy=lambda: None, set_threads=lambda n: pytest.fail("set without accounts"), interval=0.0)
    assert share.poll() is None and not share.enabled and share.settled  # nothing to wait for
    assert CoreShare(2, cores=2, busy=lambda: 0.0, interval=float("inf")).settled  # (the test suite's: never changes)
    m = Machine()
    share = m.share()
    for _ in range(3):
        share.poll()
        m.run(2, others=1.0)
    assert share.threads == 1
    share.restore()
    assert share.threads == 2 and m.set_to == [1, 2]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_busy_cpu_seconds_reads_this_machines_accounts_for_all_cpus_or_ours():
    ours = usable_cpus()
    first, first_ours = busy_cpu_seconds(), busy_cpu_seconds(ours)
    sum(i * i for i in range(2_000_000))  # some CPU time of our own, on our CPUs
    assert first is not None and busy_cpu_seconds() > first
    assert first_ours is not None and busy_cpu_seconds(ours) > first_ours
    assert busy_cpu_seconds({10**6}) is None  # a CPU /proc/stat does not list
