"""Latent walks: G along a path between the noise vectors of fixed seeds.

The noise of seed s is exactly what `ganforge.runs.generate(run, 1, seed=s)` draws, so a walk's first
and last frames are the images `ganforge generate` gives for those seeds (`--no-drs` for a run sampled
by discriminator rejection, which draws again where D rejects: a walk shows G itself). Between them:
  linear     z(t) = (1 - t) z0 + t z1
  spherical  z(t) = sin((1 - t) w) / sin w * z0 + sin(t w) / sin w * z1,  cos w = z0.z1 / (|z0| |z1|)
(White 2016, "Sampling Generative Networks": Gaussian noise lives near a sphere of radius sqrt(z_dim);
a straight line cuts through its low-density inside, the great circle stays on it.)
"""
from __future__ import annotations

import math

import torch

from ..errors import GanforgeError
from ..train.sampling import sample_in_chunks

# Below this angle between z0 and z1 the spherical formula divides by ~0: use the straight line.
SLERP_MIN_ANGLE = 1e-4


def seed_noise(seed: int, z_dim: int) -> torch.Tensor:
    """The (z_dim,) noise vector of a seed, as ganforge.runs.generate draws it for n=1."""
    return torch.randn(1, z_dim, generator=torch.Generator().manual_seed(seed))[0]


def interpolate_noise(z0: torch.Tensor, z1: torch.Tensor, steps: int, slerp: bool = False) -> torch.Tensor:
    """(steps, z_dim) points from z0 to z1, both ends included."""
    if steps < 2:
        raise GanforgeError(f"a walk needs at least 2 steps (its two ends), got {steps}")
    t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
    a, b = z0.double()[None], z1.double()[None]
    if slerp:
        cos = torch.clamp((a * b).sum() / (a.norm() * b.norm()), -1.0, 1.0)
        omega = torch.arccos(cos)
        if omega > SLERP_MIN_ANGLE:
            path = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
            path[0], path[-1] = a[0], b[0]  # exact ends, whatever rounding the sines leave
            return path.to(z0.dtype)
    path = (1 - t) * a + t * b
    path[0], path[-1] = a[0], b[0]
    return path.to(z0.dtype)


@torch.no_grad()
def latent_walk(run, seeds: list[int], steps: int = 8, slerp: bool = False, class_: int | None = None) -> torch.Tensor:
    """Images (len(seeds) - 1, steps, C, H, W) in [-1, 1]: row i walks from seeds[i] to seeds[i + 1].
    A class-conditional G walks its noise with the class held at `class_` (required for such a run)."""
    if run.kind != "image":
        raise GanforgeError("latent walks draw images; this run generates 2D points (use `ganforge generate` for a scatter)")
    if len(seeds) < 2:
        raise GanforgeError(f"a walk needs at least two seeds, got {seeds}")
    z_dim = run.config.model.z_dim
    rows = [interpolate_noise(seed_noise(a, z_dim), seed_noise(b, z_dim), steps, slerp) for a, b in zip(seeds, seeds[1:])]
    z = torch.cat(rows)
    if run.config.model.conditional_g and class_ is None:
        raise GanforgeError(f"this run's generator is class-conditional: say which class to walk in with --class K "
                            f"(0..{run.num_classes - 1})")
    labels = run.algorithm.latent_labels(run.config, run.num_classes, len(z), class_)
    device = next(run.G.parameters()).device
    run.G.eval()  # BatchNorm in eval mode: each image depends on its own noise only
    images = sample_in_chunks(run.G, z, labels, device, batch_size=len(z))
    return images.view(len(rows), steps, *images.shape[1:])


def save_walk(walk: torch.Tensor, path: str, frame_ms: int = 150) -> str:
    """A (rows, steps, C, H, W) walk as a PNG grid (one walk per row) or an animated GIF (each frame
    shows every row at the same t, going there and back)."""
    from torchvision.utils import make_grid, save_image

    rows, steps = walk.shape[:2]
    lower = path.lower()
    if lower.endswith(".png"):
        save_image(walk.flatten(0, 1), path, nrow=steps, normalize=True, value_range=(-1, 1), padding=2)
    elif lower.endswith(".gif"):
        from PIL import Image

        frames = []
        order = list(range(steps)) + list(range(steps - 2, 0, -1))  # there and back: a seamless loop
        for i in order:
            grid = make_grid(walk[:, i], nrow=max(1, int(math.sqrt(rows))), padding=2, normalize=True, value_range=(-1, 1))
            array = (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            frames.append(Image.fromarray(array).convert("P", palette=Image.ADAPTIVE))  # make_grid gives RGB
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    else:
        raise GanforgeError(f"cannot write a walk to {path}: use a .png (grid) or .gif (animation) file name")
    return path
