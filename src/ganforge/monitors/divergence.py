"""The divergence guard: stops training on non-finite or exploding losses, rolls back to the last good
checkpoint and says what to change (rules and rollback: ganforge.diagnose.divergence)."""
from __future__ import annotations

from ..diagnose.advice import advice_for_run
from ..diagnose.base import Diagnosis
from ..diagnose.divergence import LOSSES, exploded, non_finite, roll_back
from ..train.monitor import Monitor, StopTraining


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
        if back is not None:
            where = (f"rolled back: checkpoints/ckpt-latest.pt is now step {back} (later checkpoints moved to "
                     f"checkpoints/diverged/); `ganforge train --resume {trainer.run_dir}` continues from it")
        elif self.rollback:
            where = "no checkpoint predates it: start a new run"
        else:
            where = "no rollback (diagnose.rollback=false)"
        diagnosis = Diagnosis(
            self.name, "DIVERGED", "error", record["step"],
            f"training diverged at step {record['step']} ({why}); {where}. Start a new run with one of the "
            "changes below (a resumed run keeps its hyperparameters)",
            advice_for_run(self.name, trainer),
        )  # fmt: skip
        record["health"] = diagnosis.label
        record.setdefault("diagnoses", []).append(diagnosis.to_dict())
        if back is not None:
            record["rolled_back_to"] = back
        raise StopTraining(diagnosis.text())
