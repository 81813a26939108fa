"""Classifiers from the tutorials, registered by name and built by one factory.

Every builder is `builder(channels, resolution, num_classes, **kwargs) -> nn.Module`; a model maps images
(N, C, H, W) in [-1, 1] to class logits (N, num_classes). Order in this file: blocks, classes,
registry and builders, default training course of each model.

    softmax      softmax (multinomial logistic) regression: one linear layer on the pixels
    mlp          one hidden layer of 500 ReLU units
    cnn          two conv(5x5)-BN-ReLU-maxpool(2) layers (16, 32 channels), then a linear layer
    darknet      the Darknet of the fast.ai CIFAR-10 lesson: conv-BN-LeakyReLU(0.1) units, residual layers
                 with a 1x1 bottleneck, groups [1, 2, 4, 6, 3] that double the channels (stride 2 but for
                 the second group), adaptive average pooling (any input size), a linear layer
    darknet-wide the same with twice the channels (nf=64)
    darknet-small groups [1, 1, 2] from 8 channels: the same family at a size a laptop CPU trains in a minute

softmax, mlp and cnn are built for one input size (their linear layer sees the flattened pixels);
the Darknets pool adaptively, so they train through phases of growing image size.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import Registry

# --------------------------------------------------------------------------------------------------
# Blocks


def conv_unit(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """conv (no bias: BN follows) -> BN -> LeakyReLU(0.1), 'same' padding."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.LeakyReLU(0.1, inplace=True),
    )


class ResLayer(nn.Module):
    """x + conv3x3(conv1x1(x)): a 1x1 bottleneck to half the channels and a 3x3 back (channels unchanged)."""

    def __init__(self, channels: int):
        super().__init__()
        self.squeeze = conv_unit(channels, channels // 2, kernel=1)
        self.expand = conv_unit(channels // 2, channels, kernel=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.expand(self.squeeze(x))
        # The lesson adds in place (x.add_) to save memory. While autograd records, the 1x1 conv has
        # saved x for its weight gradient, so an in-place add would corrupt backward (torch raises);
        # it is only safe when nothing is recorded (evaluation, inference).
        if torch.is_grad_enabled() and (x.requires_grad or residual.requires_grad):
            return x + residual
        return x.add_(residual)


# --------------------------------------------------------------------------------------------------
# Classes


class Darknet(nn.Module):
    """conv_unit(C -> nf), then per group i: conv_unit(ch -> 2ch, stride 2 except group 1) and
    `blocks[i]` ResLayers; adaptive average pool to 1x1; linear to the classes."""

    def __init__(self, channels: int, num_classes: int, blocks: Sequence[int] = (1, 2, 4, 6, 3), nf: int = 32):
        super().__init__()
        layers: list[nn.Module] = [conv_unit(channels, nf)]
        ch = nf
        for i, n_blocks in enumerate(blocks):
            # 32x32 input: 16x16 after group 0, 16x16 after group 1, then 8, 4, 2.
            layers.append(conv_unit(ch, ch * 2, stride=1 if i == 1 else 2))
            ch *= 2
            layers += [ResLayer(ch) for _ in range(n_blocks)]
        self.features = nn.Sequential(*layers)  # (N, ch, h, w)
        self.pool = nn.AdaptiveAvgPool2d(1)  # (N, ch, 1, 1) whatever h, w
        self.head = nn.Linear(ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


class TwoConvCNN(nn.Module):
    """[conv5x5 -> BN -> ReLU -> maxpool2] x 2 (16, 32 channels), then linear: the tutorials' CNN."""

    def __init__(self, channels: int, resolution: int, num_classes: int, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 5, padding=2), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            # (N, width, R/2, R/2)
            nn.Conv2d(width, 2 * width, 5, padding=2), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
            # (N, 2 width, R/4, R/4)
        )
        side = resolution // 4
        if side < 1:
            raise ConfigError(f"the cnn needs images of at least 4x4 pixels, got {resolution}x{resolution}")
        self.head = nn.Linear(2 * width * side * side, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


# --------------------------------------------------------------------------------------------------
# Registry and builders

CLASSIFIERS: Registry = Registry("classifier model")


@CLASSIFIERS.register("softmax")
def softmax(channels: int, resolution: int, num_classes: int) -> nn.Module:
    """Softmax regression: logits = W x + b on the flattened pixels (the softmax is in the loss)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * resolution * resolution, num_classes))


@CLASSIFIERS.register("mlp")
def mlp(channels: int, resolution: int, num_classes: int, hidden: int = 500) -> nn.Module:
    """One hidden layer (500 ReLU units by default)."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(channels * resolution * resolution, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


@CLASSIFIERS.register("cnn")
def cnn(channels: int, resolution: int, num_classes: int, width: int = 16) -> nn.Module:
    """Two conv-BN-ReLU-maxpool layers and a linear layer."""
    return TwoConvCNN(channels, resolution, num_classes, width)


@CLASSIFIERS.register("darknet")
def darknet(channels: int, resolution: int, num_classes: int, blocks: Sequence[int] = (1, 2, 4, 6, 3), nf: int = 32) -> nn.Module:
    """The fast.ai CIFAR-10 lesson's Darknet (groups [1, 2, 4, 6, 3], nf=32)."""
    return Darknet(channels, num_classes, tuple(blocks), nf)


@CLASSIFIERS.register("darknet-wide")
def darknet_wide(channels: int, resolution: int, num_classes: int, blocks: Sequence[int] = (1, 2, 4, 6, 3), nf: int = 64) -> nn.Module:
    """The wide variant: the same groups from 64 channels."""
    return Darknet(channels, num_classes, tuple(blocks), nf)


@CLASSIFIERS.register("darknet-small")
def darknet_small(channels: int, resolution: int, num_classes: int, blocks: Sequence[int] = (1, 1, 2), nf: int = 8) -> nn.Module:
    """A small Darknet (groups [1, 1, 2] from 8 channels) for CPU runs on small images."""
    return Darknet(channels, num_classes, tuple(blocks), nf)


# The models that work at any input size (progressive resizing through phases).
ANY_SIZE = {"darknet", "darknet-wide", "darknet-small"}


def build_classifier(name: str, channels: int, resolution: int, num_classes: int, **kwargs) -> nn.Module:
    """Build a registered classifier; unknown names or keyword arguments are errors listing valid ones."""
    import inspect

    builder: Callable = CLASSIFIERS.get(name)
    valid = [p for p in inspect.signature(builder).parameters if p not in ("channels", "resolution", "num_classes")]
    for key in kwargs:
        if key not in valid:
            raise ConfigError(f"classifier '{name}' has no argument '{key}'; valid: {', '.join(valid) or '(none)'}")
    return builder(channels, resolution, num_classes, **kwargs)


# --------------------------------------------------------------------------------------------------
# Default training course of each model (used when no --schedule is given): its best known recipe, with
# its length (--epochs overrides it). All 1cycle (Smith 2018), which beats a constant rate of the same
# optimizer in the same time:
#   cnn            Adam to 3e-3 over 8 epochs: 98.6 % held-out on mnist5k in 12 s on a CPU, where the
#                  tutorials' 2 epochs of constant Adam 1e-3 reach 95.8 % (benchmarks/classify_mnist.py)
#   darknet-small  SGD to 0.1 over 5 epochs: >= 98 % on mnist5k (benchmarks/classify_mnist.py)
#   darknet(-wide) the fast.ai lesson's SGD + Nesterov momentum, weight decay 5e-4, peak 0.4 for batch 100
#   softmax, mlp   the cnn's Adam course over the tutorials' 2 epochs (not benchmarked)

DEFAULT_COURSES: dict[str, dict] = {
    "softmax": {"kind": "1cycle", "optimizer": "adam", "lr_max": 3e-3, "epochs": 2},
    "mlp": {"kind": "1cycle", "optimizer": "adam", "lr_max": 3e-3, "epochs": 2},
    "cnn": {"kind": "1cycle", "optimizer": "adam", "lr_max": 3e-3, "epochs": 8},
    "darknet-small": {"kind": "1cycle", "lr_max": 0.1, "epochs": 5},
    **{
        name: {"kind": "1cycle", "lr_max": 0.4, "optimizer": "sgd", "opt_args": {"weight_decay": 5e-4, "nesterov": True}, "epochs": 2}
        for name in ("darknet", "darknet-wide")
    },
}
