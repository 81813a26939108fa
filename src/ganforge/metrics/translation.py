"""Numbers that say an image-to-image translation worked (CycleGAN, pix2pix).

Pure functions on image batches (N, C, H, W):

    l1_error(x, y)                  per-image mean |x - y|
    psnr(x, y, data_range)          per-image 10 log10(L^2 / MSE)
    ssim(x, y, data_range)          per-image SSIM (Wang, Bovik, Sheikh & Simoncelli 2004)
    label_preservation(pred, true)  share of translated images classified as their source's label

and the scoring of a run's translations (`prepare_translation` once, `score_translation` per checkpoint),
one ProtocolCard per number, for `ganforge eval` and in-training evaluation:

    cycle/AtoBtoA, cycle/BtoAtoB    mean |F(G(a)) - a| on the source domain's test images (pixels in [-1, 1])
    paired/AtoB/l1|psnr|ssim        against the known answer: pix2pix's test pairs, or the demo's styled(a);
                                    PSNR and SSIM on pixels mapped to [0, 1] (data range L = 1)
    fid/AtoB, kid/AtoB              translations against the *target* domain's test images, in the target
                                    domain's evaluator features (offline classifier or Inception-v3)
    labels/AtoB                     the target domain's classifier (which knows the classes as they look
                                    in the target domain) applied to G(a), compared with a's own label;
                                    needs both domains labelled with the same classes (the demo's digits)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .protocol import ProtocolCard

# SSIM constants of Wang et al. (2004), sec. III-C: 11x11 circular-symmetric Gaussian window with
# standard deviation 1.5 samples, K1 = 0.01, K2 = 0.03.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.dim() != 4:
        raise ConfigError(f"paired metrics need two (N, C, H, W) batches of one shape; got {tuple(x.shape)} and {tuple(y.shape)}")


def l1_error(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N,) mean absolute difference of each image pair."""
    _check_pair(x, y)
    return (x.double() - y.double()).abs().flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """(N,) peak signal-to-noise ratio 10 log10(L^2 / MSE) in dB; inf for identical images."""
    _check_pair(x, y)
    mse = (x.double() - y.double()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """(size,) normalized 1D Gaussian; the 2D window is its outer product (separable)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float, window: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA,
    k1: float = SSIM_K1, k2: float = SSIM_K2,
) -> torch.Tensor:  # fmt: skip
    """(N,) mean SSIM of each image pair (Wang et al. 2004, eq. 13, and its mean over windows, eq. 17).

    Local statistics are Gaussian-weighted (window x window, std sigma) means, variances and covariance,
    taken only where the window lies inside the image (no padding: the 'valid' region, as scikit-image's
    `structural_similarity(gaussian_weights=True, use_sample_covariance=False)` averages), per channel;
    the image's SSIM is the mean of the SSIM map over positions and channels.

        SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
        C1 = (k1 L)^2, C2 = (k2 L)^2, L = data_range.
    """
    _check_pair(x, y)
    n, c, h, w = x.shape
    if min(h, w) < window:
        raise ConfigError(f"SSIM's {window}x{window} window needs images of at least {window} px; got {h}x{w}")
    x, y = x.double(), y.double()
    g = gaussian_window(window, sigma).to(x.device)
    kernel_h, kernel_w = g.view(1, 1, window, 1).repeat(c, 1, 1, 1), g.view(1, 1, 1, window).repeat(c, 1, 1, 1)

    def blur(t):  # depthwise separable Gaussian, 'valid' region: (N, C, H - window + 1, W - window + 1)
        return F.conv2d(F.conv2d(t, kernel_h, groups=c), kernel_w, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


def label_preservation(predicted: torch.Tensor, source_labels: torch.Tensor) -> float:
    """Share of translated images whose predicted class is their source image's label."""
    if predicted.shape != source_labels.shape or predicted.dim() != 1:
        raise ConfigError(f"label preservation needs (N,) predictions and labels; got {tuple(predicted.shape)} and {tuple(source_labels.shape)}")
    return (predicted.cpu() == source_labels.cpu()).double().mean().item()


def _to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped: the range PSNR/SSIM are conventionally reported in (L = 1)."""
    return ((images.double() + 1) / 2).clamp(0, 1)


@dataclass
class DirectionReference:
    """What scoring one translation direction needs, prepared once."""

    direction: str  # "AtoB" or "BtoA"
    source: torch.Tensor  # (n, C, S, S) test images of the source domain in [-1, 1]
    source_labels: torch.Tensor | None = None  # (n,) their classes when the domain is labelled
    target: torch.Tensor | None = None  # (n, C, S, S) the known right answers (pairs), when there are any
    evaluator: object | None = None  # metrics.evaluator.Evaluator of the target domain (None: no FID/KID/labels)
    reference: object | None = None  # metrics.evaluate.Reference: the target domain's test features
    target_name: str = ""  # what the target domain is, for the card


def target_reference(evaluator, test: torch.Tensor, train: torch.Tensor | None, name: str):
    """metrics.evaluate.Reference of a target domain: its test images (and their evaluator features) as
    reference, its training images as the real-vs-real baseline of FID/KID."""
    from .evaluate import Reference
    from .features import extract

    ref = Reference("image", name, test, train if train is not None else test[:0])
    if evaluator is not None and evaluator.extractor is not None:
        ref.ref_features = extract(evaluator.extractor, test)[0]
        if train is not None and len(train):
            ref.train_features = extract(evaluator.extractor, train)[0]
    return ref


Translate = Callable[[torch.Tensor], torch.Tensor]


def score_translation(translators: dict[str, Translate], refs: list[DirectionReference], seed: int = 0) -> list[ProtocolCard]:
    """ProtocolCards for each prepared direction (see the module docstring).

    `translators` maps "AtoB"/"BtoA" to a function images -> images (eval mode, no grad); the cycle
    of a direction is scored when the opposite direction is there too.
    """
    from .evaluate import score

    opposite = {"AtoB": "BtoA", "BtoA": "AtoB"}
    cards: list[ProtocolCard] = []
    for r in refs:
        d, n = r.direction, len(r.source)
        fake = translators[d](r.source)
        back = opposite[d]
        if back in translators:
            rec = translators[back](fake)
            cards.append(ProtocolCard(f"cycle/{d}to{back[-1]}", l1_error(rec, r.source).mean().item(), n, ref_split="test",
                                      extra={"what": f"mean |{back}({d}(x)) - x| over test images of the source domain, pixels in [-1, 1]"}))  # fmt: skip
        if r.target is not None:
            what = f"{d}(x) against its known answer ({r.target_name})"
            fake_u, target_u = _to_unit(fake), _to_unit(r.target)
            cards.append(ProtocolCard(f"paired/{d}/l1", l1_error(fake, r.target).mean().item(), n, n, "test",
                                      extra={"what": what + ", mean |.| with pixels in [-1, 1]"}))  # fmt: skip
            cards.append(ProtocolCard(f"paired/{d}/psnr", psnr(fake_u, target_u, 1.0).mean().item(), n, n, "test",
                                      extra={"what": what + ", mean over images of PSNR in dB, pixels in [0, 1]"}))  # fmt: skip
            if min(fake.shape[-2:]) >= SSIM_WINDOW:
                cards.append(ProtocolCard(f"paired/{d}/ssim", ssim(fake_u, target_u, 1.0).mean().item(), n, n, "test",
                                          extra={"what": what + ", mean SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5), pixels in [0, 1]"}))  # fmt: skip
            else:
                cards[-1].warnings.append(f"no SSIM: its {SSIM_WINDOW}x{SSIM_WINDOW} window needs images of at least {SSIM_WINDOW} px")
        ev = r.evaluator
        if ev is None:
            continue
        if ev.extractor is not None and r.reference is not None:
            for card in score(fake, r.reference, ev, ["fid", "kid"], seed=seed):
                card.metric = f"{card.metric}/{d}"
                card.extra["what"] = f"{d} translations against the test images of {r.target_name}"
                cards.append(card)
        if ev.labels is not None and r.source_labels is not None:
            predicted = torch.cat([ev.labels(chunk) for chunk in fake.split(256)])
            cards.append(ProtocolCard(f"labels/{d}", label_preservation(predicted, r.source_labels), n, ref_split="test",
                                      extractor=getattr(ev.extractor, "name", None), seed=seed,
                                      extra={"what": f"share of {d}(x) that {r.target_name}'s classifier gives x's label",
                                             "chance": 1 / ev.num_classes if ev.num_classes else math.nan}))  # fmt: skip
    return cards


FAMILIES = ("cycle", "paired", "fid", "kid", "labels")  # what --metrics / eval_metrics may pick for translation runs
LOWER_IS_BETTER = ("cycle/", "fid/", "kid/", "/l1")


def higher_is_better(metric: str) -> bool:
    """For best_metric: PSNR, SSIM and label preservation rise with quality; errors, FID and KID fall."""
    return not any(part in metric for part in LOWER_IS_BETTER)


def check_families(names: list[str] | None) -> tuple[str, ...]:
    """The card families asked for (all when none); unknown ones are a ConfigError naming the valid ones."""
    if not names:
        return FAMILIES
    bad = [n for n in names if n not in FAMILIES]
    if bad:
        raise ConfigError(f"translation runs are scored by {', '.join(FAMILIES)}; unknown: {', '.join(bad)}")
    return tuple(names)


def prepare_translation(
    data, directions: tuple[str, ...], n: int, sources: dict[str, str | None], known: dict[str, torch.Tensor],
    families: tuple[str, ...] = FAMILIES, evaluator: str = "auto", inception_weights: str | None = None,
    cache_dir: str | None = None, data_root: str | None = None, device="cpu",
) -> list[DirectionReference]:  # fmt: skip
    """A DirectionReference per direction of a data.unpaired.TranslationData.

    `sources` names the dataset or folder behind domains "A" and "B" (what picks the target's
    evaluator; None: no evaluator), `known` maps a direction to the right answers of its first n test
    images (pix2pix's pairs, the demo's styled digits)."""
    from ..data.domains import resize_uint8, to_float
    from .evaluator import resolve_evaluator

    refs = []
    wants_evaluator = bool({"fid", "kid", "labels"} & set(families)) and evaluator != "none"
    for d in directions:
        src, tgt = (data.test_a, data.test_b) if d == "AtoB" else (data.test_b, data.test_a)
        target_train = data.train_b if d == "AtoB" else data.train_a
        m = min(n, len(src))
        labelled = src.num_classes > 0 and bool((src.labels[:m] >= 0).all())
        r = DirectionReference(d, to_float(src.images[:m]), src.labels[:m].clone() if labelled else None,
                               known.get(d) if "paired" in families else None, target_name=tgt.name)  # fmt: skip
        name = sources.get(d[-1])
        if wants_evaluator and name is not None:
            ev = resolve_evaluator(name, "image", tgt.num_classes, evaluator, inception_weights, cache_dir, data_root, device)
            if ev.extractor is not None or ev.labels is not None:
                r.evaluator = ev
            if ev.extractor is not None and {"fid", "kid"} & set(families):
                train = to_float(resize_uint8(target_train.images[: len(tgt)], data.size))
                r.reference = target_reference(ev, to_float(tgt.images[:n]), train, tgt.name)
            if "labels" not in families or not ev.num_classes or ev.num_classes != src.num_classes:
                r.source_labels = None  # no classifier of the source's classes in the target domain
        elif not wants_evaluator or "labels" not in families:
            r.source_labels = None
        refs.append(r)
    return refs


def evaluator_note(refs: list[DirectionReference]) -> str:
    notes = [f"{r.direction}: {r.evaluator.note}" for r in refs if r.evaluator is not None]
    return "; ".join(notes) or "no evaluator of the target domains (cycle and paired errors only; --inception-weights PATH for FID/KID)"


def keep_families(cards: list[ProtocolCard], families: tuple[str, ...]) -> list[ProtocolCard]:
    return [c for c in cards if c.metric.split("/")[0] in families]


def expected_metrics(refs: list[DirectionReference], directions: tuple[str, ...], families=None) -> list[str]:
    """The card names score_translation will give for these references (for checking a best_metric)."""
    names = []
    for r in refs:
        d = r.direction
        back = "BtoA" if d == "AtoB" else "AtoB"
        if back in directions:
            names.append(f"cycle/{d}to{back[-1]}")
        if r.target is not None:
            names += [f"paired/{d}/{m}" for m in ("l1", "psnr", "ssim")[: 3 if min(r.target.shape[-2:]) >= SSIM_WINDOW else 2]]
        if r.reference is not None:
            names += [f"fid/{d}", f"kid/{d}"]
        if r.evaluator is not None and r.evaluator.labels is not None and r.source_labels is not None:
            names.append(f"labels/{d}")
    keep = check_families(families)
    return [n for n in names if n.split("/")[0] in keep]
