"""The `gan` algorithm: Goodfellow et al. 2014, "Generative Adversarial Nets", Algorithm 1, and every
paper that keeps its one-G-one-D loop (DCGAN, LSGAN, WGAN, WGAN-GP, SNGAN, SAGAN, PacGAN, the
conditional GANs, R3GAN...).

    for each generator step:
        for k steps (n_critic):                                                     D's update
            x ~ data, z ~ p(z)
            D: minimise loss.d(D(x), D(G(z)))       (maximise log D(x) + log(1 - D(G(z))) for the paper's loss)
               + its regularisers (R1, R2, GP, drift; clipping after the step) and ACGAN's class terms
        z ~ p(z) (or D's last batch, reuse_fake)                                     G's update (n_gen)
        G: minimise loss.g(D(x), D(G(z))) through a frozen D
           + G's regularisers (StyleGAN2's lazy path length, BigGAN's orthogonal regularisation)

What D sees passes through the shared pipeline (DiffAugment or ADA, instance noise, PacGAN packing)
and the regularisers are the shared ones (ganforge.train.d_pipeline, and train.g_regularizers for G):
every switch applies here.
Losses own the maths (ganforge.losses); the loop owns backward's surroundings, stepping and EMA.
Subclasses change one piece at a time: InfoGAN its latent and the information term, ProGAN the
resolution its networks and reals work at.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..losses import get_loss
from ..nets import MODELS, build_models
from ..train.algorithm import Algorithm, Update
from ..train.d_pipeline import SWITCHES, DInput, DRegularizers
from ..train.g_regularizers import GRegularizers
from ..train.loop import no_sync
from ..train.sampling import call_G, rank_slice
from . import ALGORITHMS


def judge(D, conditional_d: str, x: torch.Tensor, labels: torch.Tensor | None):
    """(D's logits, its auxiliary output or None) for images x: ACGAN's D (conditional_d=acgan) classifies
    x too; a conditional D gets the labels (None: D judges x alone)."""
    if conditional_d == "acgan":
        return D(x, classes=True)
    return (D(x) if labels is None else D(x, labels)), None


@ALGORITHMS.register("gan")
class GAN(Algorithm):
    name = "gan"
    description = "one G, one D, k D-steps per G-step (Goodfellow et al. 2014; DCGAN, LSGAN, WGAN, WGAN-GP, R3GAN)"
    supports = frozenset(SWITCHES)
    repeats = frozenset({"D", "G"})
    rejection_sampling = True

    @classmethod
    def builders(cls, cfg):
        family = MODELS.get(cfg.model.name)
        return {"g": family.build_generator, "d": family.build_discriminator}

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        if cfg.class_loss_weight != 1.0 and cfg.model.conditional_d != "acgan":
            raise ConfigError("class_loss_weight weighs ACGAN's class loss; it does nothing without model.conditional_d=acgan")
        if cfg.drs_percentile and cfg.pack > 1:
            raise ConfigError("drs_percentile: PacGAN's D judges packs of samples, not one; rejection sampling needs one "
                              "verdict per sample (remove drs_percentile or pack)")  # fmt: skip

    @classmethod
    def d_scores(cls, run, x, labels):
        """A loaded run's D on x ("real" high): its logits as training reads them (`judge`)."""
        conditional_d = run.config.model.conditional_d
        return judge(run.D, conditional_d, x, labels if conditional_d else None)[0]

    @classmethod
    def build_networks(cls, cfg, spec):
        G, D = build_models(cfg.model, spec.shape, spec.kind, spec.num_classes, pack=cfg.pack, data=cfg.data)
        return {"G": G, "D": D}

    def setup(self) -> None:
        t, c = self.trainer, self.cfg
        self.loss = get_loss(c.loss)
        self.d_input = DInput(c, t.world, t.device, t.data.kind, lambda: t.step, t.data.channels)
        self.d_input.check_batch(t.local_batch_size)
        self.regs = DRegularizers(c)
        self.g_regs = GRegularizers(c, t.device)
        self.g_regs.check_generator(t.nets["G"], c.model.name)
        self.real_target = 1.0 - c.label_smoothing  # one-sided label smoothing (Salimans et al. 2016)
        # The views the updates call (DDP and/or compiled; the bare nets are what checkpoints keep). A
        # penalty on D's input gradient keeps D eager under torch.compile.
        twice = self.regs.differentiates_twice
        self.G_train, self.D_train, self.D_frozen = t.train_view("G", self.g_regs.differentiates_twice), t.train_view("D", twice), t.frozen_view("D", twice)
        self._reused = None  # (fake, z, labels) of D's last batch, for G's update (reuse_fake)
        self.fixed_inputs()

    def extra_state(self) -> dict:
        """The shared pieces' state, where they have any: the D pipeline's (ADA's p and its accumulator)
        and G's regulariser's (path length's running mean and count)."""
        pieces = {"d_input": self.d_input.state_dict(), "g_regs": self.g_regs.state_dict()}
        return {name: state for name, state in pieces.items() if state}

    def load_extra_state(self, state: dict) -> None:
        self.d_input.load_state_dict(state.get("d_input", {}))
        self.g_regs.load_state_dict(state.get("g_regs", {}))

    def updates(self) -> list[Update]:
        D = self.trainer.nets["D"]
        return [
            Update("D", self.d_step, repeat=self.critic_steps, after=lambda: self.regs.after_update(D)),
            Update("G", self.g_step, repeat=self.generator_steps, frozen=("D",)),
        ]

    def critic_steps(self, step: int) -> int:
        """n_critic, or the WGAN reference code's boost: 100 critic steps for the first 25 generator
        steps and every 500th, so the critic stays near optimal."""
        c = self.cfg
        boosted = (c.critic_boost_steps and step < c.critic_boost_steps) or (c.critic_boost_every and step % c.critic_boost_every == 0)
        return c.critic_boost_n_critic if boosted else c.n_critic

    def generator_steps(self, step: int) -> int:
        """n_gen: G updates per step. The second and later draw fresh noise (reuse_fake serves the first)."""
        return self.cfg.n_gen

    # ------------------------------------------------------------------ the pieces a paper may change
    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.trainer.batches.next()

    def fake_labels(self, n: int) -> torch.Tensor | None:
        """Classes for n generated samples of a class-conditional G, uniform over the K classes and
        rank-sliced; None when G is not conditional (no RNG is touched)."""
        if not self.cfg.model.conditional_g:
            return None
        t, K = self.trainer, self.trainer.data.num_classes
        return rank_slice(lambda m: torch.randint(K, (m,), device=t.device), n, t.world)

    def call_G(self, G, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return call_G(G, z, labels)

    def call_D(self, D, x: torch.Tensor, labels: torch.Tensor | None, side: str = "real"):
        """(D's logits, its auxiliary output or None) for real or generated x (`judge`)."""
        return judge(D, self.cfg.model.conditional_d, x, labels)

    def aux_loss(self, player: str, side: str, aux, labels, z, stats: dict):
        """The auxiliary term of `player`'s loss on the real or generated side (0.0 when none): ACGAN's
        class log-likelihood (Odena et al. 2017, L_C), weighted by class_loss_weight."""
        if aux is None:
            return 0.0
        loss = F.cross_entropy(aux.float(), labels)
        name = "Loss/D/class" if player == "D" else "Loss/G/class"
        stats[name] = stats[name] + loss.detach() if name in stats else loss.detach()
        return self.cfg.class_loss_weight * loss

    def generated_for_d(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """G's batch for D's update; with reuse_fake its graph is kept for G's update (pytorch/examples)."""
        if self.cfg.reuse_fake:
            fake = self.call_G(self.G_train, z, labels)
            self._reused = (fake, z, labels)
            return fake
        with torch.no_grad():
            return self.call_G(self.G_train, z, labels)

    # ------------------------------------------------------------------ the updates
    def d_step(self, backward) -> dict:
        """minimise loss.d(D(x), D(G(z))) + regularisers (+ ACGAN's class terms).

        Where D's loss is a real term plus a generated term (every loss but the relativistic one), the
        real half is back-propagated before G runs, as pytorch/examples does: its activations are freed
        before the generated half's exist. (The gradient is the same sum; under DDP the first backward
        skips the all-reduce and the second averages both.)"""
        t, loss = self.trainer, self.loss
        real, real_labels = self.real_batch()
        z = self.noise(len(real))
        fake_labels = self.fake_labels(len(real))  # None unless G is class-conditional
        real_labels = real_labels if fake_labels is not None else None
        D, due, stats = self.D_train, self.regs.due(t.d_steps), {}
        split = loss.separable
        with no_sync(D) if split else nullcontext():
            real_in = due.watch_real(self.d_input(real))
            real_logits, real_aux = self.call_D(D, real_in, real_labels)
            self.d_input.observe_real(real_logits, stats)  # ADA's overfitting heuristic
            real_total = self.regs.real_terms(real_logits, real_in, due, stats) + self.aux_loss("D", "real", real_aux, real_labels, z, stats)
            if split:
                real_loss = loss.d_real(real_logits, self.real_target)
                backward(real_loss + real_total)
                real_logits, real_in = real_logits.detach(), real_in.detach()
        fake_in = due.watch_fake(self.d_input(self.generated_for_d(z, fake_labels).detach()))
        fake_logits, fake_aux = self.call_D(D, fake_in, fake_labels, side="fake")
        fake_total = self.regs.fake_terms(fake_logits, fake_in, due, stats, lambda x, c: self.call_D(D, x, c)[0], real_in, real_labels)
        fake_total = fake_total + self.aux_loss("D", "fake", fake_aux, fake_labels, z, stats)
        if split:
            out = loss.d_terms(real_loss.detach(), loss.d_fake(fake_logits))
            backward(out["fake"] + fake_total)
        else:  # the relativistic loss pairs each real with a generated sample: one backward of the whole
            out = loss.d(real_logits, fake_logits, self.real_target)
            backward(out["loss"] + real_total + fake_total)
        stats["Loss/D"] = out["loss"].detach()
        stats["D(x)"], stats["D(G(z))"] = self.d_output(real_logits), self.d_output(fake_logits)
        if "wasserstein" in out:
            stats["Wasserstein"] = out["wasserstein"]
        return stats

    def g_step(self, backward) -> dict:
        """minimise loss.g(D(x), D(G(z))) with D frozen (non-saturating: maximise log D(G(z))) + G's regularisers."""
        reused, self._reused = self._reused, None
        if reused is None:
            n = self.trainer.local_batch_size
            z, labels = self.noise(n), self.fake_labels(n)
            fake = self.call_G(self.G_train, z, labels)
        else:
            fake, z, labels = reused
        fake_logits, aux = self.call_D(self.D_frozen, self.d_input(fake), labels, side="fake")
        real_logits = self.real_logits_for_g(labels) if self.loss.g_needs_real else None
        out = self.loss.g(real_logits, fake_logits)
        stats = {"Loss/G": out["loss"].detach()}
        reg = self.g_regs.terms(self.G_train, self.trainer.nets["G"], self.noise, self.trainer.local_batch_size, stats)
        backward(out["loss"] + self.aux_loss("G", "fake", aux, labels, z, stats) + reg)
        return stats

    @torch.no_grad()
    def real_logits_for_g(self, fake_labels) -> torch.Tensor:
        """D's logits on a fresh real batch, for a G objective that compares with reals (RpGAN; R3GAN's
        code draws G's phase its own real batch, as it does its own noise): constants to G (real data
        and a frozen D), so no graph is kept."""
        real, labels = self.real_batch()
        return self.call_D(self.D_frozen, self.d_input(real), labels if fake_labels is not None else None)[0]

    def d_output(self, logits: torch.Tensor) -> torch.Tensor:
        """D's mean verdict: a probability for BCE losses, the raw score for critics."""
        return (torch.sigmoid(logits) if self.loss.probabilistic else logits).mean().detach()

    def d_logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's logits for x as training presents it, for monitors: packed (PacGAN), with the labels for
        a conditional D, no augmentation or noise."""
        x = self.d_input.packed(x)
        if not self.cfg.model.conditional_d:
            labels = None
        elif labels is not None:
            labels = labels.to(x.device)
        return self.call_D(self.trainer.D, x, labels)[0]
