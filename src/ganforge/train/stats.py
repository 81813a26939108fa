"""Training statistics: accumulated on the device, read back only on logging ticks.

Calling `.item()` every step would force a host-device synchronisation each step; instead each step
adds its detached tensors here and `flush()` turns the window's means into numbers once.
Names are slash-namespaced ('Loss/D', 'D(x)'), one JSON line per tick in stats.jsonl.
"""
from __future__ import annotations

import json
import math

import torch


class StatsWindow:
    def __init__(self):
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for name, value in values.items():
            value = value.detach().float()
            self._sums[name] = self._sums[name] + value if name in self._sums else value
            self._counts[name] = self._counts.get(name, 0) + 1

    def flush(self) -> dict[str, float]:
        """Means over the window as floats (one synchronisation), and reset."""
        if not self._sums:
            return {}
        names = list(self._sums)
        means = torch.stack([self._sums[n] / self._counts[n] for n in names]).tolist()
        self._sums, self._counts = {}, {}
        return dict(zip(names, means))


def finite(values: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in values.values() if isinstance(v, float))


class JsonlWriter:
    """Appends one JSON object per line, flushed at once so a crash loses nothing written."""

    def __init__(self, path: str):
        self.path = path

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")


def read_jsonl(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
