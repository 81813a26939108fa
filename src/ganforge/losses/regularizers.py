"""Regularizers of D: weight clipping (WGAN), gradient penalty (WGAN-GP), R1 and R2 (Mescheder et al. 2018;
R3GAN), the epsilon-drift term (ProGAN); of G: path-length regularisation (StyleGAN2) and orthogonal
regularisation (BigGAN). Pure functions: the algorithms apply them through the shared helpers
ganforge.train.d_pipeline.DRegularizers and ganforge.train.g_regularizers.GRegularizers, which own their
weights, lazy intervals and state."""
from __future__ import annotations

import math

import torch
import torch.nn as nn


@torch.no_grad()
def clip_weights(D: nn.Module, clip_value: float) -> None:
    """Arjovsky et al. 2017, Algorithm 1 line 7: w <- clip(w, -c, c) after every critic update."""
    for p in D.parameters():
        p.clamp_(-clip_value, clip_value)


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, c=None) -> torch.Tensor:
    """Gulrajani et al. 2017, Algorithm 1: E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = eps x + (1 - eps) x~,
    eps ~ U[0, 1] per sample. Multiply by lambda (10 in the paper) in the caller. `D` is any callable
    x -> logits (a partial of D with its stage, for ProGAN)."""
    eps = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    logits = D(x_hat, c)
    (grad,) = torch.autograd.grad(logits.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def gradient_norm_penalty(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """E[||grad_x D(x)||^2] at the inputs D was applied to (`inputs` must have requires_grad=True before
    D(inputs) was computed). On real data it is R1 (Mescheder et al. 2018, eq. 9, without the gamma/2
    factor); on generated data R2 (the same paper; R3GAN applies both)."""
    (grad,) = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


r1_penalty = gradient_norm_penalty  # on real data


def drift_penalty(real_logits: torch.Tensor) -> torch.Tensor:
    """Karras et al. 2018 (ProGAN), sec. A.1: E[D(x)^2] on real data, weighted by eps_drift (0.001),
    "to keep the discriminator output from drifting too far away from zero"."""
    return real_logits.float().pow(2).mean()


def path_length_penalty(img: torch.Tensor, ws: torch.Tensor, pl_mean: torch.Tensor, decay: float, noise: torch.Tensor | None = None):
    """Karras et al. 2020 (StyleGAN2) eq. 4: (||J_w^T y||_2 - a)^2 per sample, y ~ N(0, I) / sqrt(H W)
    (the reference's scaling, which makes the length independent of the resolution), J_w the Jacobian
    of the images `img` (N, C, H, W) with respect to the ws (N, num_ws, w_dim) that made them, and a the
    running mean of the lengths: a <- a + decay (mean length - a). As in the reference, the squared
    length is averaged over the num_ws copies of w, and the penalty differentiates through a's update
    too. Returns (penalty (N,), the new a, detached)."""
    if noise is None:
        noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
    lengths = grad.float().square().sum(2).mean(1).sqrt()  # (N,)
    mean = pl_mean.lerp(lengths.mean(), decay)
    return (lengths - mean).square(), mean.detach()
def orthogonal_penalty(net: nn.Module) -> torch.Tensor:
    """Brock et al. 2019 (BigGAN), sec. 3.1: sum over the weights W of `net` of ||W W^T * (1 - I)||_F^2
    (the paper's R_beta without beta), each W seen as a matrix of its filters (out, in * k * k), so only
    the inner products of different filters are penalised, not their norms. Every parameter of two or
    more dimensions counts (the raw weight where spectral norm reparametrises it, as in the authors'
    code), except embeddings: "Don't ortho reg shared, it makes no sense" (BigGAN-PyTorch train_fns.py).
    Computed in float32 outside autocast: the Gram matrices of low-precision weights would round away
    the small off-diagonal terms."""
    skip = {id(p) for m in net.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    total = torch.zeros((), device=next(net.parameters()).device)
    for p in net.parameters():
        if p.dim() < 2 or id(p) in skip:
            continue
        with torch.autocast(device_type=p.device.type, enabled=False):
            w = p.float().flatten(1)  # (filters, fan_in)
            gram = w @ w.T  # (filters, filters): inner products of every pair of filters
            total = total + (gram - torch.diag(gram.diagonal())).pow(2).sum()
    return total
