"""Live diagnosis while training: convergence failure, mode collapse, divergence, loss-range hints.

Each check is a module (convergence.py, collapse.py, divergence.py, ranges.py) with its rule as a
plain function and a small class that applies it to a tick's record; advice.py names the levers and
summary.py reads a finished run. The monitors that apply them live in ganforge.monitors.
"""
from __future__ import annotations

from .base import Diagnosis

__all__ = ["Diagnosis"]
