"""The `infogan` algorithm: Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by
Information Maximizing Generative Adversarial Nets" (arXiv:1606.03657).

G's input is noise z and latent codes c: categorical codes (one-hot) and continuous codes uniform in
[-1, 1]. A Q head on D's shared body recovers c from G(z, c); both players add lambda L_I (eq. 5-6):
    D, Q:  min  L_D(real, G(z, c)) + lambda NLL_Q(c | G(z, c))   (D's phase; G(z, c) detached)
    G:     min  L_G(G(z, c))       + lambda NLL_Q(c | G(z, c))   (G's phase; D and Q frozen)
with lambda_cat on categorical codes and lambda_cont on continuous ones (losses/information.py).
Q's weights are D's (the Q head lives in D's module) and train with D's optimizer, in D's phase, as in
the official code (openai/InfoGAN: Q's variables are D's "d_" variables and both losses subtract the
MI estimate). G's input layout, fixed for a run:
    [ noise (model.z_dim) | one-hot code 0 (K_0) | ... | continuous codes (algo.continuous) ]
The noise is uniform in [-1, 1] as the official code's `Uniform(62)`.
`ganforge traverse RUN` draws one code at a time (`traversal`); `metrics.code_purity` scores the
categorical code against a classifier.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..losses.information import categorical_nll, gaussian_nll
from ..nets import MODELS, build_models
from .gan import GAN
from . import ALGORITHMS

CONT_STDS = ("fixed", "learned")


@dataclass
class InfoGANParams:
    categorical: list[int] = field(default_factory=lambda: [10])  # values of each categorical code (MNIST: one of 10)
    continuous: int = 2  # continuous codes, uniform in [-1, 1] (MNIST: 2)
    lambda_cat: float = 1.0  # sec. 7: lambda = 1 for discrete codes
    lambda_cont: float = 0.1  # sec. 7: "a smaller lambda" for continuous codes (see the preset's notes)
    cont_std: str = "fixed"  # Q's Gaussian: fixed std 1 (official MNIST code) or learned


class CodeLayout:
    """Where each part of G's input lives, and how to draw, split and edit it."""

    def __init__(self, z_dim: int, params: InfoGANParams):
        self.z_dim, self.categorical, self.continuous = z_dim, list(params.categorical), params.continuous
        self.learned_std = params.cont_std == "learned"
        self.input_dim = z_dim + sum(self.categorical) + self.continuous
        self.q_outputs = sum(self.categorical) + self.continuous * (2 if self.learned_std else 1)
        self.cat_offsets = [z_dim + sum(self.categorical[:i]) for i in range(len(self.categorical))]
        self.cont_offset = z_dim + sum(self.categorical)

    @property
    def n_codes(self) -> int:
        return len(self.categorical) + self.continuous

    def describe(self) -> list[str]:
        cats = [f"code {i}: categorical, {k} values" for i, k in enumerate(self.categorical)]
        conts = [f"code {len(self.categorical) + j}: continuous" for j in range(self.continuous)]
        return cats + conts

    def sample(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """(n, input_dim): uniform noise, uniformly drawn categories (one-hot), uniform continuous codes."""
        noise = torch.rand(n, self.z_dim, generator=generator, device=device) * 2 - 1
        cats = [torch.randint(k, (n,), generator=generator, device=device) for k in self.categorical]
        cont = torch.rand(n, self.continuous, generator=generator, device=device) * 2 - 1
        return torch.cat([noise, *(F.one_hot(c, k).to(noise.dtype) for c, k in zip(cats, self.categorical)), cont], 1)

    def split(self, z: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """G's input -> (each categorical code's values (N,), the continuous codes (N, continuous))."""
        cats = [z[:, o : o + k].argmax(1) for o, k in zip(self.cat_offsets, self.categorical)]
        return cats, z[:, self.cont_offset :]

    def split_q(self, q: torch.Tensor):
        """Q's output -> (each categorical code's logits, the Gaussians' means, their log-stds or None)."""
        logits, start = [], 0
        for k in self.categorical:
            logits.append(q[:, start : start + k])
            start += k
        mean = q[:, start : start + self.continuous]
        log_std = q[:, start + self.continuous :] if self.learned_std else None
        return logits, mean, log_std

    def set_code(self, z: torch.Tensor, code: int, value) -> torch.Tensor:
        """z with code `code` set to `value` in every row (a category index, or a continuous value)."""
        z = z.clone()
        if code < len(self.categorical):
            o, k = self.cat_offsets[code], self.categorical[code]
            z[:, o : o + k] = 0
            z[:, o + int(value)] = 1
        else:
            z[:, self.cont_offset + code - len(self.categorical)] = float(value)
        return z


@ALGORITHMS.register("infogan")
class InfoGAN(GAN):
    """The gan algorithm with G's input split into noise and codes, and the information term on the
    generated side of both players' losses (D's Q head reads the codes back)."""

    name = "infogan"
    rejection_sampling = False  # discriminator rejection sampling: not calibrated or tested for InfoGAN's D and its latent codes
    description = "GAN + latent codes that a Q head on D's body recovers: mutual-information loss (Chen et al. 2016)"
    Params = InfoGANParams
    # Packing would make Q read the codes of a group of samples at once: it has one code per sample.
    supports = GAN.supports - {"pack"}

    @classmethod
    def parse_params(cls, cfg):
        p = super().parse_params(cfg)
        if any(k < 2 for k in p.categorical) or p.continuous < 0 or not (p.categorical or p.continuous):
            raise ConfigError(
                f"infogan needs at least one latent code: algo.categorical lists values per code (each >= 2), "
                f"algo.continuous >= 0; got categorical={p.categorical}, continuous={p.continuous}"
            )
        if p.cont_std not in CONT_STDS:
            raise ConfigError(f"unknown algo.cont_std '{p.cont_std}'; valid: {', '.join(CONT_STDS)}")
        return p

    @classmethod
    def layout_for(cls, cfg) -> CodeLayout:
        return CodeLayout(cfg.model.z_dim, cls.parse_params(cfg))

    @classmethod
    def build_networks(cls, cfg, spec):
        layout = cls.layout_for(cfg)
        family = MODELS.get(cfg.model.name)
        if "q_outputs" not in inspect.signature(family.build_discriminator).parameters:
            able = [n for n in MODELS.list() if "q_outputs" in inspect.signature(MODELS.get(n).build_discriminator).parameters]
            raise ConfigError(f"the infogan algorithm needs a D with a Q head; model '{family.name}' has none (models with one: {', '.join(able)})")
        if "q_outputs" in cfg.model.d:
            raise ConfigError("model.d.q_outputs is set by the infogan algorithm from algo.categorical/continuous/cont_std; remove it")
        # G reads noise and codes; D's Q head outputs the codes' distribution parameters.
        model = dataclasses.replace(cfg.model, z_dim=layout.input_dim, d={**cfg.model.d, "q_outputs": layout.q_outputs})
        G, D = build_models(model, spec.shape, spec.kind, spec.num_classes)
        return {"G": G, "D": D}

    @classmethod
    def latent(cls, cfg, n, generator=None, device=None):
        return cls.layout_for(cfg).sample(n, generator, device)

    def setup(self) -> None:
        self.layout = self.layout_for(self.cfg)
        super().setup()

    def call_D(self, D, x, labels, side="real"):
        """D's logits, and for generated images the Q head's output (the codes' distribution)."""
        return (D(x), None) if side == "real" else D(x, with_q=True)

    def aux_loss(self, player, side, aux, labels, z, stats):
        """lambda L_I on the generated side: both players minimise the codes' NLL under Q (eq. 5-6)."""
        if side == "real":
            return 0.0
        info = self.information_loss(aux, z)
        if player == "D":
            stats.update({k: v for k, v in info.items() if k != "loss"})
        else:
            stats["Loss/G/info"] = info["loss"].detach()
        return info["loss"]

    def information_loss(self, q: torch.Tensor, z: torch.Tensor) -> dict:
        """lambda_cat * CE(categorical) + lambda_cont * Gaussian NLL(continuous) of the codes in G's input z."""
        cats, cont = self.layout.split(z)
        logits, mean, log_std = self.layout.split_q(q)
        zero = q.new_zeros((), dtype=torch.float32)
        cat = categorical_nll(logits, cats) if cats else zero
        cont_nll = gaussian_nll(mean, cont, log_std) if self.layout.continuous else zero
        loss = self.params.lambda_cat * cat + self.params.lambda_cont * cont_nll
        stats = {"Loss/Q/cat": cat.detach(), "Loss/Q/cont": cont_nll.detach()}
        if cats:  # how often Q reads the first categorical code right: 1/K by chance
            stats["Q/accuracy"] = (logits[0].argmax(1) == cats[0]).float().mean().detach()
        return {"loss": loss, **stats}

    # ------------------------------------------------------------------ what the codes do
    @classmethod
    @torch.no_grad()
    def traversal(cls, run, code: int, steps: int = 9, columns: int = 10, seed: int = 0, span=(-2.0, 2.0)):
        """Images (rows, columns, C, H, W) in [-1, 1] varying one code down the rows (each category, or
        `steps` continuous values over `span`); each column keeps its own noise and other codes (drawn
        from `seed`). Returns (images, row values)."""
        layout = cls.layout_for(run.config)
        if not 0 <= code < layout.n_codes:
            raise ConfigError(
                f"--code {code} is out of range: this run has {layout.n_codes} latent codes "
                f"(0..{layout.n_codes - 1}: {'; '.join(layout.describe())})"
            )
        if code < len(layout.categorical):
            values = list(range(layout.categorical[code]))
        else:
            if steps < 2:
                raise ConfigError(f"--steps must be at least 2 for a continuous code, got {steps}")
            values = torch.linspace(span[0], span[1], steps).tolist()
        base = layout.sample(columns, generator=torch.Generator().manual_seed(seed))
        z = torch.cat([layout.set_code(base, code, v) for v in values])  # row i, column j: base[j] with value i
        device = next(run.G.parameters()).device
        run.G.eval()
        images = run.G(z.to(device)).float().cpu()
        return images.view(len(values), columns, *images.shape[1:]), values

    @classmethod
    @torch.no_grad()
    def samples_with_code(cls, run, code: int, value, n: int, seed: int = 0) -> torch.Tensor:
        """n samples with code `code` fixed to `value` (the rest drawn from `seed`): what code purity scores."""
        layout = cls.layout_for(run.config)
        z = layout.set_code(layout.sample(n, generator=torch.Generator().manual_seed(seed)), code, value)
        device = next(run.G.parameters()).device
        run.G.eval()
        return torch.cat([run.G(chunk.to(device)).float().cpu() for chunk in z.split(256)])

    @classmethod
    def categorical_codes(cls, cfg) -> list[int]:
        return list(cls.layout_for(cfg).categorical)

