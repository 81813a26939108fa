"""What a health check reports, and the bookkeeping every check shares.

A `Diagnosis` goes into the tick's record (stats.jsonl, key 'diagnoses') the tick it is first raised,
and its short label into 'health' (the progress bar) for every tick it lasts. A check raises only
after its condition held for `window` consecutive ticks: one bad minibatch is noise, not a verdict.
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field


@dataclass
class Diagnosis:
    name: str  # convergence-failure | mode-collapse | divergence | d-loss-low | d-loss-high | g-loss-high
    label: str  # a few characters for the progress bar
    severity: str  # 'warning' (training goes on) | 'error' (training stopped) | 'hint'
    step: int
    message: str
    advice: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        levers = "".join(f"\n    - {a}" for a in self.advice)
        return f"[{self.severity}] step {self.step}: {self.message}" + (f"\n  try:{levers}" if levers else "")


class Persistence:
    """True once a condition has held on each of the last `window` ticks."""

    def __init__(self, window: int):
        self.history: deque[bool] = deque(maxlen=max(1, window))

    def update(self, condition: bool) -> bool:
        self.history.append(bool(condition))
        return len(self.history) == self.history.maxlen and all(self.history)
