"""Self-attention for convolutional feature maps (Zhang, Goodfellow, Metaxas & Odena 2019, SAGAN, sec. 3).

For features x (N, C, H, W) seen as HW positions x_i in R^C:
  f(x) = W_f x,  g(x) = W_g x,  h(x) = W_h x   (1x1 convolutions to C/8 channels)
  s_ij = f(x_i)^T g(x_j);   beta_{j,i} = exp(s_ij) / sum_i exp(s_ij)   (how much position j attends to i)
  o_j = v( sum_i beta_{j,i} h(x_i) )            (v: a 1x1 convolution back to C channels)
  y_i = gamma * o_i + x_i,  gamma a learned scalar initialised to 0
so a fresh block is the identity and the network first relies on local convolutions, then learns to
weigh in distant positions (sec. 3). The paper uses C/8 for f, g, h (sec. 3, "C-bar = C/8"); its released
code also max-pools h and g, which we do not. Spectral norm, when the model's switch asks for it, covers
the four 1x1 convolutions (SAGAN sec. 4.1 normalises every layer of G and D).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError


def check_attention_res(attention_res: int, sides: list[int], net: str) -> None:
    """A clear error when `model.<net>.attention_res` is not one of the net's feature-map sides."""
    if attention_res and attention_res not in sides:
        raise ConfigError(
            f"model.{net}.attention_res={attention_res} is not a resolution of this {net.upper()}; "
            f"valid: 0 (none), {', '.join(map(str, sides))}"
        )


class SelfAttention(nn.Module):
    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        inner = max(1, channels // reduction)  # C-bar
        self.f = nn.Conv2d(channels, inner, 1, bias=False)  # keys
        self.g = nn.Conv2d(channels, inner, 1, bias=False)  # queries
        self.h = nn.Conv2d(channels, inner, 1, bias=False)  # values
        self.v = nn.Conv2d(inner, channels, 1, bias=False)  # back to C channels
        self.gamma = nn.Parameter(torch.zeros(()))  # 0: the block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, height, width = x.shape
        f = self.f(x).flatten(2)  # (N, C-bar, HW): f(x_i) in column i
        g = self.g(x).flatten(2)  # (N, C-bar, HW): g(x_j) in column j
        h = self.h(x).flatten(2)  # (N, C-bar, HW)
        s = torch.bmm(f.transpose(1, 2), g)  # (N, HW_i, HW_j): s_ij = f(x_i)^T g(x_j)
        beta = torch.softmax(s, dim=1)  # normalised over i for each j
        o = torch.bmm(h, beta)  # (N, C-bar, HW_j): sum_i h(x_i) beta_{j,i}
        o = self.v(o.view(n, -1, height, width))  # (N, C, H, W)
        return self.gamma * o + x
