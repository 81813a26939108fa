"""Spectral normalisation (Miyato et al. 2018) as a switch any model can use: `model.spectral_norm: [d]`.

Each weight W of a Conv/ConvTranspose/Linear layer is replaced by W / sigma(W), with sigma(W) the
largest singular value estimated by one power iteration per training-mode forward (sec. 2.1,
Algorithm 1). The layer keeps its weight through torch.nn.utils.parametrizations.spectral_norm, so the
state dict holds the unnormalised weight (`parametrizations.weight.original`) and the power-iteration
vectors u, v; a checkpoint resumes the estimate exactly.
For a convolution torch normalises W reshaped to a matrix (C_out, C_in*k*k) (C_in of a transposed
conv's second dimension: dim=1), as the paper does (sec. 2.1 and Appendix "spectral normalization for
convolutions"), which bounds but is not the exact operator norm of the convolution.
Normalisation layers, embeddings and other parameters (SAGAN's gamma) are left alone.
"""
from __future__ import annotations

import torch.nn as nn
from torch.nn.utils.parametrize import is_parametrized

from ..errors import ConfigError

# Which of build_models' networks the switch can name, and the layers it normalises.
SPECTRAL_NORM_NETS = ("g", "d")
NORMALISED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def check_spectral_norm_nets(names: list[str]) -> list[str]:
    """The lower-cased entries of `model.spectral_norm`; an unknown one is an error naming the valid ones."""
    out = []
    for name in names:
        key = str(name).lower()
        if key not in SPECTRAL_NORM_NETS:
            raise ConfigError(
                f"unknown model.spectral_norm entry '{name}'; valid: {', '.join(SPECTRAL_NORM_NETS)} "
                f"(e.g. model.spectral_norm=[d] for the discriminator, [g,d] for both)"
            )
        out.append(key)
    return out


def apply_spectral_norm(net: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectral-normalise the weight of every Conv/ConvTranspose/Linear layer of `net` in place
    (layers already spectral-normalised are left as they are); returns `net`."""
    for module in list(net.modules()):
        if isinstance(module, NORMALISED_LAYERS) and not (is_parametrized(module, "weight")):
            nn.utils.parametrizations.spectral_norm(module, n_power_iterations=n_power_iterations)
    return net


def has_spectral_norm(module: nn.Module) -> bool:
    """Whether `module`'s weight is spectral-normalised (by torch's parametrization)."""
    if not is_parametrized(module, "weight"):
        return False
    return any(type(p).__name__ == "_SpectralNorm" for p in module.parametrizations["weight"])
