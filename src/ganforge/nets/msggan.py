"""MSG-GAN networks (Karnewar & Wang 2020, "MSG-GAN: Multi-Scale Gradients for Generative Adversarial
Networks", CVPR 2020, arXiv:1903.06048): MSG-ProGAN, ProGAN's blocks (ganforge.nets.progan: equalized
lr, pixel norm in G, minibatch stddev in D) without growth, with G's image at every scale fed to D's
block at that scale, so D's gradients reach every block of G directly (sec. 3, Figure 2).

  G:  z -> PixelNorm -> dense to 4x4 -> conv3x3 -> o_0 = toRGB_0(h)                          4 x 4
        -> block 1 -> o_1 = toRGB_1(h) -> ... -> block n -> o_n = toRGB_n(h)            4 * 2**n square
      (every toRGB a 1x1 conv; the blocks are ProGAN's: upsample, [conv3x3, LeakyReLU, PixelNorm] x 2)
  D:  h = fromRGB(o_n) -> block n -> h = phi(o_{n-1}, h) -> block n-1 -> ... -> h = phi(o_0, h)
        -> minibatch stddev -> conv3x3 -> dense -> dense -> logit
  phi (the combine function, sec. 3.1; model.d.combine):
      simple   [o; h]        the image's channels concatenated to the features (the default)
      lin_cat  [r'(o); h]    a 1x1 conv r' first lifts the image to as many channels as h (the
                             PyTorch reference, akanimax/BMSG-GAN, does this)
      cat_lin  r'([o; h])    a 1x1 conv after the concatenation (the authors' MSG-StyleGAN code)

Interface (beyond the package's G(z) / D(x)):
  G(z) -> (N, C, H, W): the full-size image only (what samples, grids, `generate` and metrics see);
  G(z, scales=True) -> [o_0, ..., o_n]: every scale, coarse to fine (o_k of side 4 * 2**k).
  D(x) takes that list, or full-size images (N, C, H, W), which it sees as their average-pooled pyramid
  (`pyramid`), as the reference feeds D real images.
`flatten_scales` / `unflatten_scales` pack a pyramid into one (N, C, sum of r*r) tensor and back: the
msggan algorithm hands D's input pipeline one tensor per batch, so noise, packing and the gradient
penalties apply to all scales at once.
Deviation: every scale ends in tanh (the paper's outputs are linear) to keep the package's [-1, 1]
images, as nets/progan.py does.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from . import ModelFamily, register_family
from .progan import (
    HE_GAIN,
    EqualizedConv2d,
    EqualizedLinear,
    PixelNorm,
    channels_at,
    discriminator_block,
    discriminator_head,
    generator_block,
    reachable_sizes,
    stage_resolution,
    stages_for,
)  # fmt: skip

COMBINES = ("simple", "lin_cat", "cat_lin")


def check_shape(shape: tuple[int, ...]) -> None:
    _, h, w = shape
    if h != w or h not in reachable_sizes():
        raise ConfigError(
            f"msggan cannot make {h}x{w} images: its scales double from 4x4 to square sides "
            f"{', '.join(map(str, reachable_sizes()))}; resize the data, e.g. image_size="
            f"{min((s for s in reachable_sizes() if s >= max(h, w)), default=1024)}"
        )


# ------------------------------------------------------------------------------------- the pyramid
def pyramid(x: torch.Tensor, n_scales: int) -> list[torch.Tensor]:
    """Full-size images (N, C, H, W) as D's multi-scale input: average-pooled by 2**k, coarse to fine
    ([H/2**(n-1), ..., H/2, H]), as the reference pools real images."""
    return [F.avg_pool2d(x, 2**k) if k else x for k in reversed(range(n_scales))]


def flatten_scales(scales: list[torch.Tensor]) -> torch.Tensor:
    """[(N, C, r_k, r_k)] -> (N, C, sum_k r_k**2): each scale's pixels in turn, row by row."""
    return torch.cat([s.flatten(2) for s in scales], dim=2)


def unflatten_scales(x: torch.Tensor, sides: list[int]) -> list[torch.Tensor]:
    """(N, C, sum_k r_k**2) -> [(N, C, r_k, r_k)]: the inverse of flatten_scales for squares of `sides`.
    N and C are x's own (PacGAN packing regroups both)."""
    n, c = x.shape[:2]
    return [part.reshape(n, c, r, r) for part, r in zip(x.split([r * r for r in sides], dim=2), sides)]


# ------------------------------------------------------------------------------------- blocks
class Combine(nn.Module):
    """phi(o, h): D's features h (features x r x r) joined with the image o (channels x r x r) at that scale."""

    def __init__(self, mode: str, channels: int, features: int):
        super().__init__()
        if mode not in COMBINES:
            raise ConfigError(f"model.d.combine must be one of {', '.join(COMBINES)}; got {mode!r}")
        self.mode = mode
        if mode == "simple":
            self.r, self.out_channels = None, features + channels
        elif mode == "lin_cat":
            self.r, self.out_channels = EqualizedConv2d(channels, features, 1), 2 * features
        else:  # cat_lin
            self.r, self.out_channels = EqualizedConv2d(features + channels, features, 1), features

    def forward(self, image: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        if self.mode == "lin_cat":
            return torch.cat([self.r(image), h], dim=1)
        joined = torch.cat([image, h], dim=1)
        return joined if self.r is None else self.r(joined)


# ------------------------------------------------------------------------------------- networks
class MSGGenerator(nn.Module):
    def __init__(self, z_dim: int, shape, fmap_base: int, fmap_max: int):
        super().__init__()
        channels, size, _ = shape
        self.z_dim, self.last = z_dim, stages_for(size)
        nf = [channels_at(s, fmap_base, fmap_max) for s in range(self.last + 1)]
        # ProGAN's first block: the "Conv 4x4" on the 1x1 latent as a dense layer (official gain sqrt(2)/4).
        # PixelNorm of z is the reference's latent normalisation z * sqrt(z_dim) / ||z||.
        self.latent_norm = PixelNorm()
        self.dense = EqualizedLinear(z_dim, nf[0] * 16, gain=HE_GAIN / 4)  # -> nf0 x 4 x 4
        base = nn.Sequential(nn.LeakyReLU(0.2), PixelNorm(), EqualizedConv2d(nf[0], nf[0], 3, 1), nn.LeakyReLU(0.2), PixelNorm())
        # block s: nf[s-1] x r/2 -> nf[s] x r (r = 4 * 2**s); block 0 is the 4x4 base
        self.blocks = nn.ModuleList([base] + [generator_block(nf[s - 1], nf[s]) for s in range(1, self.last + 1)])
        # toRGB per scale: a linear 1x1 conv (gain 1, as ProGAN's official toRGB)
        self.to_rgb = nn.ModuleList([EqualizedConv2d(nf[s], channels, 1, gain=1.0) for s in range(self.last + 1)])

    def forward(self, z: torch.Tensor, c=None, scales: bool = False):
        h = self.dense(self.latent_norm(z.view(len(z), -1))).view(len(z), -1, 4, 4)
        images = []
        for s, (block, to_rgb) in enumerate(zip(self.blocks, self.to_rgb)):
            h = block(h)
            if scales or s == self.last:  # G(z) alone skips the coarse toRGBs it would not show
                images.append(torch.tanh(to_rgb(h)))
        return images if scales else images[-1]


class MSGDiscriminator(nn.Module):
    def __init__(self, shape, fmap_base: int, fmap_max: int, mbstd_group: int, combine: str):
        super().__init__()
        channels, size, _ = shape
        self.last = stages_for(size)
        self.sides = [stage_resolution(s) for s in range(self.last + 1)]
        nf = [channels_at(s, fmap_base, fmap_max) for s in range(self.last + 1)]
        self.from_rgb = nn.Sequential(EqualizedConv2d(channels, nf[self.last], 1), nn.LeakyReLU(0.2))  # o_n enters as in ProGAN
        # combine[s] joins o_s to the features coming down from scale s + 1 (none at the finest scale)
        self.combine = nn.ModuleList([Combine(combine, channels, nf[s]) for s in range(self.last)])
        width = [c.out_channels for c in self.combine] + [nf[self.last]]  # what scale s's block reads
        # block s: width[s] x r -> nf[s] -> nf[s-1] x r/2; block 0 is the head (4x4 -> logit)
        self.blocks = nn.ModuleList([discriminator_head(width[0], nf[0], mbstd_group)])
        self.blocks.extend(discriminator_block(width[s], nf[s], nf[s - 1]) for s in range(1, self.last + 1))

    def forward(self, x, c=None) -> torch.Tensor:
        scales = pyramid(x, len(self.sides)) if isinstance(x, torch.Tensor) else list(x)
        got = [tuple(s.shape[-2:]) for s in scales]
        if got != [(r, r) for r in self.sides]:
            raise ValueError(f"D takes images at sides {self.sides} (coarse to fine) or full-size images; got {got}")
        h = self.from_rgb(scales[-1])
        for s in range(self.last, 0, -1):
            h = self.combine[s - 1](scales[s - 1], self.blocks[s](h))  # nf[s-1] x r/2, joined with o_{s-1}
        return self.blocks[0](h).view(-1)


# ------------------------------------------------------------------------------------- builders
def build_generator(z_dim: int, shape, *, fmap_base: int = 8192, fmap_max: int = 512):
    return MSGGenerator(z_dim, shape, fmap_base, fmap_max)


def build_discriminator(shape, *, fmap_base: int = 8192, fmap_max: int = 512, mbstd_group: int = 4, combine: str = "simple"):
    return MSGDiscriminator(shape, fmap_base, fmap_max, mbstd_group, combine)


register_family(
    ModelFamily(
        name="msggan",
        description="Karnewar & Wang 2020 MSG-ProGAN: G's image at every scale feeds D's block at that scale "
        "(ProGAN blocks, no growth); sides 4, 8, ..., 1024; options fmap_base, fmap_max, mbstd_group, "
        "d.combine (simple, lin_cat, cat_lin); train with algorithm=msggan",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_shape,
    )
)
