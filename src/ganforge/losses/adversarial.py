"""The adversarial losses as pure functions of D's raw logits.

Each loss returns a dict with a 'loss' entry (what the loop back-propagates) and the terms behind it.
Both players see both sides: `d(real_logits, fake_logits)` is minimised by D and `g(real_logits,
fake_logits)` by G, so a relativistic loss, which compares a real and a generated sample, fits the same
shape. Most losses ignore the real side in G's objective (`g_needs_real` False: the algorithm may pass
None there and save D's forward pass on reals). Where D's loss is a sum of a term on real logits and a
term on generated ones (`d_real`, `d_fake`: `separable`), an algorithm may back-propagate the real half
before it generates the other (one half's activations alive, not two). Logits never pass through an
explicit sigmoid: log(sigmoid(l)) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l) keep the
maths finite for any logit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..registry import Registry

Tensor = torch.Tensor
LOSSES: Registry = Registry("loss")


@dataclass(frozen=True)
class AdversarialLoss:
    name: str
    d: Callable[..., dict]  # (real_logits, fake_logits, real_target=1.0) -> {'loss', ...}
    g: Callable[[Tensor | None, Tensor], dict]  # (real_logits, fake_logits) -> {'loss'}
    probabilistic: bool  # D's output is a probability logit (report D(x) as sigmoid) or a raw score
    citation: str
    # D's loss as d_real(real_logits, real_target) + d_fake(fake_logits); None where it is no such sum
    d_real: Callable[..., Tensor] | None = None
    d_fake: Callable[[Tensor], Tensor] | None = None
    estimates_wasserstein: bool = False  # -(d_real + d_fake) is the critic's Wasserstein estimate
    g_needs_real: bool = False  # G's objective reads D's logits on real data too (relativistic)
    # D's target for real data is a label that one-sided label smoothing can move (BCE's 1, LSGAN's b);
    # a critic's or hinge's real term has no label, so label_smoothing is refused there
    smoothable: bool = False
    # D's output between its verdicts "real" and "generated" (0 for a logit or hinge, LSGAN's (a + b) / 2):
    # ADA reads D's overfitting as E[sign(D(x) - boundary)]. None where a constant shift of D's output
    # changes nothing (critics, relativistic pairs), so its sign means nothing and ADA is refused.
    boundary: float | None = None

    @property
    def separable(self) -> bool:
        return self.d_real is not None and self.d_fake is not None

    def d_terms(self, real: Tensor, fake: Tensor) -> dict:
        """d()'s dict from the two halves' values (each from d_real / d_fake)."""
        out = {"loss": real + fake, "real": real, "fake": fake}
        if self.estimates_wasserstein:
            out["wasserstein"] = -(real + fake).detach()
        return out


def _register(loss: AdversarialLoss) -> AdversarialLoss:
    return LOSSES.register(loss.name)(loss)


def get_loss(name: str) -> AdversarialLoss:
    return LOSSES.get(name)


def bce_d_real(real_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """D maximises log D(x) + log(1 - D(G(z)))  <=>  minimises BCE(real, t) + BCE(fake, 0).

    real_target < 1 is one-sided label smoothing (Salimans et al. 2016): only the real target moves.
    """
    return F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))


def bce_d_fake(fake_logits: Tensor) -> Tensor:
    return F.softplus(fake_logits).mean()  # -log(1 - sigmoid(l))


def minimax_g(real_logits: Tensor | None, fake_logits: Tensor) -> dict:
    """The paper's G objective: minimise log(1 - D(G(z))) = -softplus(l). Saturates when D wins."""
    return {"loss": -F.softplus(fake_logits).mean()}


def nonsaturating_g(real_logits: Tensor | None, fake_logits: Tensor) -> dict:
    """Goodfellow et al.'s practical G objective: maximise log D(G(z)) = minimise softplus(-l)."""
    return {"loss": F.softplus(-fake_logits).mean()}


def least_squares_d_real(real_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Mao et al. 2017, eq. (2) with a=0, b=1: 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]."""
    return 0.5 * (real_logits - real_target).pow(2).mean()


def least_squares_d_fake(fake_logits: Tensor) -> Tensor:
    return 0.5 * fake_logits.pow(2).mean()


def least_squares_g(real_logits: Tensor | None, fake_logits: Tensor) -> dict:
    """Mao et al. 2017, eq. (2) with c=1: 1/2 E[(D(G(z)) - c)^2]."""
    return {"loss": 0.5 * (fake_logits - 1.0).pow(2).mean()}


def wasserstein_d_real(real_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Arjovsky et al. 2017: the critic maximises E[f(x)] - E[f(G(z))]. (No labels to smooth.)"""
    return -real_logits.mean()


def wasserstein_d_fake(fake_logits: Tensor) -> Tensor:
    return fake_logits.mean()


def wasserstein_g(real_logits: Tensor | None, fake_logits: Tensor) -> dict:
    return {"loss": -fake_logits.mean()}


def hinge_d_real(real_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Lim & Ye 2017; Miyato et al. 2018: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1.0 - real_logits).mean()


def hinge_d_fake(fake_logits: Tensor) -> Tensor:
    return F.relu(1.0 + fake_logits).mean()


def relativistic_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> dict:
    """RpGAN (Jolicoeur-Martineau 2019, "The relativistic discriminator", eq. 7 with f = -log sigmoid):
    D maximises log sigmoid(C(x) - C(G(z))) over pairs of a real and a generated sample, i.e. minimises
    E[softplus(-(C(x_i) - C(G(z_i))))]. Pairs are formed by position in the batch (x_i with G(z_i)), as
    R3GAN's code does. Not a sum of a real and a generated term: both sides back-propagate together."""
    return {"loss": F.softplus(fake_logits - real_logits).mean()}


def relativistic_g(real_logits: Tensor, fake_logits: Tensor) -> dict:
    """RpGAN's G: the same pairs with the roles swapped, minimise E[softplus(-(C(G(z_i)) - C(x_i)))]:
    G is rewarded for making its sample look more real than the real one it is paired with."""
    return {"loss": F.softplus(real_logits - fake_logits).mean()}


def ra_hinge_d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> dict:
    """RaHinge (Jolicoeur-Martineau 2019, "The relativistic discriminator", relativistic average hinge;
    MSG-GAN's loss): each sample is judged against the mean of the other side,
        D minimises E_x[max(0, 1 - (C(x) - E C(G(z))))] + E_z[max(0, 1 + (C(G(z)) - E C(x)))].
    The means couple the halves, so it is no sum of a real and a generated term."""
    real_vs_fake = real_logits - fake_logits.mean()
    fake_vs_real = fake_logits - real_logits.mean()
    return {"loss": F.relu(1.0 - real_vs_fake).mean() + F.relu(1.0 + fake_vs_real).mean()}


def ra_hinge_g(real_logits: Tensor, fake_logits: Tensor) -> dict:
    """RaHinge's G: the same terms with the roles of real and generated swapped,
        G minimises E_x[max(0, 1 + (C(x) - E C(G(z))))] + E_z[max(0, 1 - (C(G(z)) - E C(x)))]."""
    real_vs_fake = real_logits - fake_logits.mean()
    fake_vs_real = fake_logits - real_logits.mean()
    return {"loss": F.relu(1.0 + real_vs_fake).mean() + F.relu(1.0 - fake_vs_real).mean()}


def _separable(name: str, d_real, d_fake, g, probabilistic: bool, citation: str, wasserstein: bool = False,
               smoothable: bool = False, boundary: float | None = None) -> AdversarialLoss:  # fmt: skip
    """A loss whose D objective is d_real + d_fake; its d() is the sum, with both terms reported."""
    loss: AdversarialLoss

    def d(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> dict:
        return loss.d_terms(d_real(real_logits, real_target), d_fake(fake_logits))

    loss = AdversarialLoss(name, d, g, probabilistic, citation, d_real, d_fake, wasserstein, smoothable=smoothable, boundary=boundary)
    return _register(loss)


_separable("minimax", bce_d_real, bce_d_fake, minimax_g, True, "Goodfellow et al. 2014, eq. 1 (G minimises log(1 - D(G(z))))", smoothable=True, boundary=0.0)
_separable("nonsaturating", bce_d_real, bce_d_fake, nonsaturating_g, True, "Goodfellow et al. 2014, sec. 3 (G maximises log D(G(z)))", smoothable=True, boundary=0.0)
_separable("least-squares", least_squares_d_real, least_squares_d_fake, least_squares_g, False, "Mao et al. 2017, LSGAN eq. 2 (a=0, b=1, c=1)", smoothable=True, boundary=0.5)
_separable("wasserstein", wasserstein_d_real, wasserstein_d_fake, wasserstein_g, False, "Arjovsky et al. 2017, WGAN", wasserstein=True)
_separable("hinge", hinge_d_real, hinge_d_fake, wasserstein_g, False, "Lim & Ye 2017; Miyato et al. 2018", boundary=0.0)
_register(AdversarialLoss("relativistic", relativistic_d, relativistic_g, False,
                          "Jolicoeur-Martineau 2019, RpGAN (relativistic pairing); R3GAN's loss (Huang et al. 2024, eq. 2)",
                          g_needs_real=True))  # fmt: skip
_register(AdversarialLoss("ra-hinge", ra_hinge_d, ra_hinge_g, False,
                          "Jolicoeur-Martineau 2019, RaHinge (relativistic average hinge); MSG-GAN's loss (Karnewar & Wang 2020)",
                          g_needs_real=True))  # fmt: skip
