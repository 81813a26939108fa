"""A family's G and D, dressed for the config: class conditioning, PacGAN packing, minibatch discrimination.

  G: family G for a (z_dim [+ K]) input -> conditional wrapper (concat / cbn)          (conditional.py)
     or, for a family whose G conditions itself (ModelFamily.g_condition: BigGAN's "shared"), that G
     built with the number of classes and no wrapper
  D: family D for the input it judges -> minibatch discrimination -> conditional wrapper
     the input: (pack * C, H, W) (PacGAN, Lin et al. 2018: `pack` samples stacked along channels; points
     (pack * 2,)), widened by K channels for concat conditioning.
"""
from __future__ import annotations

from ..errors import ConfigError
from .conditional import check_g_condition, conditional_input_sizes, make_conditional_d, make_conditional_g
from .minibatch import MinibatchDiscriminator


def packed_shape(shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """D's input shape when it judges `pack` samples at once: channels (or point coordinates) x pack."""
    return (shape[0] * pack, *shape[1:])


def assemble(family, model_cfg, shape, num_classes: int, pack: int, g_kwargs: dict, d_kwargs: dict, data: str = ""):
    if pack < 1:
        raise ConfigError(f"pack must be at least 1 (1 = no packing), got {pack}")
    if pack > 1 and model_cfg.conditional_d:
        raise ConfigError("pack > 1 (PacGAN) with a class-conditional D is not supported: a packed group mixes classes")
    mbd = model_cfg.minibatch_discrimination
    if mbd < 0:
        raise ConfigError(f"model.minibatch_discrimination is a number of kernels (0 = off), got {mbd}")
    if mbd and model_cfg.conditional_d in ("projection", "acgan"):
        raise ConfigError(f"model.minibatch_discrimination with model.conditional_d={model_cfg.conditional_d} is not supported")
    check_g_condition(family, model_cfg.conditional_g)
    z_in, d_shape = conditional_input_sizes(model_cfg, shape, num_classes, data)
    d_shape = packed_shape(d_shape, pack)
    if family.g_condition and model_cfg.conditional_g == family.g_condition:
        G = family.build_generator(z_in, shape, num_classes, **g_kwargs)  # the family's own conditioning
    else:
        G = make_conditional_g(family.build_generator(z_in, shape, **g_kwargs), model_cfg, num_classes)
    D = family.build_discriminator(d_shape, **d_kwargs)
    if mbd:
        D = MinibatchDiscriminator(D, d_shape, mbd)
    return G, make_conditional_d(D, model_cfg, d_shape, num_classes)
