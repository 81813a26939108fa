"""One small name -> object registry, used for models, losses, datasets and presets.

A duplicate name is an error (two things must never answer to one name); an unknown name is an error
that lists the valid names and the closest match.
"""
from __future__ import annotations

import difflib
import fnmatch
from typing import Callable, Generic, Iterator, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def unknown_name_message(kind: str, name: str, valid: list[str]) -> str:
    """'unknown dataset 'mnist6k' (did you mean 'mnist5k'?); valid: a, b, c'."""
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {kind} '{name}'{hint}; valid: {', '.join(sorted(valid))}"


class Registry(Generic[T]):
    """Maps names to objects; `register` is a decorator."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(unknown_name_message(self.kind, name, list(self._items))) from None

    def list(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())
