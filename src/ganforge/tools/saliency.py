"""Saliency maps (Simonyan, Vedaldi & Zisserman 2013, "Deep Inside Convolutional Networks", section 3).

For an image x and a score S(x) -- a classifier's logit of one class (before the softmax), or a GAN
discriminator's logit "this is real" -- the saliency of pixel (i, j) is

    M_ij = max_c | dS / dx_{c,i,j} |

the magnitude of the score's first-order sensitivity to that pixel, taking the strongest channel.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError


@dataclass
class Saliency:
    maps: torch.Tensor  # (N, H, W), >= 0
    scores: torch.Tensor  # (N,): the logit whose gradient gave the map
    targets: torch.Tensor | None  # (N,) class indices for a classifier; None for a discriminator
    probs: torch.Tensor  # (N,): softmax probability of the target class, or sigmoid(D logit)


def saliency_maps(model: nn.Module, images: torch.Tensor, target: int | torch.Tensor | None = None) -> Saliency:
    """Saliency of `images` (N, C, H, W) for `model`, which returns class logits (N, K) or D logits (N,).

    target: the class whose logit is explained (an int for all images, or (N,) indices); None = each
    image's predicted class. Ignored for a discriminator. The model runs in eval mode (batch norm uses its
    running statistics, so each image's map depends on that image alone) and is put back as it was.
    """
    was_training = model.training
    model.eval()
    try:
        x = images.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            logits = model(x)
            if logits.dim() == 2 and logits.shape[1] == 1:  # a discriminator shaped (N, 1)
                logits = logits[:, 0]
            if logits.dim() == 1:
                scores, targets, probs = logits, None, torch.sigmoid(logits.detach())
            elif logits.dim() == 2:
                k = logits.shape[1]
                if target is None:
                    targets = logits.detach().argmax(1)
                else:
                    targets = torch.as_tensor(target, device=logits.device).long().expand(len(x)).clone()
                    if (targets < 0).any() or (targets >= k).any():
                        raise ConfigError(f"class {targets.tolist()} is out of range: this classifier has {k} classes (0..{k - 1})")
                scores = logits.gather(1, targets[:, None])[:, 0]
                probs = torch.softmax(logits.detach(), 1).gather(1, targets[:, None])[:, 0]
            else:
                raise ConfigError(f"saliency needs a model returning (N, K) class logits or (N,) logits; got {tuple(logits.shape)}")
            # Summing is exact: in eval mode image n's score depends only on image n's pixels.
            (grad,) = torch.autograd.grad(scores.sum(), x)
    finally:
        model.train(was_training)
    return Saliency(grad.abs().amax(dim=1), scores.detach(), targets, probs)


def draw_saliency(images: torch.Tensor, maps: torch.Tensor, titles: list[str], path: str, dpi: int = 100) -> None:
    """Save a figure: the images (in [0, 1], (N, C, H, W)) on top, their saliency maps below."""
    # Not pyplot: no global figure state, no GUI backend.
    from matplotlib.figure import Figure

    n = len(images)
    fig = Figure(figsize=(2.2 * n, 4.6))
    axes = fig.subplots(2, n, squeeze=False)
    for i in range(n):
        image = images[i].detach().cpu().clamp(0, 1)
        top, bottom = axes[0][i], axes[1][i]
        if image.shape[0] == 1:
            top.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
        else:
            top.imshow(image.permute(1, 2, 0).numpy())
        top.set_title(titles[i], fontsize=8)
        m = maps[i].detach().cpu()
        bottom.imshow((m / m.max().clamp_min(1e-12)).numpy(), cmap="hot", vmin=0, vmax=1)
        bottom.set_title(f"saliency (max {m.max().item():.2g})", fontsize=8)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
