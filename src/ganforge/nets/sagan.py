"""SAGAN (Zhang, Goodfellow, Metaxas & Odena 2019, "Self-Attention Generative Adversarial Networks"):
the SNGAN ResNet G and D (nets/sngan.py) with a self-attention block (nets/attention.py) after the
block of resolution `attention_res` in each.

The paper works at 128x128 (ImageNet) with attention at 32x32 in D and 64x64 in G (sec. 5.1, Table 1:
the larger feature maps helped most); at 32x32 we default to 16x16 in both: the largest map below the
image itself. G uses unconditional BatchNorm (the paper's conditional BN belongs to class-conditional
models). Spectral norm in both G and D (sec. 4.1) is the model switch `model.spectral_norm: [g, d]`,
which the sagan preset sets; it also normalises the attention's 1x1 convolutions.
"""
from __future__ import annotations

from . import ModelFamily, register_family
from .sngan import ResNetDiscriminator, ResNetGenerator, check_resnet_size


def build_generator(z_dim: int, shape, *, width: int = 256, attention_res: int = 16):
    return ResNetGenerator(z_dim, shape, width, attention_res)


def build_discriminator(shape, *, width: int = 128, attention_res: int = 16):
    return ResNetDiscriminator(shape, width, attention_res)


def check_size(shape: tuple[int, ...]) -> None:
    check_resnet_size(shape, "sagan")


register_family(
    ModelFamily(
        name="sagan",
        description="Zhang et al. 2019 self-attention in the SNGAN ResNet G/D (attention_res 16 by default); sides 4*2^n >= 16; "
        "options width (G 256, D 128), attention_res; use with model.spectral_norm=[g,d]",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_size,
    )
)
