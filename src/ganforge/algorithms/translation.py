"""What the image-to-image algorithms (CycleGAN, pix2pix) share.

Their data are two domains A and B (data/unpaired.py, data/paired.py) read as (real_A, real_B)
batches with jitter (translation_batches.py); their generators map images to images, so the fixed
"noise" of the sample grids is a fixed set of test images: the grids are triplets (real A, fake B,
reconstruction A or target B) saved as samples/triplets-step-NNNNNNN.png, and `fixed_samples` (what
the collapse check and TensorBoard see) is the A -> B translation of those images. The loop's
`data` is domain B's test set, the domain those translations should look like; the monitors watch the
discriminator of domain B and the A -> B generator (`watched_D`, `watched_G`).
Subclasses give `load_translation(cfg, params)`, `translators(nets)` ({"AtoB": net, ...}) and their updates.
None of the D-input switches (DiffAugment, instance noise, packing) or regularisers of the gan family
are applied by these algorithms' updates: they are refused (`supports` is empty).
"""
from __future__ import annotations

import functools
import os

import torch
from torchvision.utils import save_image

from ..data.unpaired import TranslationData, test_images
from ..errors import ConfigError
from ..train.algorithm import Algorithm
from ..train.sampling import evaluating, translate_in_chunks
from ..train.samples import save_samples
from ..train.translation_batches import TranslationBatches

N_TRIPLETS = 8  # test images per direction in the triplet grids


class TranslationAlgorithm(Algorithm):
    directions = ("AtoB",)
    watched_G, watched_D = "G", "D"  # what the monitors (TensorBoard, health checks) see
    # G maps images to images: no latent, no class conditioning, and nets built by the algorithm itself
    ignores = frozenset({"model.z_dim", "model.spectral_norm", "model.conditional_g", "model.conditional_d",
                         "model.minibatch_discrimination", "class_loss_weight"})  # fmt: skip

    @classmethod
    def load_translation(cls, cfg, params) -> TranslationData:
        raise NotImplementedError

    @classmethod
    def translators(cls, nets: dict) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    @classmethod
    def translator(cls, nets: dict, direction: str) -> torch.nn.Module:
        table = cls.translators(nets)
        if direction not in table:
            raise ConfigError(f"the {cls.name} algorithm translates {', '.join(table)}; got --direction {direction}")
        return table[direction]

    def build_data(self):
        if self.trainer.world.enabled:
            raise ConfigError(f"{self.name} trains in one process (its image pools and batches are not split over ranks)")
        if self.cfg.data_limit:
            raise ConfigError(f"data_limit cuts one dataset's training split; {self.name} reads two domains: remove data_limit")
        self.translation = self.load_translation(self.cfg, self.params)
        return self.translation.target_info()

    def build_batches(self, data, memory_format) -> TranslationBatches:
        t, c, device = self.translation, self.cfg, self.trainer.device
        flip = getattr(self.params, "flip", True)
        n = min(N_TRIPLETS, c.n_samples)
        self.fixed_a = test_images(t.test_a, n, device)
        self.fixed_b = test_images(t.test_b, n, device)
        return TranslationBatches(t.train_a.images, t.train_b.images, c.batch_size, t.size, c.seed, device, t.paired, flip)

    def generator_parameters(self):
        return [p for net in self.translators(self.trainer.nets).values() for p in net.parameters()]

    def translate(self, direction: str, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """images of the source domain -> the target domain, in eval mode, on the CPU."""
        return translate_in_chunks(self.translator(self.trainer.nets, direction), images, batch_size)

    def n_fixed_samples(self) -> int:
        return len(self.fixed_a)

    @torch.no_grad()
    def fixed_samples(self) -> torch.Tensor:
        with evaluating(self.translator(self.trainer.nets, "AtoB")) as G:
            return G(self.fixed_a)

    def samples(self, n: int, seed: int, batch_size: int = 64) -> torch.Tensor:
        """A -> B translations of the first n test images of A (cycled): what in-training evaluation scores."""
        return self.translate("AtoB", test_images(self.translation.test_a, n), batch_size)

    def triplets(self) -> torch.Tensor:
        """Rows of (input, translation, third) images; the subclass says what the third is."""
        raise NotImplementedError

    def save_grid(self, folder: str, step: int) -> str:
        save_samples(self.fixed_samples(), os.path.join(folder, f"step-{step:07d}.png"))
        path = os.path.join(folder, f"triplets-step-{step:07d}.png")
        save_image(self.triplets().float().cpu(), path, nrow=3, normalize=True, value_range=(-1, 1), padding=2)
        return path

    def save_reals(self, path: str) -> None:
        save_samples(torch.cat([self.fixed_a, self.fixed_b]), path)

    def d_output(self, logits: torch.Tensor) -> torch.Tensor:
        """D's mean verdict: a probability for BCE losses, the raw score for least squares."""
        return (torch.sigmoid(logits) if self.loss.probabilistic else logits).mean().detach()

    def d_logits(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        """The watched D's patch logits for images x of the target domain (for monitors)."""
        return self.trainer.D(x)

    @classmethod
    def generate(cls, run, n: int, seed: int = 0, batch_size: int = 64, direction: str = "AtoB", **options) -> torch.Tensor:
        """Translations of the run's first n test images (cycled) of the source domain of `direction`."""
        if options:
            raise ConfigError(f"the {cls.name} algorithm's generate takes direction=AtoB|BtoA only; got {', '.join(options)}")
        data = cls.load_translation(run.config, cls.parse_params(run.config))
        source = data.test_a if direction == "AtoB" else data.test_b
        return translate_in_chunks(cls.translator(run.nets, direction), test_images(source, n), batch_size)

    # Evaluation (metrics/translation.py): the same cards for `ganforge eval` (evaluate_run) and in-training
    # evaluation (prepare_evaluation once, score_translation on each evaluation tick).

    @classmethod
    def domain_sources(cls, cfg, params) -> dict:
        """{"A": dataset or folder, "B": ...} behind each domain: what picks the target's evaluator."""
        return {}

    @classmethod
    def known_answers(cls, cfg, data, n: int) -> dict:
        """{direction: the right answers of the first n test images of its source domain}, where known."""
        return {}

    @classmethod
    def prepare_evaluation(cls, cfg, n: int, evaluator: str = "auto", inception_weights=None, cache_dir=None,
                           device="cpu", metrics=None) -> list:  # fmt: skip
        from ..metrics.translation import check_families, prepare_translation

        families = check_families(metrics)
        params = cls.parse_params(cfg)
        data = cls.load_translation(cfg, params)
        return prepare_translation(data, cls.directions, n, cls.domain_sources(cfg, params), cls.known_answers(cfg, data, n),
                                   families, evaluator, inception_weights, cache_dir, cfg.data_root, device)  # fmt: skip

    @staticmethod
    def _translator_fns(table: dict) -> dict:
        return {d: functools.partial(translate_in_chunks, net) for d, net in table.items()}

    def score_translation(self, refs: list, seed: int = 0, metrics=None) -> list:
        """The evaluation cards of the networks as they are now (eval mode; training state untouched)."""
        from ..metrics.translation import check_families, keep_families, score_translation

        cards = score_translation(self._translator_fns(self.translators(self.trainer.nets)), refs, seed)
        return keep_families(cards, check_families(metrics))

    @classmethod
    def evaluate_run(cls, run, n: int = 1000, seed: int = 0, evaluator: str = "auto", inception_weights=None,
                     cache_dir=None, device="cpu", metrics=None) -> tuple[list, str]:  # fmt: skip
        """`ganforge eval` of a translation run: (ProtocolCards, what evaluated the target domains)."""
        from ..metrics.translation import check_families, evaluator_note, keep_families, score_translation

        refs = cls.prepare_evaluation(run.config, n, evaluator, inception_weights, cache_dir, device, metrics)
        cards = score_translation(cls._translator_fns(cls.translators(run.nets)), refs, seed)
        return keep_families(cards, check_families(metrics)), evaluator_note(refs)
