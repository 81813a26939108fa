"""pix2pix (Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial Networks").

Networks: G: A -> B, a U-Net with skips and dropout (nets/unet.py); D: a conditional 70x70 PatchGAN
on the pair cat(a, b) (nets/patchgan.py, in_channels = 2C). Paired data (data/paired.py). One step
(eq. 4, sec. 3.3):

  D phase  minimise 1/2 [BCE(D(a, b), 1) + BCE(D(a, G(a)), 0)]     (the paper halves D's objective
                                                                   "which slows down the rate at which D learns")
  G phase  minimise BCE(D(a, G(a)), 1) + lambda |b - G(a)|_1       lambda = 100

with the non-saturating G loss, Adam 2e-4 beta1 0.5, batch size 1, batch norm (instance norm by
option: model.g.norm / model.d.norm). G's only noise is its dropout (the paper).
Deviation: at test time (grids, `generate`, `translate`) G runs in eval mode (dropout off, running
batch-norm statistics); the paper keeps dropout and test-batch statistics at test time.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.domains import to_float
from ..data.paired import load_paired
from ..nets import _checked_kwargs
from ..nets.patchgan import build_patch_discriminator
from ..nets.unet import build_unet_generator
from ..data.unpaired import test_images
from ..losses import get_loss
from ..train.algorithm import Update
from .translation import TranslationAlgorithm
from . import ALGORITHMS
from .cyclegan import l1


@dataclass
class Pix2PixParams:
    lambda_l1: float = 100.0  # weight of |b - G(a)|_1 (the paper's lambda)
    load_size: int = 0  # resize to this, then random-crop to the image size; 0 = size x 286/256
    flip: bool = True  # random horizontal flips (the same for a and b)


@ALGORITHMS.register("pix2pix")
class Pix2Pix(TranslationAlgorithm):
    name = "pix2pix"
    description = "paired image-to-image translation: U-Net G, conditional PatchGAN D, GAN + 100 L1 (Isola et al. 2017)"
    Params = Pix2PixParams

    @classmethod
    def load_translation(cls, cfg, params):
        return load_paired(cfg.data, cfg.image_size, cfg.channels, params.load_size)

    @classmethod
    def build_networks(cls, cfg, spec):
        channels, size, _ = spec.shape
        g = {"norm": "batch", **_checked_kwargs(build_unet_generator, cfg.model.g, "model.g")}
        d = {"norm": "batch", **_checked_kwargs(build_patch_discriminator, cfg.model.d, "model.d")}
        return {"G": build_unet_generator(channels, channels, size, **g), "D": build_patch_discriminator(2 * channels, size, **d)}

    @classmethod
    def builders(cls, cfg):
        return {"g": build_unet_generator, "d": build_patch_discriminator}

    @classmethod
    def translators(cls, nets):
        return {"AtoB": nets["G"]}

    @classmethod
    def domain_sources(cls, cfg, params):
        """The demo pairs' sides are the demo domains (labelled: FID and label preservation in their
        evaluators); folders of pairs have no classes (FID/KID with --inception-weights only)."""
        if cfg.data == "mnist-pairs":
            return {"A": "mnist-plain", "B": "mnist-styled"}
        return {"A": cfg.data, "B": cfg.data}

    @classmethod
    def known_answers(cls, cfg, data, n):
        """Every test input's pair is its right answer."""
        return {"AtoB": to_float(data.test_b.images[:n])}

    def setup(self) -> None:
        t = self.trainer
        self.loss = get_loss(self.cfg.loss)
        self.G_train, self.D_train, self.D_frozen = t.train_view("G"), t.train_view("D"), t.frozen_view("D")
        self._batch = None

    def updates(self) -> list[Update]:
        """The reference order: G(a) once, D on it (detached), then G through the frozen D."""
        return [Update("D", self.conditional_d_step), Update("G", self.conditional_g_step, frozen=("D",))]

    def conditional_d_step(self, backward) -> dict:
        real_a, real_b = self.trainer.batches.next()
        fake_b = self.G_train(real_a)
        real_logits = self.D_train(torch.cat([real_a, real_b], 1))  # (N, 1, h, w) patch logits
        fake_logits = self.D_train(torch.cat([real_a, fake_b.detach()], 1))
        loss = 0.5 * self.loss.d(real_logits, fake_logits)["loss"]
        backward(loss)
        self._batch = (real_a, real_b, fake_b)
        return {"Loss/D": loss.detach(), "D(x)": self.d_output(real_logits), "D(G(z))": self.d_output(fake_logits)}

    def conditional_g_step(self, backward) -> dict:
        real_a, real_b, fake_b = self._batch
        self._batch = None
        adversarial = self.loss.g(None, self.D_frozen(torch.cat([real_a, fake_b], 1)))["loss"]
        distance = l1(fake_b, real_b)
        loss = adversarial + self.params.lambda_l1 * distance
        backward(loss)
        return {"Loss/G": loss.detach(), "Loss/G/gan": adversarial.detach(), "Loss/G/L1": distance.detach()}

    def d_logits(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        """The conditional D's patch logits for target-domain images x, each paired with its input:
        the first len(x) test images of domain A (the pairs of the test set's B images, which the
        monitors show, and the inputs of the fixed translations)."""
        condition = test_images(self.translation.test_a, len(x), self.trainer.device)
        return self.trainer.D(torch.cat([condition, x.to(condition.device)], 1))

    @torch.no_grad()
    def triplets(self) -> torch.Tensor:
        """(input A, output G(A), target B) rows."""
        fake = self.translate("AtoB", self.fixed_a)
        return torch.cat([torch.stack([a.cpu(), f, b.cpu()]) for a, f, b in zip(self.fixed_a, fake, self.fixed_b)])

