"""The `began` algorithm: Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative
Adversarial Networks" (arXiv:1703.10717), sec. 3.3-3.4.

D is an autoencoder; L(v) = |v - D(v)| its reconstruction error (the `began` model family's D returns
it per image, the `began` loss reads it). With k_0 = 0 (algo.k_init):
    D phase:  min L_D = L(x) - k_t L(G(z_D))
    G phase:  min L_G = L(G(z_G));   then  k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1)
gamma = E[L(G(z))] / E[L(x)] is the diversity ratio G and D settle at (lower: sharper, less diverse).
The convergence measure M_global = L(x) + |gamma L(x) - L(G(z_G))| (sec. 3.4.1) falls as training
converges; it and k_t are logged each tick as "BEGAN/M_global" and "BEGAN/k" (TensorBoard shows every
key) and plotted to RUN/began-convergence.png at the end. k_t is checkpointed.
The record has no D(x) / D(G(z)): D's outputs are reconstruction errors, not probabilities, and the
health checks read the `began` loss as non-probabilistic (no "D wins" point, no BCE ranges).
Noise is uniform in [-1, 1] (sec. 3.5: "z in [-1, 1]^{N_z}, uniform").
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..train.monitor import Monitor
from . import ALGORITHMS
from .gan import GAN


@dataclass
class BEGANParams:
    gamma: float = 0.5  # diversity ratio (the paper shows 0.3, 0.5, 0.7; 0.5 in most figures)
    lambda_k: float = 0.001  # k's proportional gain (sec. 3.4: "lambda_k = 0.001 in our experiments")
    k_init: float = 0.0  # k_0 (sec. 3.4: 0)


def update_k(k: torch.Tensor, gamma: float, lambda_k: float, real_error: torch.Tensor, fake_error: torch.Tensor) -> torch.Tensor:
    """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1): proportional control of the balance."""
    return (k + lambda_k * (gamma * real_error - fake_error)).clamp(0.0, 1.0)


def convergence_measure(gamma: float, real_error: torch.Tensor, fake_error: torch.Tensor) -> torch.Tensor:
    """M_global = L(x) + |gamma L(x) - L(G(z))| (sec. 3.4.1)."""
    return real_error + (gamma * real_error - fake_error).abs()


@ALGORITHMS.register("began")
class BEGAN(GAN):
    """The gan algorithm's loop with BEGAN's losses: an autoencoder D scored by reconstruction errors
    and the equilibrium control k_t, updated after each G step."""

    name = "began"
    rejection_sampling = False  # discriminator rejection sampling: its D is an autoencoder: a reconstruction error, not a logit
    description = "autoencoder D, equilibrium control k_t with diversity ratio gamma, convergence measure (Berthelot et al. 2017)"
    Params = BEGANParams
    # D's output is a reconstruction error, not a logit: the penalties on D's input gradient, drift,
    # clipping, label smoothing and packing were never part of BEGAN and are refused.
    supports = frozenset({"diffaugment", "instance_noise", "instance_noise_steps", "reuse_fake"})

    @classmethod
    def parse_params(cls, cfg):
        if cfg.loss != "began":
            raise ConfigError(f"the began algorithm's D returns reconstruction errors: use loss=began (got loss={cfg.loss})")
        p = super().parse_params(cfg)
        if not 0.0 <= p.k_init <= 1.0 or p.gamma <= 0 or p.lambda_k < 0:
            raise ConfigError(f"began needs 0 <= algo.k_init <= 1, algo.gamma > 0, algo.lambda_k >= 0; got {p}")
        return p

    @classmethod
    def latent(cls, cfg, n, generator=None, device=None):
        """sec. 3.5: "z in [-1, 1]^{N_z}, uniform"."""
        return torch.rand(n, cfg.model.z_dim, generator=generator, device=device) * 2 - 1

    def setup(self) -> None:
        super().setup()
        self.k = torch.tensor(self.params.k_init, device=self.trainer.device)  # a resume loads its own after
        self._real_error = None

    def extra_state(self) -> dict:
        return {**super().extra_state(), "k": self.k.detach().cpu()}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.k = state["k"].to(self.trainer.device)

    def monitors(self) -> list:
        return [ConvergencePlot()]

    def d_step(self, backward) -> dict:
        """D: min L(x) - k_t L(G(z_D))."""
        real, _ = self.real_batch()
        z = self.noise(len(real))
        real_errors = self.D_train(self.d_input(real))
        fake_errors = self.D_train(self.d_input(self.generated_for_d(z, None).detach()))
        out = self.loss.d(real_errors, fake_errors, k=self.k)
        backward(out["loss"])
        self._real_error = out["real"].detach().float()
        return {"Loss/D": out["loss"].detach(), "BEGAN/L(x)": self._real_error, "BEGAN/L(G(z))/D": out["fake"].detach()}

    def g_step(self, backward) -> dict:
        """G: min L(G(z_G)); then the k_t update and M_global from this step's L(x) and L(G(z_G))."""
        reused, self._reused = self._reused, None
        generated = reused[0] if reused is not None else self.G_train(self.noise(self.trainer.local_batch_size))
        loss = self.loss.g(None, self.D_frozen(self.d_input(generated)))["loss"]
        backward(loss)
        fake_error, p = loss.detach().float(), self.params
        m_global = convergence_measure(p.gamma, self._real_error, fake_error)
        self.k = update_k(self.k, p.gamma, p.lambda_k, self._real_error, fake_error)
        return {"Loss/G": loss.detach(), "BEGAN/M_global": m_global, "BEGAN/k": self.k.clone()}

    def d_logits(self, x, labels=None):
        """D's reconstruction errors of x (what its loss reads as logits)."""
        return self.trainer.D(x)


class ConvergencePlot(Monitor):
    """At the end of training, RUN/began-convergence.png: M_global and k_t over the steps of stats.jsonl."""

    def on_end(self, trainer) -> None:
        if trainer.run_dir:
            plot_convergence(os.path.join(trainer.run_dir, "stats.jsonl"), os.path.join(trainer.run_dir, "began-convergence.png"))


def plot_convergence(stats_path: str, out_path: str) -> str | None:
    """Plot BEGAN/M_global and BEGAN/k from a stats.jsonl (None when it has no such records)."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    if os.path.isfile(stats_path):
        with open(stats_path) as f:
            rows = [r for r in map(json.loads, filter(str.strip, f)) if "BEGAN/M_global" in r]
    if not rows:
        return None
    steps = [r["step"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), dpi=100, sharex=True)
    top.plot(steps, [r["BEGAN/M_global"] for r in rows], color="#1f77b4")
    top.set_ylabel("M_global")
    top.set_title("BEGAN convergence: M_global = L(x) + |gamma L(x) - L(G(z))|")
    bottom.plot(steps, [r["BEGAN/k"] for r in rows], color="#d62728")
    bottom.set_ylabel("k_t")
    bottom.set_xlabel("generator step")
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path

