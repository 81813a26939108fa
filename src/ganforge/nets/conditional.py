"""Class-conditional generators and discriminators, built around any family's G and D.

Generators (config `model.conditional_g`):
  concat  Mirza & Osindero 2014: G(z, y) = G'([z, onehot(y)]), G' built for a (z_dim + K) input.
  cbn     conditional BatchNorm (de Vries et al. 2017; Miyato & Koyama 2018): every BatchNorm of G'
          loses its affine and becomes  gamma_y * BN(h) + beta_y  with per-class gamma, beta.
  shared  Brock et al. 2019 (BigGAN): a class embedding shared by every block, joined to that block's
          chunk of z, gives each BatchNorm its gain and bias through linear maps. Built into the G of
          the families that declare it (ModelFamily.g_condition; nets/biggan.py), not a wrapper.
Discriminators (config `model.conditional_d`), on D's trunk phi(x) and logit layer psi (heads.py):
  concat      D'([x, onehot(y) broadcast over the pixels]), D' built for C + K input channels.
  projection  Miyato & Koyama 2018, eq. (3):  D(x, y) = psi(phi(x)) + <embed(y), phi(x)>.
  acgan       Odena et al. 2017: D(x) = psi(phi(x)) and a class head  classifier(phi(x)) -> K logits,
              returned by D(x, classes=True) as (logits, class_logits); the class is not an input.
Every module here keeps the interface G(z, c) / D(x, c) with c a (N,) long tensor of class indices.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError, GanforgeError
from .heads import split_discriminator

G_CONDITIONS = ("concat", "cbn")  # wrappers around any family's G
BUILT_IN_G_CONDITIONS = ("shared",)  # built by a family into its own G (ModelFamily.g_condition)
D_CONDITIONS = ("concat", "projection", "acgan")


def _labels(c, who: str) -> torch.Tensor:
    if c is None:
        raise GanforgeError(f"this class-conditional {who} needs class labels c (a (N,) tensor of class indices)")
    return c


def one_hot(c: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    return F.one_hot(c.long(), num_classes).to(dtype)


class ConcatConditionalG(nn.Module):
    """G(z, y) = base([z, onehot(y)]): base takes z_dim + K inputs."""

    def __init__(self, base: nn.Module, num_classes: int):
        super().__init__()
        self.base, self.num_classes = base, num_classes

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        y = one_hot(_labels(c, "generator"), self.num_classes, z.dtype)
        return self.base(torch.cat([z.flatten(1), y], 1))  # (N, z_dim + K)


class ConditionalBatchNorm(nn.Module):
    """BN(h) normalised without affine, then scaled and shifted by the row y of per-class tables:
    gamma_y * BN(h) + beta_y. Both tables start at the replaced BatchNorm's affine (for every class)."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, num_classes: int):
        super().__init__()
        self.bn = type(bn)(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=False)
        self.gamma = nn.Embedding(num_classes, bn.num_features)
        self.beta = nn.Embedding(num_classes, bn.num_features)
        with torch.no_grad():
            weight = bn.weight if bn.affine else torch.ones(bn.num_features)
            bias = bn.bias if bn.affine else torch.zeros(bn.num_features)
            self.gamma.weight.copy_(weight.detach().expand(num_classes, -1))
            self.beta.weight.copy_(bias.detach().expand(num_classes, -1))
        self.labels: torch.Tensor | None = None  # set by CBNConditionalG around each forward

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        y = _labels(self.labels, "BatchNorm")
        view = (len(h), -1) + (1,) * (h.dim() - 2)  # (N, F, 1, 1) for images, (N, F) for vectors
        return self.gamma(y).view(view) * self.bn(h) + self.beta(y).view(view)


def _replace_batchnorms(module: nn.Module, num_classes: int) -> int:
    count = 0
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            setattr(module, name, ConditionalBatchNorm(child, num_classes))
            count += 1
        else:
            count += _replace_batchnorms(child, num_classes)
    return count


class CBNConditionalG(nn.Module):
    """base with its BatchNorms made class-conditional; forward(z, c) hands c to them for one call."""

    def __init__(self, base: nn.Module, num_classes: int):
        super().__init__()
        if _replace_batchnorms(base, num_classes) == 0:
            raise ConfigError(
                "model.conditional_g=cbn needs a generator with BatchNorm layers; this one has none "
                "(for mlp set model.g.norm=batch, or use model.conditional_g=concat)"
            )
        self.base, self.num_classes = base, num_classes

    def forward(self, z: torch.Tensor, c=None) -> torch.Tensor:
        y = _labels(c, "generator")
        norms = [m for m in self.base.modules() if isinstance(m, ConditionalBatchNorm)]
        for m in norms:
            m.labels = y
        try:
            return self.base(z)
        finally:
            for m in norms:
                m.labels = None


class ConcatConditionalD(nn.Module):
    """D(x, y) = base([x, onehot(y)]): for images the one-hot fills K extra channels at every pixel."""

    def __init__(self, base: nn.Module, num_classes: int):
        super().__init__()
        self.base, self.num_classes = base, num_classes

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        y = one_hot(_labels(c, "discriminator"), self.num_classes, x.dtype)
        if x.dim() == 4:
            y = y[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (N, K, H, W)
        return self.base(torch.cat([x, y], 1))


class ProjectionD(nn.Module):
    """Miyato & Koyama 2018: D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, phi(x) flattened to (N, F)."""

    def __init__(self, base: nn.Module, shape: tuple[int, ...], num_classes: int):
        super().__init__()
        self.trunk, self.psi, features = split_discriminator(base, shape)
        self.embed = nn.Embedding(num_classes, features)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        h = self.trunk(x)
        logits = self.psi(h).view(-1)
        return logits + (self.embed(_labels(c, "discriminator")) * h.flatten(1)).sum(1)


class ACGANDiscriminator(nn.Module):
    """Odena et al. 2017: one trunk, two heads: real/fake logit psi(phi(x)) and K class logits.
    D(x) returns the (N,) real/fake logits as every D does; D(x, classes=True) also the (N, K) class logits."""

    def __init__(self, base: nn.Module, shape: tuple[int, ...], num_classes: int):
        super().__init__()
        self.trunk, self.psi, features = split_discriminator(base, shape)
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor, c=None, classes: bool = False):
        h = self.trunk(x)
        logits = self.psi(h).view(-1)
        return (logits, self.classifier(h.flatten(1))) if classes else logits


def check_g_condition(family, cond_g: str) -> None:
    """A family that conditions its G itself takes only its own model.conditional_g (or none); the
    built-in conditionings exist only in the families that build them."""
    own = family.g_condition
    if own and cond_g not in ("", own):
        raise ConfigError(f"the {family.name} generator conditions on classes itself: model.conditional_g={own} "
                          f"(or '' for an unconditional G), not '{cond_g}'")  # fmt: skip
    if cond_g in BUILT_IN_G_CONDITIONS and cond_g != own:
        raise ConfigError(f"model.conditional_g={cond_g} is built into the generator of the families that have it "
                          f"(biggan); for {family.name} use {' or '.join(G_CONDITIONS)}")  # fmt: skip


def conditional_input_sizes(model_cfg, shape: tuple[int, ...], num_classes: int, data: str = "") -> tuple[int, tuple[int, ...]]:
    """(G's input size, D's input shape) before the conditional wrappers: concat widens them by K.
    `data` names the dataset in the error for unlabelled data."""
    cond_g, cond_d = model_cfg.conditional_g, model_cfg.conditional_d
    if cond_g not in ("", *G_CONDITIONS, *BUILT_IN_G_CONDITIONS):
        raise ConfigError(f"unknown model.conditional_g '{cond_g}'; valid: '' (off), {', '.join(G_CONDITIONS + BUILT_IN_G_CONDITIONS)}")
    if cond_d not in ("", *D_CONDITIONS):
        raise ConfigError(f"unknown model.conditional_d '{cond_d}'; valid: '' (off), {', '.join(D_CONDITIONS)}")
    if (cond_g or cond_d) and num_classes < 1:
        which = f"data '{data}' has" if data else "this dataset has"
        raise ConfigError(
            f"a class-conditional model (model.conditional_g / model.conditional_d) needs labelled data; {which} "
            "no class labels: use a labelled set such as mnist5k, or unset both (model.conditional_g='' model.conditional_d='')"
        )
    if bool(cond_g) != bool(cond_d):
        raise ConfigError(
            f"model.conditional_g '{cond_g}' and model.conditional_d '{cond_d}': set both (a conditional G "
            "needs a D that judges the class, and a conditional D needs a G that takes it) or neither"
        )
    z_in = model_cfg.z_dim + (num_classes if cond_g == "concat" else 0)
    d_shape = (shape[0] + num_classes, *shape[1:]) if cond_d == "concat" else tuple(shape)
    return z_in, d_shape


def make_conditional_g(G: nn.Module, model_cfg, num_classes: int) -> nn.Module:
    cond = model_cfg.conditional_g
    if cond == "concat":
        return ConcatConditionalG(G, num_classes)
    if cond == "cbn":
        return CBNConditionalG(G, num_classes)
    return G


def make_conditional_d(D: nn.Module, model_cfg, shape: tuple[int, ...], num_classes: int) -> nn.Module:
    cond = model_cfg.conditional_d
    if cond == "concat":
        return ConcatConditionalD(D, num_classes)
    if cond == "projection":
        return ProjectionD(D, shape, num_classes)
    if cond == "acgan":
        return ACGANDiscriminator(D, shape, num_classes)
    return D
