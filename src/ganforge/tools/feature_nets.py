"""The frozen networks whose activations define "content" and "style": torchvision's VGG16/19, or any
network the user trained (a ganforge classifier, a GAN discriminator).

A `FeatureNet` says how pixels in [0, 1] enter the network (normalisation, channels), which layers
exist, and which are used by default: the layer just before each downsampling step (before each
max-pool in VGG: relu1_2, relu2_2, relu3_3/3_4, relu4_3/4_4, relu5_3/5_4) for style, and the 4th of
those (the deepest when there are fewer) for content.
"""
from __future__ import annotations

import itertools
import os
import pickle
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError, DataError
from ..registry import unknown_name_message
from ..runtime.checkpoint import load_failure_reason
from .feature_hooks import FeatureHooks, layer_names

VGG_ARCHS = ("vgg16", "vgg19")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CONTENT_BLOCK = 4  # the content layer is the end of the 4th block (Gatys et al. use conv4_2)


@dataclass
class FeatureNet:
    """A frozen network and how to feed it: input = (pixels - mean) / std with pixels in [0, 1]."""

    net: nn.Module
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    style_layers: list[str]  # defaults
    content_layer: str  # default
    description: str
    # VGG only: how many 2x downsamplings precede each layer, for an exact minimum-size check.
    downsamplings: dict[str, int] = field(default_factory=dict)

    def layer_names(self) -> list[str]:
        return layer_names(self.net)

    def prepare(self, pixels: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=pixels.dtype, device=pixels.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=pixels.dtype, device=pixels.device).view(1, -1, 1, 1)
        return (pixels - mean) / std

    def check_layers(self, names: list[str]) -> None:
        valid = self.layer_names()
        for name in names:
            if name not in valid:
                raise ConfigError(unknown_name_message("layer", name, valid))

    def min_size(self, names: list[str]) -> int | None:
        """The smallest image side for which every named layer still has >= 1 pixel (None: unknown)."""
        if not self.downsamplings:
            return None
        return 2 ** max(self.downsamplings[n] for n in names)

    def check_size(self, height: int, width: int, names: list[str]) -> None:
        need = self.min_size(names)
        if need is not None and min(height, width) < need:
            deepest = max(names, key=self.downsamplings.__getitem__)
            raise DataError(
                f"image {height}x{width} is too small for layer {deepest}: it is {need}x smaller than the "
                f"input, so the image needs sides of at least {need} pixels (raise --size, or choose shallower layers)"
            )

    def to(self, device) -> FeatureNet:
        self.net.to(device)
        return self


def freeze(net: nn.Module) -> nn.Module:
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _vgg_named_features(features: nn.Sequential) -> tuple[nn.Sequential, dict[str, int]]:
    """Rename VGG's `features` children conv{block}_{i} / relu{block}_{i} / pool{block}, as in the papers."""
    named, downsamplings = OrderedDict(), {}
    block, conv = 1, 0
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            conv += 1
            name = f"conv{block}_{conv}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu{block}_{conv}"
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool{block}"
        else:
            raise ValueError(f"unexpected VGG layer {layer}")
        named[name] = layer
        downsamplings[name] = block if name.startswith("pool") else block - 1
        if name.startswith("pool"):
            block, conv = block + 1, 0
    return nn.Sequential(named), downsamplings


def _load_vgg_state(model: nn.Module, path: str) -> None:
    """Load a local VGG state dict: the whole torchvision model's, or only its `features` part."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no weights file at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise CheckpointError(
            f"cannot read weights file {path} (corrupt, or not a plain state dict): {load_failure_reason(e)}"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no state dict")
    features_only = not any(k.startswith("features.") for k in state)
    try:
        (model.features if features_only else model).load_state_dict(state, assign=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path} does not fit torchvision's {type(model).__name__} ({first} ...)") from None


def vgg_feature_net(arch: str = "vgg19", weights: str | None = "default") -> FeatureNet:
    """Torchvision's VGG16/19 `features`, frozen, with layers named conv1_1 ... relu5_4 / pool1 ... pool5.

    weights: "default" = torchvision's ImageNet weights (downloaded once into TORCH_HOME; offline this is
    a CheckpointError explaining --weights), a path to a local state dict, or None for random weights
    (enough to test the maths and, usefully, for texture synthesis; not for photographic style transfer).
    """
    import torchvision.models as tvm

    if arch not in VGG_ARCHS:
        raise ConfigError(unknown_name_message("network", arch, list(VGG_ARCHS)) + ", or a ganforge run folder")
    build = getattr(tvm, arch)
    enum = {"vgg16": tvm.VGG16_Weights, "vgg19": tvm.VGG19_Weights}[arch].DEFAULT
    if weights is None:
        model, source = build(weights=None), "random weights"
    elif weights == "default":
        try:
            model = build(weights=enum)
        except Exception as e:  # urllib's URLError, socket errors, a failed hash check, a full disk
            raise CheckpointError(
                f"could not get torchvision's pretrained {arch} weights ({type(e).__name__}: {e}). Offline? "
                f"Download {enum.url} on a machine with a network and pass it with --weights PATH (or put it "
                f"in $TORCH_HOME/hub/checkpoints/); or use a network you trained (--network RUN_DIR), or --random-weights to test the maths"
            ) from None
        source = "torchvision ImageNet weights"
    else:
        # Built on the meta device, the weights are assigned from the file rather than first drawn at
        # random (138M of them, seconds of CPU time); what the file lacks stays on "meta" and is dropped.
        with torch.device("meta"):
            model = build(weights=None)
        _load_vgg_state(model, weights)
        source = f"weights from {weights}"
    features, downsamplings = _vgg_named_features(model.features.float())
    names = list(downsamplings)
    before_pool = [names[i - 1] for i, name in enumerate(names) if name.startswith("pool")]
    return FeatureNet(
        net=freeze(features),
        channels=3,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        style_layers=before_pool,
        content_layer=before_pool[min(CONTENT_BLOCK, len(before_pool)) - 1],
        description=f"{arch} ({source})",
        downsamplings=downsamplings,
    )


def layers_before_downsampling(net: nn.Module, probe: torch.Tensor) -> list[str]:
    """Leaf layers whose 4-D output is the last at its resolution (the next 4-D output is smaller).

    This is "the layer before each max-pool" for VGG, and the same idea for networks that downsample
    with strided convolutions (DCGAN discriminators, small classifiers). One forward pass of `probe`.
    """
    with torch.no_grad(), FeatureHooks(net, layer_names(net), stop_early=False) as hooks:
        hooks.features = {}
        net(probe)
        # Dict order is the order the hooks fired, i.e. execution order.
        outputs = [(n, f.shape[-2:]) for n, f in hooks.features.items() if torch.is_tensor(f) and f.dim() == 4]
    return [
        name
        for (name, hw), (_, next_hw) in itertools.pairwise(outputs)
        if next_hw[0] < hw[0] or next_hw[1] < hw[1]
    ]


def module_feature_net(net: nn.Module, channels: int, resolution: int, description: str) -> FeatureNet:
    """A user-trained ganforge network (images in [-1, 1], `channels` x `resolution`^2) as a FeatureNet.

    Its default layers come from one probe pass at its training resolution (`layers_before_downsampling`).
    """
    net = freeze(net)
    device = next(iter(net.parameters()), torch.empty(0)).device
    style_layers = layers_before_downsampling(net, torch.zeros(1, channels, resolution, resolution, device=device))
    if not style_layers:
        raise ConfigError(f"{description}: found no convolutional layers that downsample; name them with --style-layers")
    return FeatureNet(
        net=net,
        channels=channels,
        mean=(0.5,) * channels,  # [0, 1] -> [-1, 1], the range ganforge networks are trained on
        std=(0.5,) * channels,
        style_layers=style_layers,
        content_layer=style_layers[min(CONTENT_BLOCK, len(style_layers)) - 1],
        description=description,
    )
