"""ADA: adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data", arXiv:2006.06676), the 'bgc' pipeline of its main results, and the
heuristic that sets its strength p. Settings from the paper's appendix and the authors' code
(NVlabs/stylegan2-ada-pytorch, training/augment.py and training/training_loop.py).

Every image D sees, real or generated, in D's and in G's phase, passes through `augment(x, p, ...)`.
Each transform applies to each image on its own with probability p, with these parameters:
  geometric, composed into one affine map per image and applied by one resampling:
    xflip       mirror in x, with probability 1/2
    rotate90    rotation by k * 90 degrees, k ~ U{0, 1, 2, 3}
    xint        integer translation, t ~ U[-0.125, 0.125] * side, rounded to whole pixels
    scale       isotropic scaling by 2^N(0, 0.2^2)
    rotate      rotation by theta ~ U[-pi, pi], before and after `aniso`, each with probability
                1 - sqrt(1 - p) (so that at least one of the two happens with probability p)
    aniso       scaling by (s, 1/s), s = 2^N(0, 0.2^2)
    xfrac       translation by N(0, 0.125^2) * side
  colour, composed into one affine map of the RGB values (about mid-grey: images are in [-1, 1]):
    brightness  + b, b ~ N(0, 0.2^2)
    contrast    * c, c = 2^N(0, 0.5^2)
    lumaflip    Householder reflection of the luma axis v = (1, 1, 1) / sqrt(3), with probability 1/2
    hue         rotation about v by theta ~ U[-pi, pi]
    saturation  the part of the colour orthogonal to v scaled by 2^N(0, 1)
On 1-channel images the colour map is averaged over R, G and B, as the authors' code does: brightness
and contrast act, luma flip becomes x -> -x (a negative image), and hue and saturation, which leave the
luma axis fixed, would be the identity, so they are skipped. Other channel counts are refused.

Every transform is differentiable in the image, so G's gradients flow through it.

Written here rather than taken from kornia.augmentation, and why:
  - kornia's random transforms draw uniform parameters (RandomAffine, RandomRotation, ColorJitter); the
    paper's scalings are log-normal and its fractional translations normal;
  - kornia applies each geometric transform as its own resampling, where the paper composes them into
    one map so an image is interpolated once;
  - kornia's colour transforms work in HSV on images in [0, 1] and clamp; the paper's are linear maps
    of RGB (luma flip and the hue rotation about the luma axis have no kornia counterpart);
  - the parameters here come from the trainer's rank-sliced draws, so a distributed run augments as
    one process would, and a checkpoint (which keeps the RNG) resumes the same augmentations.
kornia does the resampling: `warp_affine` with reflection padding, differentiable in the image.

Deviations from the authors' code:
  - they pad, upsample 2x with a sym6 wavelet filter, sample bilinearly and downsample again (less blur
    at fractional offsets); here one bilinear resampling does it. Images that draw no geometric (or no
    colour) transform pass through that stage untouched, exactly;
  - R1 (and R2, GP) differentiate D at its augmented input, as ganforge does for DiffAugment; the
    authors differentiate through the pipeline at the un-augmented reals.

The strength p (`AdaptiveP`): r_t = E[sign(D(x_real))] over the D updates of `ada_interval` generator
steps, then p <- clip(p + sign(r_t - ada_target) * batch_size * ada_interval / (ada_kimg * 1000), 0, 1):
p can go from 0 to 1 in ada_kimg thousand real images. D(x) is measured from the loss's decision
boundary (0 for logits and hinge, 0.5 for LSGAN's labels 0 and 1; a loss without one refuses ADA).
The authors clamp p at 0 only; here it is held in [0, 1] too (above 1 every transform is already
certain, so a p beyond it only delays the way down).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from kornia.geometry.transform import warp_affine

Rand = Callable[..., torch.Tensor]  # rand(*shape) -> U[0, 1) draws (randn: N(0, 1)) on the images' device


# ---------------------------------------------------------------- matrices, (n, 3, 3) and (n, 4, 4)
def _eye(n: int, size: int, like: torch.Tensor) -> torch.Tensor:
    return torch.eye(size, device=like.device, dtype=like.dtype).repeat(n, 1, 1)


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _eye(len(sx), 3, sx)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _eye(len(tx), 3, tx)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    m = _eye(len(theta), 3, theta)
    cos, sin = theta.cos(), theta.sin()
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, -sin, sin, cos
    return m


def _luma_axis(like: torch.Tensor) -> torch.Tensor:
    """v = (1, 1, 1, 0) / sqrt(3): grey, in homogeneous RGB."""
    return torch.tensor([1.0, 1.0, 1.0, 0.0], device=like.device, dtype=like.dtype) / math.sqrt(3)


def rotate_about_luma(theta: torch.Tensor) -> torch.Tensor:
    """Rotation of RGB by theta about the luma axis (Rodrigues: I cos + [v]x sin + v v^T (1 - cos))."""
    v = _luma_axis(theta)[:3]
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]], device=theta.device, dtype=theta.dtype) / math.sqrt(3)  # [v]x
    cos, sin = theta.cos()[:, None, None], theta.sin()[:, None, None]
    m = _eye(len(theta), 4, theta)
    m[:, :3, :3] = torch.eye(3, device=theta.device, dtype=theta.dtype) * cos + cross * sin + torch.outer(v, v) * (1 - cos)
    return m


# ---------------------------------------------------------------- the pipeline
def _where(chosen: torch.Tensor, value: torch.Tensor, identity: float) -> torch.Tensor:
    return torch.where(chosen, value, torch.full_like(value, identity))


def geometric_matrix(n: int, h: int, w: int, p: torch.Tensor, rand: Rand, randn: Rand) -> torch.Tensor:
    """(n, 3, 3): each image's map from input to output pixel coordinates (pixel centres at 0..side-1),
    about the image's centre; the identity for an image that drew no transform."""
    def chosen() -> torch.Tensor:  # a fresh draw per transform
        return rand(n) < p

    zero = torch.zeros(n, device=p.device)
    flip = _where(chosen(), torch.floor(rand(n) * 2), 0.0)
    quarter_turns = _where(chosen(), torch.floor(rand(n) * 4), 0.0)
    t_int = (rand(n, 2) * 2 - 1) * 0.125
    t_int = torch.where(chosen()[:, None], t_int, torch.zeros_like(t_int))
    s = _where(chosen(), torch.exp2(randn(n) * 0.2), 1.0)
    p_rot = 1 - torch.sqrt((1 - p).clamp(0, 1))  # P(pre-rotation or post-rotation) = p
    pre = _where(rand(n) < p_rot, (rand(n) * 2 - 1) * math.pi, 0.0)
    a = _where(chosen(), torch.exp2(randn(n) * 0.2), 1.0)
    post = _where(rand(n) < p_rot, (rand(n) * 2 - 1) * math.pi, 0.0)
    t_frac = randn(n, 2) * 0.125
    t_frac = torch.where(chosen()[:, None], t_frac, torch.zeros_like(t_frac))
    # Applied right to left: the flip first, the fractional translation last (the authors' order).
    m = (
        translate2d(t_frac[:, 0] * w, t_frac[:, 1] * h)
        @ rotate2d(post) @ scale2d(a, 1 / a) @ rotate2d(pre) @ scale2d(s, s)
        @ translate2d(torch.round(t_int[:, 0] * w), torch.round(t_int[:, 1] * h))
        @ rotate2d(quarter_turns * (math.pi / 2))
        @ scale2d(1 - 2 * flip, 1 + zero)
    )  # fmt: skip
    centre = (torch.tensor((w - 1) / 2, device=p.device) + zero, torch.tensor((h - 1) / 2, device=p.device) + zero)
    return translate2d(*centre) @ m @ translate2d(-centre[0], -centre[1])


def color_matrix(n: int, channels: int, p: torch.Tensor, rand: Rand, randn: Rand) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 4, 4): each image's affine map of homogeneous RGB (hue and saturation for RGB only), and
    (n,) whether the image drew any colour transform."""
    drawn = []

    def chosen() -> torch.Tensor:  # a fresh draw per transform
        drawn.append(rand(n) < p)
        return drawn[-1]

    v = _luma_axis(p)
    vvT, eye = torch.outer(v, v), torch.eye(4, device=p.device)
    b = _where(chosen(), randn(n) * 0.2, 0.0)
    c = _where(chosen(), torch.exp2(randn(n) * 0.5), 1.0)
    m = scale3d(c) @ translate3d(b)
    flip = _where(chosen(), torch.floor(rand(n) * 2), 0.0)
    m = (eye - 2 * vvT * flip[:, None, None]) @ m
    if channels == 3:
        m = rotate_about_luma(_where(chosen(), (rand(n) * 2 - 1) * math.pi, 0.0)) @ m
        s = _where(chosen(), torch.exp2(randn(n) * 1.0), 1.0)
        m = (vvT + (eye - vvT) * s[:, None, None]) @ m
    # (vv^T + (I - vv^T) * 1 is the identity only up to rounding: the draws, not the matrix, say
    # which images stay untouched.)
    return m, torch.stack(drawn).any(0)


def translate3d(b: torch.Tensor) -> torch.Tensor:
    m = _eye(len(b), 4, b)
    m[:, :3, 3] = b[:, None]
    return m


def scale3d(c: torch.Tensor) -> torch.Tensor:
    """Scaling of the three colour values by c (about mid-grey 0)."""
    m = _eye(len(c), 4, c)
    m[:, 0, 0] = m[:, 1, 1] = m[:, 2, 2] = c
    return m


def _is_identity(m: torch.Tensor) -> torch.Tensor:
    """(n,) True where an image's map is exactly the identity (an image that drew no geometric
    transform: its factors are exact identities, and so is their product)."""
    return (m == torch.eye(m.shape[-1], device=m.device, dtype=m.dtype)).flatten(1).all(1)


def augment(x: torch.Tensor, p: torch.Tensor, rand: Rand, randn: Rand) -> torch.Tensor:
    """x (N, C, H, W) in [-1, 1], C in {1, 3}, with the 'bgc' transforms each applied per image with
    probability p (a 0-d tensor on x's device: no host sync). Computed in float32, returned in x's dtype."""
    n, channels, h, w = x.shape
    if channels not in (1, 3):
        raise ValueError(f"ADA's colour transforms need RGB or 1-channel images, got {channels} channels")
    p = p.float()
    out = x.float()
    geometry = geometric_matrix(n, h, w, p, rand, randn)
    out = torch.where(_is_identity(geometry)[:, None, None, None], out, warp(out, geometry))
    colour, recolour = color_matrix(n, channels, p, rand, randn)
    out = torch.where(recolour[:, None, None, None], apply_color(out, colour), out)
    return out.to(x.dtype)


def warp(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W) resampled bilinearly so that input pixel (x, y) lands at m @ (x, y, 1); what moves
    in from outside is the reflection about the border pixels' centres (the authors pad by reflection)."""
    return warp_affine(x, m[:, :2], x.shape[-2:], mode="bilinear", padding_mode="reflection", align_corners=True)


def apply_color(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W) mapped by each image's (4, 4) colour map m. One channel: the map averaged over R, G
    and B (gain sum_j mean_i m[i, j], offset mean_i m[i, 3]), as the authors' code does."""
    n, channels, h, w = x.shape
    flat = x.reshape(n, channels, h * w)
    if channels == 3:
        return (m[:, :3, :3] @ flat + m[:, :3, 3:]).reshape(x.shape)
    grey = m[:, :3].mean(1, keepdim=True)  # (n, 1, 4)
    return (flat * grey[:, :, :3].sum(2, keepdim=True) + grey[:, :, 3:]).reshape(x.shape)


# ---------------------------------------------------------------- the strength p
class AdaptiveP:
    """p and the overfitting heuristic's accumulator. `observe(real_logits)` after each D forward on
    reals (logits measured from the loss's decision boundary); `adjust_at(step)` at the start of every
    generator step, which moves p once per `interval` steps. State: `state_dict()`, exact on resume."""

    def __init__(self, target: float, interval: int, kimg: float, batch_size: int, p: float, device, world=None):
        self.target, self.interval, self.world = target, interval, world
        self.speed = batch_size * interval / (kimg * 1000)  # p's change per adjustment
        self.p = torch.tensor(float(p), device=device)
        self.signs = torch.zeros((), device=device)  # sum of sign(D(x)) since the last adjustment
        self.count = 0  # how many logits it sums (known on the host: no device sync)
        self._step_seen = -1  # the step whose first call adjust_at has seen

    def observe(self, real_logits: torch.Tensor) -> torch.Tensor:
        """Add a batch's signs to the accumulator; returns its mean sign (this update's r_t)."""
        signs = real_logits.detach().float().sign()
        self.signs = self.signs + signs.sum()
        self.count += signs.numel()
        return signs.mean()

    def adjust_at(self, step: int) -> None:
        """At the start of step k * interval (k >= 1): r_t over the last interval's D updates, then
        p += sign(r_t - target) * speed, held in [0, 1]. Only the step's first call counts: later ones
        come after this step's D updates have begun to fill the next interval."""
        if step == self._step_seen:
            return
        self._step_seen = step
        if step % self.interval or self.count == 0:
            return
        totals = torch.stack([self.signs, torch.tensor(float(self.count), device=self.signs.device)])
        if self.world is not None and self.world.enabled:  # r_t over the global batch, as one process sees it
            torch.distributed.all_reduce(totals)
        r_t = totals[0] / totals[1]
        self.p = (self.p + torch.sign(r_t - self.target) * self.speed).clamp(0.0, 1.0)
        self.signs, self.count = torch.zeros_like(self.signs), 0

    def state_dict(self) -> dict:
        return {"p": self.p.detach().cpu(), "signs": self.signs.detach().cpu(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.p = state["p"].to(self.p.device)
        self.signs, self.count = state["signs"].to(self.signs.device), int(state["count"])
        self._step_seen = -1  # checkpoints are taken between steps
