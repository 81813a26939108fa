"""The `msggan` algorithm: Karnewar & Wang 2020, "MSG-GAN: Multi-Scale Gradients for Generative
Adversarial Networks" (CVPR 2020, arXiv:1903.06048), with the nets of ganforge.nets.msggan.

The gan algorithm's loop (one D step, one G step), with every image D sees a pyramid of scales:

    x ~ data;  x_k = avgpool_{2^(n-k)}(x)  for k = 0..n    (4x4 up to full size: the reals' pyramid)
    z ~ N(0, I);  [o_0, ..., o_n] = G(z)                   (G's image at every scale)
    D: minimise loss.d(D(x_0..x_n), D(o_0..o_n))           (RaHinge in the presets)
    G: minimise loss.g(D(x_0..x_n), D(o_0..o_n)) through a frozen D

A pyramid travels as one tensor (N, C, sum_k r_k^2), its scales' pixels side by side
(nets.msggan.flatten_scales), so the shared D pipeline (train/d_pipeline.py) applies to all scales at
once, per sample:
  - instance noise: independent noise of the same std on every pixel of every scale;
  - PacGAN packing: the samples of a group stacked along channels at every scale (D is built for it);
  - R1 / R2: the squared norm of D's gradient with respect to the whole pyramid (all scales);
  - the gradient penalty: real and generated pyramids interpolated with one eps per sample;
  - drift, weight clipping, one-sided label smoothing and reuse_fake act on logits, weights, the loss
    and G's batch, as for the gan algorithm.
DiffAugment is refused: its random shifts, cutouts and colour changes are drawn per image, so the
scales of one sample would no longer show one image, and re-drawing them consistently at every scale
is no part of either paper.

As the reference code (akanimax/BMSG-GAN) does, G's update judges G's batch against the real batch of
D's update in the same step (RaHinge compares with the reals' mean), not a fresh one. Samples, grids,
`generate` and the metrics see G(z), the full-size image only.
"""
from __future__ import annotations

import torch

from ..config import Config
from ..data import DataSpec
from ..errors import ConfigError
from ..nets.msggan import flatten_scales, pyramid, unflatten_scales
from ..nets.progan import stage_resolution, stages_for
from . import ALGORITHMS
from .gan import GAN


@ALGORITHMS.register("msggan")
class MSGGAN(GAN):
    name = "msggan"
    rejection_sampling = False  # discriminator rejection sampling: its D reads G's images at every scale, not one image
    description = "multi-scale gradients: G's image at every scale feeds D's block at that scale, RaHinge (Karnewar & Wang 2020)"
    supports = GAN.supports - {"diffaugment"}

    @classmethod
    def build_networks(cls, cfg: Config, spec: DataSpec) -> dict[str, torch.nn.Module]:
        if cfg.model.name != "msggan":
            raise ConfigError(f"the msggan algorithm feeds every scale of the msggan model; set model.name=msggan (got {cfg.model.name})")
        wrapped = [f"model.{key}" for key in ("conditional_g", "conditional_d", "minibatch_discrimination") if getattr(cfg.model, key)]
        if wrapped:
            raise ConfigError(f"the msggan algorithm does not implement {', '.join(wrapped)}; turn them off")
        return super().build_networks(cfg, spec)

    def setup(self) -> None:
        size = self.trainer.data.spec().shape[-1]
        self.sides = [stage_resolution(s) for s in range(stages_for(size) + 1)]  # 4, 8, ..., size
        self._d_reals = None  # D's last real batch (flattened pyramid), for G's update
        super().setup()

    def to_pyramid(self, x: torch.Tensor) -> torch.Tensor:
        """Full-size images -> their average-pooled pyramid, flattened to one tensor."""
        return flatten_scales(pyramid(x, len(self.sides)))

    def real_batch(self):
        real, labels = super().real_batch()
        self._d_reals = (self.to_pyramid(real), labels)
        return self._d_reals

    def call_G(self, G, z, labels):
        return flatten_scales(G(z, scales=True))

    def call_D(self, D, x, labels, side="real"):
        return D(unflatten_scales(x, self.sides)), None

    @torch.no_grad()
    def real_logits_for_g(self, fake_labels) -> torch.Tensor:
        """D's logits on the real batch of this step's D update (the reference's G loss reads the
        same batch), through D's input pipeline; constants to G."""
        real, _ = self._d_reals
        return self.call_D(self.D_frozen, self.d_input(real), None)[0]

    def d_logits(self, x, labels=None):
        """D's logits for full-size x as training presents it: the reals' pyramid (packed for PacGAN)."""
        return super().d_logits(self.to_pyramid(x), None)
