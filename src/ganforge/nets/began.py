"""BEGAN's networks (Berthelot, Schumm & Metz 2017, arXiv:1703.10717, sec. 3.5 and Figure 1).

The discriminator is an autoencoder; the generator has the architecture of its decoder.
  Encoder: 3x3 conv n, ELU -> per scale: [3x3 conv, ELU] x 2, then a 3x3 conv stride 2 to the next
           scale's filters (n, 2n, 3n, ...: "linearly increasing with each down-sampling") -> at the
           base b x b: [3x3 conv, ELU] x 2 -> FC to the embedding h (no activation)
  Decoder: FC h -> n x b x b -> per scale: [3x3 conv n, ELU] x 2, nearest-neighbour upsampling x2
           -> [3x3 conv n, ELU] x 2 -> 3x3 conv C
  No batch normalisation anywhere (the paper's point: no tricks needed).
  Option skip (sec. 3.5.1, off by default): h0 (the n x b x b tensor after the FC) upsampled and
  concatenated after each upsampling of the decoder, in G and in D. Not implemented: 3.5.1's other
  option, "vanishing residuals" (a carry from 1 to 0 over 16,000 steps).
Initialisation: Glorot-uniform weights, zero biases (the paper names none; carpedm20/BEGAN-tensorflow,
models.py, builds every layer with TF-slim's defaults, which are these). torch's default init cuts the
signal's variance ~3x per layer, so through D's 18 layers the autoencoder's output started independent
of its input (it varied ~1e-5 across images at n = 16): D sat on the L1 plateau of an all-black
reconstruction (mnist5k's median pixel) for the whole demo, k_t stayed at 0 and G collapsed.
Option out_bias (a pixel value, default 0): the output convs' biases of G and of D's decoder start so
that both nets first output that value, not mid-grey. Set it to the data's mean pixel when the data is
far from centred (mnist5k: -0.74, 81 % of pixels black). The paper's faces average near 0, where the
default is already right; on digits a mid-grey G starts on grey blobs that the autoencoder, trained only
on real digits while k_t is near 0, reconstructs as well as digits, and G stays there (docs/zoo.md). One
of the paper's authors advised users to centre such data (carpedm20/BEGAN-tensorflow issue 3); starting
the outputs at the mean does the same without changing the toolkit's [-1, 1] images.
Sides S = b * 2^m with the base b from 7 to 15 (m >= 0): 8, 16, 28 (7 x 2^2), 32, 64 (8 x 2^3), 128.

The interface (see ganforge.nets): `D(x) -> (N,)` is each image's L1 reconstruction error
L(x) = mean |x - Dec(Enc(x))| (the paper's L(v) = |v - D(v)|^eta with eta = 1, averaged over pixels),
an energy, not a logit: the `began` loss and algorithm read it as such. `D.reconstruct(x)` gives the
autoencoder's image. G ends in tanh (the toolkit's [-1, 1] images); the paper's decoder ends linear,
and so does D's here.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from . import ModelFamily, register_family
from .init import glorot_init

MIN_BASE, MAX_BASE = 7, 15


def base_and_doublings(size: int) -> tuple[int, int]:
    """S -> (b, m) with S = b * 2^m, halving while the result stays an integer >= 7 (8 x 8 for 64, as the paper)."""
    base, m = size, 0
    while base % 2 == 0 and base // 2 >= MIN_BASE:
        base //= 2
        m += 1
    return base, m


def check_shape(shape) -> None:
    c, h, w = shape
    base, _ = base_and_doublings(h)
    if h != w or not MIN_BASE <= base <= MAX_BASE:
        raise ConfigError(
            f"began makes square images of side b * 2^m with 7 <= b <= 15 (8, 16, 28, 32, 64, 128...); got {h}x{w}"
        )


def _convs(c_in: int, c_out: int) -> list[nn.Module]:
    """[3x3 conv, ELU] x 2: the paper's block at each scale."""
    return [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ELU(True), nn.Conv2d(c_out, c_out, 3, 1, 1), nn.ELU(True)]


class Decoder(nn.Module):
    """h -> (C, S, S): the paper's decoder, which is also the generator.

    skip (sec. 3.5.1, an "optional improvement" the paper's results use): h0, the first n x b x b
    tensor, upsampled (nearest) to each later scale and concatenated to that scale's input, so the
    first conv after each upsampling reads 2n channels."""

    def __init__(self, h: int, shape, width: int, tanh: bool, skip: bool = False, out_bias: float = 0.0):
        super().__init__()
        channels, size, _ = shape
        base, m = base_and_doublings(size)
        self.h, self.skip = h, skip
        self.fc = nn.Linear(h, width * base * base)
        c_up = 2 * width if skip else width  # after an upsampling: [x, h0 upsampled] with skip
        layers: list[nn.Module] = [nn.Unflatten(1, (width, base, base)), *_convs(width, width)]  # n x b x b
        for _ in range(m):  # each doubles the side: n x 2b x 2b ... n x S x S
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), *_convs(c_up, width)]
        layers.append(nn.Conv2d(width, channels, 3, 1, 1))  # C x S x S
        if tanh:
            layers.append(nn.Tanh())
        self.main = nn.Sequential(*layers)
        glorot_init(self)
        # Start the output at out_bias (a pixel value): the data's mean rather than mid-grey (module docstring).
        out_conv = layers[-2] if tanh else layers[-1]
        nn.init.constant_(out_conv.bias, math.atanh(out_bias) if tanh else out_bias)

    def forward(self, h: torch.Tensor, c=None) -> torch.Tensor:
        x = h0 = self.main[0](self.fc(h.view(len(h), -1)))
        for layer in self.main[1:]:
            x = layer(x)
            if self.skip and isinstance(layer, nn.Upsample):
                x = torch.cat([x, F.interpolate(h0, size=x.shape[-2:], mode="nearest")], 1)
        return x


class Encoder(nn.Module):
    """(C, S, S) -> h."""

    def __init__(self, h: int, shape, width: int):
        super().__init__()
        channels, size, _ = shape
        base, m = base_and_doublings(size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1), nn.ELU(True)]  # n x S x S
        c = width
        for scale in range(m):  # each halves the side; filters n, 2n, 3n, ... (linear growth)
            c_next = width * (scale + 2)
            layers += [*_convs(c, c), nn.Conv2d(c, c_next, 3, 2, 1), nn.ELU(True)]
            c = c_next
        layers += [*_convs(c, c), nn.Flatten()]  # (m + 1) n x b x b
        self.main = nn.Sequential(*layers)
        self.fc = nn.Linear(c * base * base, h)
        glorot_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.main(x))


class BEGANDiscriminator(nn.Module):
    """An autoencoder whose output is each image's L1 reconstruction error (N,)."""

    def __init__(self, shape, width: int, h: int, skip: bool = False, out_bias: float = 0.0):
        super().__init__()
        self.encoder = Encoder(h, shape, width)
        self.decoder = Decoder(h, shape, width, tanh=False, skip=skip, out_bias=out_bias)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return (x - self.reconstruct(x)).abs().flatten(1).mean(1)  # L(x) = |x - D(x)|, per image


def check_out_bias(out_bias: float) -> float:
    if not -1 < out_bias < 1:
        raise ConfigError(f"model.g.out_bias / model.d.out_bias (began) is the pixel value the net's output starts at, "
                          f"in (-1, 1), e.g. the data's mean pixel; got {out_bias}")
    return out_bias


def build_generator(z_dim: int, shape, *, width: int = 64, skip: bool = False, out_bias: float = 0.0):
    return Decoder(z_dim, shape, width, tanh=True, skip=skip, out_bias=check_out_bias(out_bias))


def build_discriminator(shape, *, width: int = 64, h: int = 64, skip: bool = False, out_bias: float = 0.0):
    return BEGANDiscriminator(shape, width, h, skip, check_out_bias(out_bias))


register_family(
    ModelFamily(
        name="began",
        description="Berthelot et al. 2017: ELU conv decoder G, autoencoder D whose output is the per-image L1 "
        "reconstruction error (an energy, not a logit); sides b*2^m, 7 <= b <= 15; options width, h (D's embedding), "
        "skip (sec. 3.5.1: h0 concatenated after each upsampling), out_bias (the pixel value G's and the decoder's output start at)",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_shape,
    )
)
