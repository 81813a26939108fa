"""What to change when a diagnosis fires: concrete levers, named by the config keys that pull them.

Kept apart from the checks so the wording is in one place and `ganforge diagnose` can print the same
advice for a finished run as the progress bar gave live.
"""
from __future__ import annotations

ADVICE: dict[str, list[str]] = {
    # D wins: its gradients to G vanish (Goodfellow et al. 2014 sec. 3; Arjovsky & Bottou 2017).
    "convergence-failure": [
        "lower D's learning rate or raise G's (TTUR, Heusel et al. 2017: e.g. opt_d.lr=1e-4 opt_g.lr=4e-4)",
        "one-sided label smoothing (label_smoothing=0.1) or instance noise (instance_noise=0.1 instance_noise_steps=N)",
        "a smaller or regularised D: spectral norm, a gradient penalty (gp_weight=10) or R1 (r1_weight=10)",
        "a larger G (model.g.width / model.g.hidden)",
    ],
    # Collapse: G maps most noise to a few outputs (Goodfellow 2016 tutorial sec. 5.1.1).
    "mode-collapse": [
        "a larger noise vector (model.z_dim=100; the DCGAN tutorial's nz=1 run collapses)",
        "more critic steps per G step (n_critic=5) or a Wasserstein loss with gradient penalty (--preset wgan-gp)",
        "a lower learning rate (opt_g.lr=1e-4 opt_d.lr=1e-4) and TTUR",
        "minibatch discrimination / packing, or spectral norm in D",
    ],
    # Divergence: the losses left the floating-point range, or grew by orders of magnitude.
    "divergence": [
        "lower both learning rates (e.g. 10x: opt_g.lr, opt_d.lr) or Adam's beta1 (opt_g.betas=[0.5,0.999])",
        "a gradient penalty (gp_weight=10) or spectral norm to bound D's gradients",
        "weight clipping (clip_value=0.01) for a Wasserstein critic without a penalty",
    ],
    "d-loss-low": [
        "D is ahead of G: lower opt_d.lr, label_smoothing=0.1, or a larger G",
    ],
    "d-loss-high": [
        "D is behind G: raise opt_d.lr or n_critic, or check that D sees real data in [-1, 1]",
    ],
    "g-loss-high": [
        "G gets little gradient: lower opt_d.lr, label_smoothing=0.1, instance noise, or TTUR",
    ],
}


def advice_for(name: str) -> list[str]:
    """The levers for diagnosis `name` (an empty list for an unknown name)."""
    return list(ADVICE.get(name, []))
