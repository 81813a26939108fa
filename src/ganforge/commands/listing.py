"""`ganforge presets`, `datasets`, `models`, `losses`, `algorithms`: what exists, one line each."""
from __future__ import annotations



def _presets():
    """Each preset with its size class (demo: CPU minutes; full: the paper's scale) and its paper."""
    from ..presets import list_presets, load_preset, size_class

    return [(name, f"{size_class(name):<4}  {load_preset(name).get('paper', '')}") for name in list_presets()]


def _datasets():
    from ..data import list_datasets

    return list_datasets(translation=True)


def _models():
    from ..nets import MODELS

    return [(name, MODELS.get(name).description) for name in MODELS.list()]


def _losses():
    from ..losses import LOSSES

    return [(name, LOSSES.get(name).citation) for name in LOSSES.list()]


def _algorithms():
    from ..algorithms import list_algorithms

    return list_algorithms()


LISTINGS = {"presets": _presets, "datasets": _datasets, "models": _models, "losses": _losses, "algorithms": _algorithms}


def register(sub) -> None:
    for verb, fn in LISTINGS.items():
        p = sub.add_parser(verb, help=f"list the {verb}, one line each")
        p.set_defaults(func=lambda args, fn=fn: _print(fn()))


def _print(rows) -> int:
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0
