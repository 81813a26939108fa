"""Sample grids: images through torchvision's make_grid/save_image; 2D points as a scatter plot."""
from __future__ import annotations

import math

import torch
from torchvision.utils import save_image


def save_samples(samples: torch.Tensor, path: str, reference: torch.Tensor | None = None, label: str = "generated") -> None:
    """Write samples in [-1, 1] (N, C, H, W) as a PNG grid, or (N, 2) points as a PNG scatter (named
    `label` in its legend) over the reference points (the data) when given."""
    samples = samples.detach().float().cpu()
    if samples.dim() == 4:
        nrow = max(1, int(math.sqrt(len(samples))))
        save_image(samples, path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    else:
        save_scatter(samples, path, reference, label)


def save_scatter(points: torch.Tensor, path: str, reference: torch.Tensor | None = None, label: str = "generated") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="#bbbbbb", label="data")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="#d62728" if label == "generated" else "#1f77b4", label=label)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
