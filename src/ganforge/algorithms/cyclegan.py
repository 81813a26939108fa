"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks").

Networks: G_AB: A -> B and G_BA: B -> A (the paper's G and F; ResNet generators, nets/resnet_generator.py),
D_A and D_B (70x70 PatchGANs, nets/patchgan.py) judging domain A and domain B.
One step (the paper's Training details, sec. 4; least-squares GAN loss):

  G phase  minimise  E[(D_B(G_AB(a)) - 1)^2] + E[(D_A(G_BA(b)) - 1)^2]                    adversarial
                     + lambda (|G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1)             cycle, lambda = 10
                     + lambda_id lambda (|G_AB(b) - b|_1 + |G_BA(a) - a|_1)               identity, lambda_id = 0.5
           over both generators at once (one Adam), D_A and D_B frozen;
  D phase  minimise  1/2 E[(D(x) - 1)^2] + 1/2 E[D(x_fake)^2] for D_A (x in A) and D_B (x in B), where the
           fakes come from a pool of the last 50 generated images of each domain (train/image_pool.py).

The adversarial term: ganforge's least-squares G loss is Mao et al.'s 1/2 E[(D - 1)^2], so
`adversarial_weight` 2 (default) makes it the paper's E[(D - 1)^2] exactly.
Learning rate: Adam 2e-4, beta1 0.5, constant then linearly to 0: the presets' schedule
{kind: cyclegan} (its length follows `steps`). Epochs are the larger domain's size (batches: translation_batches.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..data.demo_domains import styled
from ..data.domains import match_channels, to_float, to_uint8
from ..data.unpaired import load_unpaired
from ..nets import _checked_kwargs
from ..nets.patchgan import build_patch_discriminator
from ..nets.resnet_generator import build_resnet_generator
from ..losses import get_loss
from ..train.algorithm import Update
from ..train.image_pool import ImagePool
from .translation import TranslationAlgorithm
from . import ALGORITHMS


@dataclass
class CycleGANParams:
    data_b: str = ""  # domain B: a folder or dataset name (--data-b); "" = --data is a folder with trainA/trainB
    lambda_cycle: float = 10.0  # weight of the cycle-consistency L1 (the paper's lambda)
    lambda_identity: float = 0.5  # identity L1 weight, as a fraction of lambda_cycle (0 = off)
    adversarial_weight: float = 2.0  # 2 x ganforge's 1/2-scaled least-squares G loss = the paper's
    pool_size: int = 50  # generated images each D's history holds (0 = off)
    load_size: int = 0  # resize to this, then random-crop to the image size; 0 = size x 286/256
    flip: bool = True  # random horizontal flips (off for digits: a mirrored 2 is no 2)


def l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over every element (torch's L1Loss with reduction 'mean')."""
    return (x - y).abs().mean()


def cycle_losses(real_a, real_b, rec_a, rec_b, idt_a, idt_b, lambda_cycle: float, lambda_identity: float) -> dict:
    """The cycle and identity terms of the G objective (idt_a = G_BA(a), idt_b = G_AB(b); None when off)."""
    cycle = lambda_cycle * (l1(rec_a, real_a) + l1(rec_b, real_b))
    out = {"cycle": cycle}
    if idt_a is not None:
        out["identity"] = lambda_identity * lambda_cycle * (l1(idt_b, real_b) + l1(idt_a, real_a))
    return out


@ALGORITHMS.register("cyclegan")
class CycleGAN(TranslationAlgorithm):
    name = "cyclegan"
    description = "unpaired image-to-image translation: two ResNet G, two PatchGAN D, cycle + identity L1 (Zhu et al. 2017)"
    Params = CycleGANParams
    directions = ("AtoB", "BtoA")
    watched_G, watched_D = "G_AB", "D_B"  # the monitors see A -> B and B's discriminator

    @classmethod
    def load_translation(cls, cfg, params):
        return load_unpaired(cfg.data, params.data_b, cfg.image_size, cfg.channels, params.load_size, cfg.data_root)

    @classmethod
    def build_networks(cls, cfg, spec):
        channels, size, _ = spec.shape
        g = _checked_kwargs(build_resnet_generator, cfg.model.g, "model.g")
        d = _checked_kwargs(build_patch_discriminator, cfg.model.d, "model.d")
        return {
            "G_AB": build_resnet_generator(channels, channels, size, **g),
            "G_BA": build_resnet_generator(channels, channels, size, **g),
            "D_A": build_patch_discriminator(channels, size, **d),
            "D_B": build_patch_discriminator(channels, size, **d),
        }

    @classmethod
    def builders(cls, cfg):
        return {"g": build_resnet_generator, "d": build_patch_discriminator}

    @classmethod
    def translators(cls, nets):
        return {"AtoB": nets["G_AB"], "BtoA": nets["G_BA"]}

    @classmethod
    def domain_sources(cls, cfg, params):
        if params.data_b:
            return {"A": cfg.data, "B": params.data_b}
        return {"A": os.path.join(cfg.data, "trainA"), "B": os.path.join(cfg.data, "trainB")}

    @classmethod
    def known_answers(cls, cfg, data, n):
        """The offline demo's A -> B has a right answer: styled(a) (data/demo_domains.py)."""
        if (cfg.data, cls.parse_params(cfg).data_b) != ("mnist-plain", "mnist-styled"):
            return {}
        plain = to_float(data.test_a.images[:n])[:, :1]  # grey digits (repeated to RGB by the data): one channel
        # through uint8 and the data's own channel conversion, as the B images themselves were made
        return {"AtoB": to_float(match_channels(to_uint8(styled(plain)), data.channels))}

    def setup(self) -> None:
        t, p = self.trainer, self.params
        self.loss = get_loss(self.cfg.loss)
        self.G_AB, self.G_BA, self.D_A, self.D_B = (t.train_view(k) for k in ("G_AB", "G_BA", "D_A", "D_B"))
        self.pool_a, self.pool_b = ImagePool(p.pool_size, self.cfg.seed + 1), ImagePool(p.pool_size, self.cfg.seed + 2)
        self._batch = None

    def discriminator_parameters(self):
        nets = self.trainer.nets
        return [*nets["D_A"].parameters(), *nets["D_B"].parameters()]

    def extra_state(self) -> dict:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        device = self.trainer.device
        self.pool_a.load_state_dict(state["pool_a"], device)
        self.pool_b.load_state_dict(state["pool_b"], device)

    def updates(self) -> list[Update]:
        """The reference order: both generators first, then both discriminators on pooled fakes."""
        return [Update("G", self.generators_step, frozen=("D_A", "D_B")), Update("D", self.discriminators_step)]

    def generators_step(self, backward) -> dict:
        p = self.params
        real_a, real_b = self.trainer.batches.next()
        fake_b, fake_a = self.G_AB(real_a), self.G_BA(real_b)  # (N, C, S, S) each
        rec_a, rec_b = self.G_BA(fake_b), self.G_AB(fake_a)
        idt_a = idt_b = None
        if p.lambda_identity > 0:
            idt_a, idt_b = self.G_BA(real_a), self.G_AB(real_b)
        adversarial = p.adversarial_weight * (self.loss.g(None, self.D_B(fake_b))["loss"] + self.loss.g(None, self.D_A(fake_a))["loss"])
        terms = cycle_losses(real_a, real_b, rec_a, rec_b, idt_a, idt_b, p.lambda_cycle, p.lambda_identity)
        loss = adversarial + sum(terms.values())
        backward(loss)
        self._batch = (real_a, real_b, fake_a.detach(), fake_b.detach())
        stats = {"Loss/G": loss.detach(), "Loss/G/gan": adversarial.detach(), "Loss/G/cycle": terms["cycle"].detach(),
                 "Cycle/L1": 0.5 * (l1(rec_a, real_a) + l1(rec_b, real_b)).detach()}  # fmt: skip
        if "identity" in terms:
            stats["Loss/G/identity"] = terms["identity"].detach()
        return stats

    def discriminators_step(self, backward) -> dict:
        real_a, real_b, fake_a, fake_b = self._batch
        self._batch = None
        fake_a, fake_b = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
        real_logits_b, fake_logits_b = self.D_B(real_b), self.D_B(fake_b)
        out_a = self.loss.d(self.D_A(real_a), self.D_A(fake_a))
        out_b = self.loss.d(real_logits_b, fake_logits_b)
        loss = out_a["loss"] + out_b["loss"]
        backward(loss)
        return {"Loss/D": loss.detach(), "Loss/D/A": out_a["loss"].detach(), "Loss/D/B": out_b["loss"].detach(),
                "D(x)": self.d_output(real_logits_b), "D(G(z))": self.d_output(fake_logits_b)}  # fmt: skip

    @torch.no_grad()
    def triplets(self) -> torch.Tensor:
        """(real A, fake B, reconstructed A) rows, then (real B, fake A, reconstructed B) rows."""
        rows = []
        for direction, back, real in (("AtoB", "BtoA", self.fixed_a), ("BtoA", "AtoB", self.fixed_b)):
            fake = self.translate(direction, real)
            rec = self.translate(back, fake)
            rows += [torch.stack([r.cpu(), f, c]) for r, f, c in zip(real, fake, rec)]
        return torch.cat(rows)

