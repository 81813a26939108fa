"""Training algorithms by name (config `algorithm:`): each paper's updates, networks and state, one file
per paper, as subclasses of ganforge.train.algorithm.Algorithm (most of the gan algorithm's, gan.py).
Importing the package imports them all, so a new paper needs no edit here.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..registry import Registry

ALGORITHMS: Registry = Registry("algorithm")


def get_algorithm(name: str):
    """The Algorithm class registered as `name`; an unknown name lists the valid ones."""
    _import_all()
    return ALGORITHMS.get(name)


def list_algorithms() -> list[tuple[str, str]]:
    """(name, one-line description) of every algorithm."""
    _import_all()
    return [(n, ALGORITHMS.get(n).description) for n in ALGORITHMS.list()]


_imported = False


def _import_all() -> None:
    global _imported
    if not _imported:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
        _imported = True
