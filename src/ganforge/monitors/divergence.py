"""The divergence guard: stops training on non-finite or exploding losses, rolls back to the last good
checkpoint and says what to change (rules and rollback: ganforge.diagnose.divergence)."""
from __future__ import annotations

import json
import os

from ..diagnose.advice import advice_for_run
from ..diagnose.base import Diagnosis
from ..diagnose.divergence import LOSSES, exploded, non_finite, roll_back
from ..train.monitor import Monitor, StopTraining


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


class DivergenceGuard(Monitor):
    """Stops training on divergence (always on: NaN weights cannot train on), rolling back first."""

    name = "divergence"

    def __init__(self, explode_factor: float = 1000.0, rollback: bool = True):
        self.explode_factor, self.rollback = explode_factor, rollback
        self.history: dict[str, list[float]] = {}
        self.last_good_step = -1

    def on_start(self, trainer) -> None:
        self.last_good_step = trainer.step  # a resumed run starts from a checkpoint that loaded fine

    def on_tick(self, trainer, record: dict) -> None:
        bad = non_finite(record)
        why = f"non-finite {', '.join(bad)}" if bad else ""
        if not bad:
            bad = exploded(record, self.history, self.explode_factor)
            why = "exploding " + ", ".join(f"{k} = {record[k]:.3g}" for k in bad) if bad else ""
        if not bad:
            for key in LOSSES:
                if key in record:
                    self.history.setdefault(key, []).append(abs(record[key]))
            self.last_good_step = record["step"]
            return
        back = roll_back(trainer.run_dir, self.last_good_step) if self.rollback and trainer.run_dir else None
        advice = advice_for_run(self.name, trainer)
        if back is not None:
            # The same settings replay the same data and noise: they would diverge again. A resume may
            # change the recovery levers after this (runs.RECOVERY_KEYS); the marker says so.
            write_json(os.path.join(trainer.run_dir, "diverged.json"), {"step": record["step"], "rolled_back_to": back, "why": why})
            levers = next((a.split(": ", 1)[1] for a in advice if ": " in a), "")
            where = (f"rolled back: checkpoints/ckpt-latest.pt is now step {back} (later checkpoints moved to "
                     f"checkpoints/diverged/). Unchanged, it would diverge the same way again; continue with one of "
                     f"the changes below, e.g.\n  ganforge train --resume {trainer.run_dir} {levers}").rstrip()
        elif self.rollback:
            where = "no checkpoint predates it: start a new run with one of the changes below"
        else:
            where = "no rollback (diagnose.rollback=false)"
        diagnosis = Diagnosis(self.name, "DIVERGED", "error", record["step"],
                              f"training diverged at step {record['step']} ({why}); {where}", advice)  # fmt: skip
        record["health"] = diagnosis.label
        record.setdefault("diagnoses", []).append(diagnosis.to_dict())
        if back is not None:
            record["rolled_back_to"] = back
        raise StopTraining(diagnosis.text())
