"""BigGAN's networks, reduced to the 32x32 pattern: Brock, Donahue & Simonyan 2019, "Large Scale GAN
Training for High Fidelity Natural Image Synthesis" (ICLR 2019, arXiv:1809.11096), sec. 3 and appendix B,
read with the authors' PyTorch code (github ajbrock/BigGAN-PyTorch: BigGAN.py G_arch/D_arch[32],
layers.py GBlock, DBlock and ccbn; train_fns.py; scripts/launch_cifar_ema.sh).

  G (32x32: n = 3 blocks, width w = 4 ch at every block; ch = 64 in the authors' CIFAR-10 script):
    z (N, z_dim) split into n + 1 chunks z_0 .. z_n ("hierarchical latent", sec. 3 and fig. 15a)
    e = shared(y): one class embedding (N, shared_dim) for every block ("shared embedding")
    dense(z_0) -> (N, w, 4, 4)
    n x GBlock(h, [e, z_i]) -> (N, w, 8, 8), (N, w, 16, 16), (N, w, 32, 32)
    BN, ReLU, conv 3x3 -> channels, tanh                                            (N, C, 32, 32)
  GBlock (fig. 15b): CBN, ReLU, upsample x2 (nearest), conv 3x3, CBN, ReLU, conv 3x3;
    shortcut: upsample x2, conv 1x1. Each CBN: BN without affine, then gain (1 + W_g c) and bias
    (W_b c), W_g and W_b linear maps without bias of the block's conditioning vector c = [e, z_i].
  D (fig. 15c, the authors' D_arch[32]): DBlock down (C -> w), (n - 2) x DBlock down, 2 x DBlock,
    ReLU, global sum pooling -> (N, w), dense -> 1 logit. DBlock: ReLU, conv 3x3, ReLU, conv 3x3,
    avg-pool 2x2; shortcut conv 1x1 then avg-pool (the first block: no ReLU, pool before the 1x1 conv).
    This is nets/sngan.py's DBlock with "wide" hidden channels, reused from there. D keeps its layers
    in `main`, so `model.conditional_d: projection` (nets/conditional.py) adds the class projection
    <embed(y), phi(x)> on the pooled features, as the authors' D does.
  `attention_res: R` adds nets/attention.py's self-attention after the block whose output is R x R
    (the authors' CIFAR-10 script uses none: --G_attn 0 --D_attn 0).

Class conditioning: `model.conditional_g: shared` (this family's g_condition) builds G with the shared
embedding; unconditional (num_classes 0), each CBN takes only its z chunk, and without `hier` as well it
is a plain BatchNorm. Spectral norm (on every conv and linear layer of G and D, as the paper) is the
model switch `model.spectral_norm: [g, d]`; it leaves the shared embedding alone, as the authors do.
The orthogonal regularisation of G is the switch `ortho_weight` (train/g_regularizers.py) and the
truncation trick is `truncate_latent` below, which G exposes so that `ganforge generate --truncation PSI`
draws z through it (train/sampling.py `truncating`).

Deviations from the reference, and why:
  - Every side 4 * 2^n (n >= 2) uses the 32x32 pattern (constant width 4 ch; D halves to 8x8, then two
    blocks); the authors' 64..512 archs widen toward the bottom. This is a reduced BigGAN for small images.
  - When z_dim does not split evenly, the dense layer's chunk z_0 takes the remainder; the reference
    instead shortens z to (z_dim // (n + 1)) * (n + 1). At 32x32 with z_dim 128 both give 4 chunks of 32.
  - Only the shared embedding: the authors' --G_shared off (per-class gain and bias tables, as this
    project's `model.conditional_g: cbn` for other families) is not an option of this family.
  - Channels come from the data (the reference writes 3).
  - Initialisation `init`: normal (N(0, 0.02), the CIFAR-10 script's N02) or ortho (its ImageNet
    default) on every conv, linear and embedding weight; biases keep PyTorch's defaults, as there.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError, GanforgeError
from . import ModelFamily, register_family
from .attention import SelfAttention, check_attention_res
from .sngan import DBlock, check_resnet_size, resnet_doublings

INITS = ("normal", "ortho")


# ---------------------------------------------------------------------------------------------- blocks
class ConditionedBatchNorm(nn.Module):
    """BN(h) * (1 + W_g c) + W_b c for a conditioning vector c (N, cond_dim) (layers.py ccbn with shared
    embeddings); with cond_dim 0, a plain BatchNorm with its own affine."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=cond_dim == 0)
        self.gain = nn.Linear(cond_dim, channels, bias=False) if cond_dim else None
        self.bias = nn.Linear(cond_dim, channels, bias=False) if cond_dim else None

    def forward(self, h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        h = self.bn(h)
        if self.gain is None:
            return h
        return h * (1 + self.gain(cond))[:, :, None, None] + self.bias(cond)[:, :, None, None]


class GBlock(nn.Module):
    """Generator residual block (fig. 15b): doubles the side, conditioned through both BatchNorms."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.bn1, self.bn2 = ConditionedBatchNorm(c_in, cond_dim), ConditionedBatchNorm(c_out, cond_dim)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)  # learned: the block always changes the size

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class GlobalSumPool(nn.Module):
    """(N, C, H, W) -> (N, C): the sum over positions (SNGAN's and BigGAN's D)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.sum(dim=(2, 3))


def init_weights(net: nn.Module, style: str) -> None:
    """BigGAN.py init_weights: every conv, linear and embedding weight N(0, 0.02) or orthogonal."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            if style == "ortho":
                nn.init.orthogonal_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, 0.02)


def check_init(style: str, net: str) -> None:
    if style not in INITS:
        raise ConfigError(f"unknown model.{net}.init '{style}'; valid: {', '.join(INITS)}")


def z_chunks(z_dim: int, blocks: int, hier: bool) -> list[int]:
    """The sizes z is split into: [z_0 for the dense layer, z_1 .. z_n for the blocks] (hierarchical),
    or [z_dim] (all of z to the dense layer). z_0 takes the remainder of an uneven split."""
    if not hier:
        return [z_dim]
    chunk = z_dim // (blocks + 1)
    if chunk < 1:
        raise ConfigError(f"model.z_dim={z_dim} cannot be split into {blocks + 1} chunks (one per G block and one "
                          f"for the dense layer): use model.z_dim >= {blocks + 1} or model.g.hier=false")  # fmt: skip
    return [z_dim - blocks * chunk] + [chunk] * blocks


# The authors' sampler cuts z at +-2 (`truncated_z_sample`: truncation * truncnorm.rvs(-2, 2)).
TRUNCATION_BOUND = 2.0


def truncate_latent(z: torch.Tensor, psi: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """The truncation trick (sec. 3.1) as the authors' published sampler draws it (the BigGAN TF Hub demo,
    tensorflow/hub examples/colab/biggan_generation_with_tf_hub.ipynb, `truncated_z_sample`): every
    component of a draw z ~ N(0, I) whose magnitude exceeds 2 is drawn again until none does (a normal
    truncated to [-2, 2]), then z is scaled by psi in [0, 1]. Smaller psi trades variety for fidelity;
    psi = 0 gives z = 0, the "mean" image of each class. psi = 1 is off: z comes back as drawn, the
    N(0, I) G was trained on (the demo cuts at 2 even at truncation 1), so a seed gives the same samples
    with and without it. Redraws come from `generator` (on z's device): a seeded draw stays reproducible."""
    if not 0.0 <= psi <= 1.0:
        raise ConfigError(f"the truncation psi must be in [0, 1] (1 = off, 0 = z of 0), got {psi:g}")
    if psi == 1.0:
        return z
    z = z.clone()
    outside = z.abs() > TRUNCATION_BOUND
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator, device=z.device, dtype=z.dtype)
        outside = z.abs() > TRUNCATION_BOUND
    return psi * z


# ---------------------------------------------------------------------------------------------- nets
class Generator(nn.Module):
    # The truncation trick, a capability train/sampling.py's `truncating` looks for: it redraws G's latent.
    truncate_latent = staticmethod(truncate_latent)

    def __init__(self, z_dim: int, shape, num_classes: int, ch: int, shared_dim: int, hier: bool, attention_res: int, init: str):
        super().__init__()
        channels, size, _ = shape
        n = resnet_doublings(size)
        sides = [4 * 2 ** (i + 1) for i in range(n)]  # each block's output side: 8, 16, 32 for 32x32
        check_attention_res(attention_res, sides, "g")
        check_init(init, "g")
        if num_classes and shared_dim < 1:
            raise ConfigError(f"model.g.shared_dim is the size of the shared class embedding: at least 1, got {shared_dim}")
        self.width, self.num_classes = 4 * ch, num_classes
        self.chunks = z_chunks(z_dim, n, hier)
        self.hier = hier
        # One class embedding for every block (not spectral-normalised, as in the reference).
        self.shared = nn.Embedding(num_classes, shared_dim) if num_classes else None
        cond_dim = (shared_dim if num_classes else 0) + (self.chunks[-1] if hier else 0)
        self.dense = nn.Linear(self.chunks[0], 4 * 4 * self.width)  # (w) x 4 x 4
        self.blocks = nn.ModuleList(GBlock(self.width, self.width, cond_dim) for _ in sides)
        self.attention = nn.ModuleList(SelfAttention(self.width) if side == attention_res else nn.Identity() for side in sides)
        self.out = nn.Sequential(nn.BatchNorm2d(self.width), nn.ReLU(), nn.Conv2d(self.width, channels, 3, 1, 1), nn.Tanh())
        init_weights(self, init)

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        zs = torch.split(z.view(len(z), -1), self.chunks, dim=1)  # z_0 (dense), z_1 .. z_n (blocks)
        if self.shared is not None:
            if c is None:
                raise GanforgeError("this class-conditional generator needs class labels c (a (N,) tensor of class indices)")
            e = self.shared(c)  # (N, shared_dim)
        h = self.dense(zs[0]).view(len(z), self.width, 4, 4)
        for i, (block, attention) in enumerate(zip(self.blocks, self.attention)):
            parts = ([e] if self.shared is not None else []) + ([zs[i + 1]] if self.hier else [])
            cond = torch.cat(parts, 1) if parts else None  # [e, z_i]: this block's gains and biases
            h = attention(block(h, cond))  # (w) x 8 x 8, 16 x 16, ...
        return self.out(h)  # (channels) x S x S


class Discriminator(nn.Module):
    def __init__(self, shape, ch: int, attention_res: int, init: str):
        super().__init__()
        channels, size, _ = shape
        n = resnet_doublings(size)
        width, downs = 4 * ch, n - 1  # 32x32: two halvings to 8x8, then two blocks at 8x8 (D_arch[32])
        sides = [size // 2 ** (i + 1) for i in range(downs)] + [size // 2**downs] * 2
        check_attention_res(attention_res, sorted(set(sides), reverse=True), "d")
        check_init(init, "d")
        layers: list[nn.Module] = []
        for i, side in enumerate(sides):
            layers.append(DBlock(channels if i == 0 else width, width, down=i < downs, first=i == 0))
            if side == attention_res and (i + 1 == len(sides) or sides[i + 1] != side):
                layers.append(SelfAttention(width))  # after the last block at that side
        layers += [nn.ReLU(), GlobalSumPool(), nn.Linear(width, 1)]  # phi(x): (N, w); psi: the logit
        self.main = nn.Sequential(*layers)
        init_weights(self, init)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        return self.main(x).view(-1)


def build_generator(z_dim: int, shape, num_classes: int = 0, *, ch: int = 64, shared_dim: int = 128, hier: bool = True,
                    attention_res: int = 0, init: str = "normal"):  # fmt: skip
    """num_classes comes from the data when model.conditional_g=shared (0: unconditional)."""
    return Generator(z_dim, shape, num_classes, ch, shared_dim, hier, attention_res, init)


def build_discriminator(shape, *, ch: int = 64, attention_res: int = 0, init: str = "normal"):
    return Discriminator(shape, ch, attention_res, init)


def check_size(shape: tuple[int, ...]) -> None:
    check_resnet_size(shape, "biggan")


# ---------------------------------------------------------------------------------------------- registered
register_family(
    ModelFamily(
        name="biggan",
        description="Brock et al. 2019 BigGAN reduced to its 32x32 pattern: shared class embedding and hierarchical z into every "
        "G block's conditional BatchNorm, ResNet G/D, sum-pooled D for a projection head; sides 4*2^n >= 16; options ch (64: "
        "4ch channels), shared_dim, hier, attention_res, init; use with model.conditional_g=shared, conditional_d=projection, "
        "spectral_norm=[g,d]",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_size,
        g_condition="shared",
    )
)
