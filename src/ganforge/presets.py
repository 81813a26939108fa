"""Presets: one YAML file per paper setting, shipped in ganforge/presets/.

Each file cites its paper (`paper:`), says where it deviates and why (`notes:`), and sets only the keys
that differ from the defaults in ganforge.config, each with a comment giving its source.
"""
from __future__ import annotations

import os
from importlib import resources

from .config import Config, merge, read_yaml
from .errors import ConfigError
from .registry import unknown_name_message

DEFAULT_PRESET = "dcgan-demo"


def preset_dir() -> str:
    return str(resources.files("ganforge") / "presets")


def list_presets() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(preset_dir()) if f.endswith(".yaml"))


def load_preset(name_or_path: str) -> dict:
    """A preset by name, or any YAML file of config keys by path."""
    if name_or_path.endswith((".yaml", ".yml")) and os.path.isfile(name_or_path):
        return read_yaml(name_or_path)
    if name_or_path not in list_presets():
        raise ConfigError(unknown_name_message("preset", name_or_path, list_presets()))
    data = read_yaml(os.path.join(preset_dir(), f"{name_or_path}.yaml"))
    data.setdefault("preset", name_or_path)
    return data


def resolve_config(preset: str = DEFAULT_PRESET, overrides: list[dict] = ()) -> Config:
    """defaults <- preset <- overrides (each a nested dict), strictly checked."""
    cfg = merge(Config(), load_preset(preset))
    for override in overrides:
        merge(cfg, override)
    return cfg
