"""Sample grids: images through torchvision's make_grid/save_image; 2D points as a scatter plot."""
from __future__ import annotations

import math

import torch
from torchvision.utils import make_grid, save_image

# A grid smaller than this on its long side is enlarged to reach it: 64 MNIST digits make a 242-px grid,
# too small to read on a screen. Whole factors, nearest neighbour: each sample pixel becomes a k x k
# block, so nothing is blurred or invented and the grid's pixels stay exactly torchvision's.
MIN_GRID_SIDE = 512


def enlarge(grid: torch.Tensor, min_side: int = MIN_GRID_SIDE) -> torch.Tensor:
    """(C, H, W) -> (C, kH, kW) with k the least whole factor making max(kH, kW) >= min_side (k = 1 when
    the grid is already that large)."""
    k = max(1, math.ceil(min_side / max(grid.shape[-2:])))
    return grid.repeat_interleave(k, dim=-2).repeat_interleave(k, dim=-1) if k > 1 else grid


def save_samples(samples: torch.Tensor, path: str, reference: torch.Tensor | None = None, label: str = "generated") -> None:
    """Write samples in [-1, 1] (N, C, H, W) as a PNG grid (enlarged to MIN_GRID_SIDE on its long side),
    or (N, 2) points as a PNG scatter (named `label` in its legend) over the reference points (the data)
    when given."""
    samples = samples.detach().float().cpu()
    if samples.dim() == 4:
        nrow = max(1, int(math.sqrt(len(samples))))
        grid = make_grid(samples, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)  # (C, H, W) in [0, 1]
        save_image(enlarge(grid), path)
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
