"""Blocks shared by the image-to-image networks (resnet_generator.py, patchgan.py, unet.py).

Zhu et al. 2017 and Isola et al. 2017 use instance norm without learned scale (pix2pix: batch norm),
convolution biases only where no batch norm follows, and N(0, 0.02) weights.
"""
from __future__ import annotations

import torch.nn as nn

from ..errors import ConfigError

NORMS = ("instance", "batch", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'instance' (per-image statistics, no affine: Ulyanov et al. 2016 as CycleGAN uses it), 'batch' or 'none'."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"unknown norm '{kind}'; valid: {', '.join(NORMS)}")


def conv_bias(norm: str) -> bool:
    """A bias before batch norm is cancelled by its mean; before instance norm too, but the papers'
    code keeps it there (and without norm), so we do: same parameter counts as the published nets."""
    return norm != "batch"


def normal_init(module: nn.Module, std: float = 0.02) -> None:
    """Conv weights N(0, std), biases 0; batch-norm scales N(1, std) (Isola et al. 2017, sec. 3.3)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
