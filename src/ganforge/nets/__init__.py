"""Networks by family name.

A family builds a matching generator and discriminator for a dataset's shape:
  G(z, c=None) -> images in [-1, 1] shaped (N, C, H, W), or points shaped (N, 2)
  D(x, c=None) -> raw logits shaped (N,)  (never a sigmoid: losses use the *_with_logits maths)
`model.g` / `model.d` in the config are keyword arguments of the family's builders, checked against
their signatures so a typo is an error naming the valid keys.
"""
from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from ..config import _coerce
from ..errors import ConfigError
from ..registry import Registry, unknown_name_message
from .assemble import assemble
from .spectral import apply_spectral_norm, check_spectral_norm_nets

MODELS: Registry = Registry("model")


@dataclass(frozen=True)
class ModelFamily:
    """A registered pair of builders and the data shapes they can make."""

    name: str
    description: str
    kinds: tuple[str, ...]  # "image", "points"
    build_generator: Callable[..., nn.Module]  # (z_dim, shape, **g) -> G
    build_discriminator: Callable[..., nn.Module]  # (shape, **d) -> D
    check_shape: Callable[[tuple[int, ...]], None]  # raises ConfigError naming the sizes it can make
    # The class conditioning the family's G builds itself (model.conditional_g value, e.g. BigGAN's
    # "shared"), or "" when its G is wrapped by nets/conditional.py; such a builder takes num_classes.
    g_condition: str = ""


def register_family(family: ModelFamily) -> ModelFamily:
    return MODELS.register(family.name)(family)


def _checked_kwargs(builder: Callable, kwargs: dict, where: str) -> dict:
    """Reject keyword arguments the builder does not take; coerce values to its annotations."""
    params = inspect.signature(builder).parameters
    valid = [n for n, p in params.items() if p.kind == p.KEYWORD_ONLY]
    hints = typing.get_type_hints(builder)
    out = {}
    for key, value in kwargs.items():
        if key not in valid:
            raise ConfigError(unknown_name_message(f"config key for {where}", key, valid))
        out[key] = _coerce(value, hints[key], f"{where}.{key}")
    return out


def build_models(
    model_cfg, shape: tuple[int, ...], kind: str, num_classes: int = 0, pack: int = 1, data: str = ""
) -> tuple[nn.Module, nn.Module]:
    """Build (G, D) of family `model_cfg.name` for data of `shape` ((C, H, W) or (2,)) with
    `num_classes` labels (0: unlabelled; conditional models use it); D judges `pack` samples at once
    (PacGAN; 1 = one). `data` names the dataset in errors."""
    family: ModelFamily = MODELS.get(model_cfg.name)
    if kind not in family.kinds:
        able = [n for n in MODELS.list() if kind in MODELS.get(n).kinds]
        raise ConfigError(f"model '{family.name}' cannot model {kind} data; models that can: {', '.join(able)}")
    family.check_shape(shape)
    sn_nets = check_spectral_norm_nets(model_cfg.spectral_norm)  # a bad entry builds nothing
    g_kwargs = _checked_kwargs(family.build_generator, model_cfg.g, "model.g")
    d_kwargs = _checked_kwargs(family.build_discriminator, model_cfg.d, "model.d")
    # Class conditioning, PacGAN's packed input and minibatch discrimination wrap the family's nets.
    G, D = assemble(family, model_cfg, shape, num_classes, pack, g_kwargs, d_kwargs, data)
    # model.spectral_norm (Miyato et al. 2018): every Conv/Linear of the named nets, whatever the family.
    for name, net in (("g", G), ("d", D)):
        if name in sn_nets:
            apply_spectral_norm(net)
    return G, D


def _import_families() -> None:
    """Importing every module of this package registers its families: a new model file needs no edit here."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_import_families()
