"""Discriminator rejection sampling (Azadi et al. 2019, "Discriminator Rejection Sampling",
arXiv:1810.06758): a trained run's samples, each kept or drawn again by how real its D finds it.

Why it works: for the optimal D of the logistic loss, D's logit is log p_data(x) / p_G(x), so keeping a
draw of G with probability p_data(x) / (M p_G(x)) (M the ratio's largest value) is exact rejection
sampling of the data's distribution. The paper's Algorithm 1, as done here:
  1. calibrate D (the paper's KeepTraining: D fine-tuned with the logistic loss). Here only an affine map
     of D's output, a * D(x) + b, is fitted by the logistic loss (Platt scaling), on real training images
     against G's samples: a hinge- or Wasserstein-trained D's scores are not log-ratios until rescaled,
     and the map keeps D's ranking;
  2. burn in: D_M, the largest calibrated logit over those samples of G;
  3. F(x) = D(x) - D_M - log(1 - exp(D(x) - D_M - eps)) - gamma, and x is kept with probability
     sigmoid(F(x)). gamma, the paper's knob for the acceptance rate, is set here to the
     `percentile`-th percentile of F over the burn-in samples: a higher percentile keeps fewer draws.
     D_M rises to any larger logit seen, as in the paper.
Each requested sample (a slot: one of a conditional G's classes, in the order asked for) is drawn again
until one draw is kept, at most `max_draws` times; a slot with no draw kept takes the draw D rated
highest, and `RejectionStats.unfilled` counts them. The class of every slot stays the one asked for, so
rejection cannot unbalance a conditional G's classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

EPS = 1e-6  # the paper's epsilon: keeps log(1 - exp(...)) finite at D(x) = D_M
MAX_DRAWS = 32  # draws of G per sample before the best-rated one is taken


@dataclass
class Calibration:
    scale: float  # a: D's score times a ...
    offset: float  # ... plus b is the calibrated logit
    max_logit: float  # D_M: the largest calibrated logit seen so far
    gamma: float  # the shift of F that sets the acceptance rate

    def logit(self, scores: torch.Tensor) -> torch.Tensor:
        return self.scale * scores.double() + self.offset

    def acceptance(self, scores: torch.Tensor) -> torch.Tensor:
        """The probability of keeping each draw with D's `scores`; first raises D_M to the largest of them."""
        logits = self.logit(scores)
        self.max_logit = max(self.max_logit, logits.max().item())
        return torch.sigmoid(_f_hat(logits, self.max_logit) - self.gamma).float()


def _f_hat(logits: torch.Tensor, max_logit: float) -> torch.Tensor:
    """The paper's F(x) before the shift gamma: log of the acceptance ratio p_data / (M p_G), made a logit."""
    gap = logits - max_logit
    return gap - torch.log1p(-torch.exp(gap - EPS))


def calibrate(real_scores: torch.Tensor, fake_scores: torch.Tensor, percentile: float) -> Calibration:
    """Steps 1 and 2 above: the logistic fit of a, b on D's scores of real (1) and generated (0) samples,
    then D_M and gamma from the generated ones."""
    scores = torch.cat([real_scores, fake_scores]).double().flatten()
    targets = torch.cat([torch.ones(len(real_scores)), torch.zeros(len(fake_scores))]).double()
    ab = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    lbfgs = torch.optim.LBFGS([ab], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        lbfgs.zero_grad()
        loss = F.binary_cross_entropy_with_logits(ab[0] * scores + ab[1], targets)
        loss.backward()
        return loss

    with torch.enable_grad():  # samplers run under no_grad; the fit needs its gradient
        lbfgs.step(closure)
    scale, offset = ab.detach().tolist()
    logits = scale * fake_scores.double().flatten() + offset
    max_logit = logits.max().item()
    gamma = torch.quantile(_f_hat(logits, max_logit), percentile / 100).item()
    return Calibration(scale, offset, max_logit, gamma)


@dataclass
class RejectionStats:
    draws: int  # draws of G made for the samples (not counting the calibration's)
    unfilled: int  # slots where no draw was kept within max_draws (they hold the draw D rated highest)


def rejection_sample(
    draw: Callable[[torch.Tensor], torch.Tensor],
    score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    n: int,
    calibration: Calibration,
    generator: torch.Generator,
    max_draws: int = MAX_DRAWS,
) -> tuple[torch.Tensor, RejectionStats]:
    """n samples: `draw(slots)` gives fresh samples for those slot indices, `score(x, slots)` D's scores of
    them; each slot is drawn until one draw is kept (step 3 above), at most max_draws times.
    `generator` gives the coin flips, so a seeded generator gives the same samples every time."""
    out: torch.Tensor | None = None
    best = torch.full((n,), -float("inf"), dtype=torch.float64)
    open_ = torch.arange(n)
    draws = 0
    for _ in range(max_draws):
        x = draw(open_)
        scores = score(x, open_).flatten()
        draws += len(open_)
        if out is None:
            out = x.clone()
        keep = torch.rand(len(open_), generator=generator) < calibration.acceptance(scores)
        # A slot keeps its best-rated draw so far until a draw is accepted: the fallback at max_draws.
        better = keep | (scores.double() > best[open_])
        out[open_[better]] = x[better]
        best[open_[better]] = torch.where(keep[better], torch.inf, scores[better].double())
        open_ = open_[~keep]
        if len(open_) == 0:
            break
    return out, RejectionStats(draws, len(open_))
