"""Presets: one YAML file per paper setting, shipped in ganforge/presets/.

Each file cites its paper (`paper:`), says where it deviates and why (`notes:`), and sets only the keys
that differ from the defaults in ganforge.config, each with a comment giving its source. A preset may
inherit another (`base: dcgan`): it then holds only what differs from its base, applied over it (nested
sections such as `model.g` merge key by key; lists are replaced). A user's own YAML file may name a
`base:` too: a preset name, or a YAML file next to it.
"""
from __future__ import annotations

import os
from importlib import resources

from .config import Config, merge, read_yaml
from .errors import ConfigError
from .registry import unknown_name_message

DEFAULT_PRESET = "mnist-demo"
# Presets whose default run finishes in CPU minutes on a laptop ("demo"); the rest keep the paper's
# networks and length ("full": GPU hours, or a CPU day). `ganforge presets` shows the class.
DEMO_PRESETS = frozenset({
    "gan", "mnist-demo", "dcgan-demo", "cs231n-dcgan", "cgan", "acgan", "cgan-projection", "infogan-demo", "began-demo", "pacgan-demo",
    "progan-demo", "r3gan-demo", "stylegan2-demo", "biggan-demo", "msggan-demo", "toy2d", "toy2d-grid", "cyclegan-demo",
    "pix2pix-demo",
})  # fmt: skip


def size_class(name: str) -> str:
    """'demo' (CPU minutes) or 'full' (the paper's scale)."""
    return "demo" if name in DEMO_PRESETS else "full"


def demo_of(name: str) -> str | None:
    """The CPU-sized preset of the same paper, where there is one (name-demo)."""
    demo = f"{name}-demo"
    return demo if name not in DEMO_PRESETS and demo in list_presets() else None


def preset_dir() -> str:
    return str(resources.files("ganforge") / "presets")


def list_presets() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(preset_dir()) if f.endswith(".yaml"))


def load_preset(name_or_path: str) -> dict:
    """A preset by name, or any YAML file of config keys by path, with its `base:` chain applied."""
    return _load(name_or_path, os.getcwd(), ())


def _load(name_or_path: str, folder: str, chain: tuple) -> dict:
    path = name_or_path if os.path.isabs(name_or_path) else os.path.join(folder, name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) and os.path.isfile(path):
        data, name = read_yaml(path), None
    elif name_or_path in list_presets():
        path = os.path.join(preset_dir(), f"{name_or_path}.yaml")
        data, name = read_yaml(path), name_or_path
    else:
        raise ConfigError(unknown_name_message("preset", name_or_path, list_presets()))
    if path in chain:
        raise ConfigError(f"presets inherit in a circle: {' -> '.join(chain + (path,))}")
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: base must name one preset or YAML file, got {base!r}")
        inherited = _load(base, os.path.dirname(path), chain + (path,))
        inherited.pop("preset", None)  # the child is its own preset
        data = _deep_merge(inherited, data)
    if name is not None:
        data.setdefault("preset", name)
    return data


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def resolve_config(preset: str = DEFAULT_PRESET, overrides: list[dict] = ()) -> Config:
    """defaults <- preset <- overrides (each a nested dict), strictly checked."""
    cfg = merge(Config(), load_preset(preset))
    for override in overrides:
        merge(cfg, override)
    return cfg
