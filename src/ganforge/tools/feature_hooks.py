"""Capture a network's intermediate activations with forward hooks, and remove the hooks afterwards.

    with FeatureHooks(net, ["relu1_2", "relu4_3"]) as hooks:
        hooks.run(x)                 # stops the forward pass once every requested layer has fired
        feats = hooks.features       # {"relu1_2": (N, 64, H, W), "relu4_3": (N, 512, H/8, W/8)}

Layers are named as `model.named_modules()` names them ("features.3", "blocks.1.act"). The hooks live
only inside the `with` block, so a network used once for style transfer carries no hooks afterwards.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import unknown_name_message


class _AllCaptured(Exception):
    """Raised from a hook to end the forward pass early: the layers after the last captured one are
    never needed (and a classifier's Linear head would refuse an image of a size it was not trained at)."""


def layer_names(model: nn.Module) -> list[str]:
    """Names of the leaf modules of `model` (the layers a hook can capture), in definition order."""
    return [name for name, module in model.named_modules() if name and not list(module.children())]


def resolve_layers(model: nn.Module, names: list[str]) -> dict[str, nn.Module]:
    """{name: module} for each requested layer; an unknown name is an error listing the valid ones."""
    modules = dict(model.named_modules())
    resolved = {}
    for name in names:
        if not name or name not in modules:
            raise ConfigError(unknown_name_message("layer", name, layer_names(model)))
        resolved[name] = modules[name]
    return resolved


class FeatureHooks:
    """Context manager: forward hooks on the named layers that store their outputs in `.features`."""

    def __init__(self, model: nn.Module, names: list[str], stop_early: bool = True):
        self.model = model
        self.modules = resolve_layers(model, list(dict.fromkeys(names)))
        self.stop_early = stop_early
        self.features: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def _hook_for(self, name: str):
        def hook(module, inputs, output):
            # A copy: a later in-place op (VGG's ReLU(inplace=True)) would otherwise overwrite what we
            # keep when the hooked layer is a conv.
            self.features[name] = output.clone() if torch.is_tensor(output) else output
            if self.stop_early and len(self.features) == len(self.modules):
                raise _AllCaptured

        return hook

    def __enter__(self) -> FeatureHooks:
        self._handles = [m.register_forward_hook(self._hook_for(n)) for n, m in self.modules.items()]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the model on x and return {layer name: activation}; a layer that never fired is an error."""
        self.features = {}
        try:
            self.model(x)
        except _AllCaptured:
            pass
        missing = [n for n in self.modules if n not in self.features]
        if missing:
            raise ConfigError(f"layer(s) {', '.join(missing)} never ran in the forward pass of this network")
        return self.features


def capture(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """One forward pass of `model` on `x`, returning the named layers' outputs (hooks removed after)."""
    with FeatureHooks(model, names) as hooks:
        return hooks.run(x)
