"""The live health monitor: runs the checks on every logging tick and reports what they find.

Per tick it sets record['health'] (shown in the progress bar): 'ok', or the labels of the diagnoses
in force joined by ','. A diagnosis is added to record['diagnoses'] (and printed above the bar) on the
tick it is first raised; it stays in 'health' while its condition lasts, and may be raised again after
it cleared.
"""
from __future__ import annotations

import sys

from tqdm.auto import tqdm

from ..train.monitor import Monitor
from ..diagnose.collapse import CollapseCheck
from ..diagnose.convergence import ConvergenceCheck
from ..diagnose.ranges import RangeCheck


class HealthMonitor(Monitor):
    def __init__(self, checks: list):
        self.checks = checks
        self.active: dict[str, str] = {}  # check name -> name of the diagnosis in force

    @classmethod
    def from_config(cls, cfg) -> "HealthMonitor":
        d = cfg.diagnose
        return cls([
            ConvergenceCheck(cfg.loss, d.window, d.warmup_steps),
            CollapseCheck(d.collapse_ratio, d.window, d.warmup_steps),
            RangeCheck(cfg.loss, d.window, d.warmup_steps),
        ])  # fmt: skip

    def on_start(self, trainer) -> None:
        for check in self.checks:
            if hasattr(check, "start"):
                check.start(trainer)

    def on_tick(self, trainer, record: dict) -> None:
        labels = []
        for check in self.checks:
            diagnosis = check.check(trainer, record)
            if diagnosis is None:
                self.active.pop(check.name, None)
                continue
            labels.append(diagnosis.label)
            if self.active.get(check.name) != diagnosis.name:  # newly raised: record and say it once
                self.active[check.name] = diagnosis.name
                record.setdefault("diagnoses", []).append(diagnosis.to_dict())
                if trainer.progress:
                    tqdm.write(diagnosis.text(), file=sys.stderr)
        record["health"] = ",".join(labels) if labels else "ok"
