"""Progressive GAN networks (Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for
Improved Quality, Stability, and Variation", arXiv:1710.10196; Table 2 and sec. 2-4).

Both networks exist at full size from the start and run at any *stage* s (resolution 4 * 2**s) with a
fade-in weight alpha in [0, 1] for the newest block (sec. 2, Figure 2):
  G at stage s:  z -> PixelNorm -> dense to 4x4 -> conv3x3 -> blocks 1..s-1 -> h
                 image = lerp(upsample(toRGB[s-1](h)), toRGB[s](block[s](h)), alpha)
  D at stage s:  x (s's resolution) -> h = lerp(fromRGB[s-1](avgpool(x)), block[s](fromRGB[s](x)), alpha)
                 -> blocks s-1..1 -> minibatch stddev -> conv3x3 -> dense -> dense -> logit
  G block:  upsample x2 (nearest) -> [conv3x3 -> LeakyReLU 0.2 -> PixelNorm] x 2
  D block:  [conv3x3 -> LeakyReLU 0.2] x 2 -> avgpool x2
Every weight is an equalized-learning-rate layer (sec. 4.1): stored N(0, 1), multiplied at run time
by He's constant gain / sqrt(fan_in). Channels per resolution follow the official code's
nf = min(fmap_base / 2**(log2(res) - 1), fmap_max): 512 up to 32x32, then 256, 128, ... (Table 2).

Interface (beyond the package's G(z) / D(x)):
  G(z, c=None, stage=None, alpha=None) -> (N, C, r, r) at r = 4 * 2**stage when `stage` is given.
     G(z) alone uses the stage and alpha stored in the network (buffers set by the trainer with
     `set_growth`, saved in checkpoints) and upsamples (nearest) to the full data size, so a run saved
     mid-growth generates, is sampled and is evaluated at its current resolution in data-sized images.
  D(x, c=None, stage=None, alpha=None) -> (N,) logits; x may be at the stage's resolution or larger
     (then average-pooled down to it), so D of full-size images works at any stage.
Deviation: G ends in tanh (the paper's output is linear) to keep the package's [-1, 1] contract; tanh
is elementwise, so it commutes with the nearest upsampling and the fade-in identities stay exact.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from . import ModelFamily, register_family

HE_GAIN = math.sqrt(2.0)  # He et al. 2015: the gain that keeps activations' variance through LeakyReLU/ReLU
MAX_STAGES = 9  # 4 * 2**8 = 1024, the paper's largest resolution


# ------------------------------------------------------------------------------------- blocks
class EqualizedConv2d(nn.Conv2d):
    """Sec. 4.1: w_hat = w * c with w ~ N(0, 1) stored and c = gain / sqrt(fan_in) applied in every
    forward, so Adam's per-weight step size is relative to each layer's dynamic range."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, padding: int = 0, gain: float = HE_GAIN):
        super().__init__(c_in, c_out, kernel_size, padding=padding)
        self.scale = gain / math.sqrt(c_in * kernel_size * kernel_size)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.scale, self.bias)


class EqualizedLinear(nn.Linear):
    """The dense layer of sec. 4.1: N(0, 1) weights scaled by gain / sqrt(in_features) at run time."""

    def __init__(self, d_in: int, d_out: int, gain: float = HE_GAIN):
        super().__init__(d_in, d_out)
        self.scale = gain / math.sqrt(d_in)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Sec. 4.2: b = a / sqrt(mean_c(a**2) + 1e-8), each pixel's feature vector to unit mean square."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStdDev(nn.Module):
    """Sec. 3: the std of each feature over a group of samples, averaged over features and pixels, is
    appended to every sample of the group as one more constant feature map: (N, C, H, W) -> (N, C+1, H, W).
    Groups of `group_size` (4 in the paper); sample i belongs to group i mod (N / group) as in the
    official code. A batch that `group_size` does not divide uses its largest divisor below it."""

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = max(d for d in range(1, min(self.group_size, n) + 1) if n % d == 0)
        y = x.reshape(g, n // g, c, h, w)  # (group, M, C, H, W)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (M, C, H, W)
        std = std.mean(dim=(1, 2, 3)).view(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w)
        return torch.cat([x, std.reshape(n, 1, h, w)], dim=1)


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2)


def generator_block(c_in: int, c_out: int) -> nn.Sequential:
    """G's block (Table 2): c_in x r/2 -> upsample x2 (nearest) -> [conv3x3 -> LeakyReLU -> PixelNorm] x 2 -> c_out x r."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        EqualizedConv2d(c_in, c_out, 3, 1), _lrelu(), PixelNorm(),
        EqualizedConv2d(c_out, c_out, 3, 1), _lrelu(), PixelNorm(),
    )  # fmt: skip


def discriminator_block(c_in: int, c_mid: int, c_out: int) -> nn.Sequential:
    """D's block (Table 2): c_in x r -> conv3x3 -> c_mid -> conv3x3 -> c_out (LeakyReLU after each) -> avgpool -> r/2."""
    return nn.Sequential(
        EqualizedConv2d(c_in, c_mid, 3, 1), _lrelu(),
        EqualizedConv2d(c_mid, c_out, 3, 1), _lrelu(),
        nn.AvgPool2d(2),
    )  # fmt: skip


def discriminator_head(c_in: int, nf0: int, mbstd_group: int) -> nn.Sequential:
    """D's last block at 4x4 (Table 2): c_in x 4 x 4 -> minibatch stddev -> conv3x3 -> dense -> dense -> (N, 1)."""
    return nn.Sequential(
        MinibatchStdDev(mbstd_group),  # (c_in + 1) x 4 x 4
        EqualizedConv2d(c_in + 1, nf0, 3, 1), _lrelu(),  # nf0 x 4 x 4
        nn.Flatten(),
        EqualizedLinear(nf0 * 16, nf0), _lrelu(),
        EqualizedLinear(nf0, 1, gain=1.0),  # the logit (linear, gain 1 as the official code)
    )  # fmt: skip


def stage_resolution(stage: int) -> int:
    return 4 * 2**stage


def stages_for(size: int) -> int:
    """Index of the last stage for images of side `size` (4 -> 0, 8 -> 1, 32 -> 3)."""
    return int(math.log2(size // 4))


def reachable_sizes() -> list[int]:
    return [stage_resolution(s) for s in range(MAX_STAGES)]


def check_size(shape: tuple[int, ...]) -> None:
    c, h, w = shape
    if h != w or h not in reachable_sizes():
        raise ConfigError(
            f"progan cannot make {h}x{w} images: it grows from 4x4 by doublings to square sides "
            f"{', '.join(map(str, reachable_sizes()))}; resize the data, e.g. image_size="
            f"{min((s for s in reachable_sizes() if s >= max(h, w)), default=1024)}"
        )


def channels_at(stage: int, fmap_base: int, fmap_max: int) -> int:
    """Feature maps at resolution 4 * 2**stage (official code: nf(log2(res) - 1))."""
    return max(1, min(fmap_base // 2 ** (stage + 1), fmap_max))


class _Growing(nn.Module):
    """The stage and fade weight a network runs at by default: float buffers, so they travel in
    state_dicts and checkpoints, and averaging G's EMA copy leaves them unchanged (lerp of equal values)."""

    def __init__(self, last_stage: int):
        super().__init__()
        self.last_stage = last_stage
        self.register_buffer("stage", torch.tensor(float(last_stage)))
        self.register_buffer("alpha", torch.tensor(1.0))

    @torch.no_grad()
    def set_growth(self, stage: int, alpha: float) -> None:
        if not 0 <= stage <= self.last_stage:
            raise ValueError(f"stage {stage} outside 0..{self.last_stage}")
        self.stage.fill_(float(stage))
        self.alpha.fill_(float(alpha))

    def _growth(self, stage, alpha) -> tuple[int, float]:
        if stage is None:
            return int(self.stage), float(self.alpha) if alpha is None else alpha
        return int(stage), 1.0 if alpha is None else alpha


# ------------------------------------------------------------------------------------- networks
class ProGANGenerator(_Growing):
    def __init__(self, z_dim: int, shape, fmap_base: int, fmap_max: int):
        channels, size, _ = shape
        super().__init__(stages_for(size))
        self.z_dim, self.size = z_dim, size
        nf = [channels_at(s, fmap_base, fmap_max) for s in range(self.last_stage + 1)]
        # Table 2's first "Conv 4x4" on a 1x1 latent is a dense layer; gain sqrt(2)/4 as the official code.
        self.latent_norm = PixelNorm()
        self.dense = EqualizedLinear(z_dim, nf[0] * 16, gain=HE_GAIN / 4)  # (nf0 * 16) -> nf0 x 4 x 4
        self.base = nn.Sequential(_lrelu(), PixelNorm(), EqualizedConv2d(nf[0], nf[0], 3, 1), _lrelu(), PixelNorm())
        self.blocks = nn.ModuleList([nn.Identity()])  # block s: nf[s-1] x r/2 -> nf[s] x r (r = 4 * 2**s)
        for s in range(1, self.last_stage + 1):
            self.blocks.append(generator_block(nf[s - 1], nf[s]))
        # toRGB: 1x1 conv, linear (gain 1) as the official code.
        self.to_rgb = nn.ModuleList([EqualizedConv2d(nf[s], channels, 1, gain=1.0) for s in range(self.last_stage + 1)])

    def forward(self, z: torch.Tensor, c=None, stage: int | None = None, alpha: float | None = None) -> torch.Tensor:
        full_size = stage is None  # G(z): the stored growth, shown at the data's size
        stage, alpha = self._growth(stage, alpha)
        h = self.dense(self.latent_norm(z.view(len(z), -1)))
        h = self.base(h.view(len(z), -1, 4, 4))  # nf0 x 4 x 4
        for s in range(1, stage):
            h = self.blocks[s](h)  # nf[stage-1] x r/2 x r/2 after the loop
        if stage == 0:
            img = self.to_rgb[0](h)
        else:
            img = self.to_rgb[stage](self.blocks[stage](h))  # the new block's image, r x r
            if alpha < 1:  # fade-in (Figure 2b): blend with the previous stage's image upsampled
                low = F.interpolate(self.to_rgb[stage - 1](h), scale_factor=2, mode="nearest")
                img = torch.lerp(low, img, alpha)
        img = torch.tanh(img)
        if full_size and img.shape[-1] != self.size:
            img = F.interpolate(img, size=(self.size, self.size), mode="nearest")
        return img


class ProGANDiscriminator(_Growing):
    def __init__(self, shape, fmap_base: int, fmap_max: int, mbstd_group: int):
        channels, size, _ = shape
        super().__init__(stages_for(size))
        nf = [channels_at(s, fmap_base, fmap_max) for s in range(self.last_stage + 1)]
        self.from_rgb = nn.ModuleList(
            [nn.Sequential(EqualizedConv2d(channels, nf[s], 1), _lrelu()) for s in range(self.last_stage + 1)]
        )
        self.blocks = nn.ModuleList([nn.Identity()])  # block s: nf[s] x r -> nf[s-1] x r/2
        for s in range(1, self.last_stage + 1):
            self.blocks.append(discriminator_block(nf[s], nf[s], nf[s - 1]))
        self.final = discriminator_head(nf[0], nf[0], mbstd_group)

    def forward(self, x: torch.Tensor, c=None, stage: int | None = None, alpha: float | None = None) -> torch.Tensor:
        stage, alpha = self._growth(stage, alpha)
        res = stage_resolution(stage)
        if x.shape[-1] < res or x.shape[-1] % res:
            raise ValueError(f"D at stage {stage} takes {res}x{res} images (or larger by a power of 2); got {tuple(x.shape)}")
        if x.shape[-1] > res:  # full-size images seen at this stage's resolution
            x = F.avg_pool2d(x, x.shape[-1] // res)
        h = self.from_rgb[stage](x)
        if stage > 0:
            h = self.blocks[stage](h)  # nf[stage-1] x r/2
            if alpha < 1:  # fade-in (Figure 2b): blend with the previous stage's input path
                h = torch.lerp(self.from_rgb[stage - 1](F.avg_pool2d(x, 2)), h, alpha)
            for s in range(stage - 1, 0, -1):
                h = self.blocks[s](h)
        return self.final(h).view(-1)


# ------------------------------------------------------------------------------------- builders
def build_generator(z_dim: int, shape, *, fmap_base: int = 8192, fmap_max: int = 512):
    return ProGANGenerator(z_dim, shape, fmap_base, fmap_max)


def build_discriminator(shape, *, fmap_base: int = 8192, fmap_max: int = 512, mbstd_group: int = 4):
    return ProGANDiscriminator(shape, fmap_base, fmap_max, mbstd_group)


register_family(
    ModelFamily(
        name="progan",
        description="Karras et al. 2018 progressively grown G/D (equalized lr, pixel norm, minibatch stddev); "
        "sides 4, 8, 16, ..., 1024; options fmap_base, fmap_max, mbstd_group; train with algorithm=progan",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_size,
    )
)
