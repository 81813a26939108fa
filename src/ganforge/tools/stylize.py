"""Neural style transfer (Gatys, Ecker & Bethge 2015, "A Neural Algorithm of Artistic Style").

The image x itself is optimised, pixels in [0, 1], through a frozen feature network phi:

    content loss  L_c = mean_ij (phi_c(x) - phi_c(content))^2                    (one layer c)
    Gram matrix   G_l(x) = F_l F_l^T / (C_l H_l W_l),  F_l = phi_l(x) as (C_l, H_l W_l)
    style loss    L_s = sum_l mean_ij (G_l(x) - G_l(style))^2                     (layers l)
    objective     loss_scale * (content_weight * L_c + style_weight * L_s)

minimised with L-BFGS (or Adam) from median-filtered noise (or the content image). Dropping the content
term synthesises a texture (style only); dropping the style term reconstructs the content image from
one layer's activations (content only) -- the two experiments of the paper's figure 1.

Why `loss_scale`: with the Gram matrix normalised by its element count, L_s of an ImageNet VGG is
~1e-7 and its pixel gradients ~1e-9. L-BFGS has absolute thresholds (stop when max|grad| <= 1e-7;
only keep a curvature pair when y.s > 1e-10), so unscaled it stops at once or degenerates into tiny
gradient steps. Multiplying the objective by 1e6 (the lesson's constant) keeps those numbers in range;
the minimiser is unchanged. The loss terms reported are the scaled, weighted ones that are optimised.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError, GanforgeError
from .feature_hooks import FeatureHooks
from .feature_nets import FeatureNet
from .image_io import cover_and_crop

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("noise", "content")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
LOSS_SCALE = 1e6


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) activations -> (N, C, C) Gram matrices F F^T / (C * H * W), one per image."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def _per_image_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Sum over the batch of each image's mean squared error: every image gets the gradient it would
    get alone, whatever the batch size. b may have batch size 1 (one target shared by all)."""
    return (a - b).pow(2).flatten(1).mean(1).sum()


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of activations (per image, summed over the batch)."""
    return _per_image_mse(features, target)


def style_loss(features: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean squared difference of Gram matrices (per image, summed over the batch)."""
    return sum(_per_image_mse(gram_matrix(features[name]), target) for name, target in target_grams.items())


def median_filtered_noise(shape: tuple[int, ...], seed: int, size: int = 8) -> torch.Tensor:
    """Uniform [0, 1] noise smoothed by a size x size median filter per channel: a start without the
    pixel-level high frequencies that the optimiser would otherwise spend its first steps removing."""
    from scipy.ndimage import median_filter

    noise = torch.rand(shape, generator=torch.Generator().manual_seed(seed)).numpy()
    return torch.from_numpy(median_filter(noise, size=(1, 1, size, size), mode="reflect"))


def check_weights(**weights: float) -> None:
    """Each loss weight must be a finite number >= 0: a negative weight turns minimising that loss into
    maximising it (the image runs away from the target), and NaN or inf poisons the objective.
    Names are given as the caller's user knows them (`style_weight=` here, `--style-weight` on the CLI)."""
    for name, value in weights.items():
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be >= 0, got {value:g}: it scales a loss that is minimised")


@dataclass
class StylizeResult:
    images: torch.Tensor  # (N, C, H, W) in [0, 1], on the CPU
    history: list[dict]  # per evaluation of the objective: objective, content, style; [0] is the start
    final: dict  # the same terms at the result
    iterations: int  # optimiser steps taken (L-BFGS may stop early once converged)
    evaluations: int  # forward + backward passes (L-BFGS's line search takes >= 1 per step)
    seconds: float  # wall time of the optimisation (not the targets)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / max(1, self.iterations)


def stylize(
    feature_net: FeatureNet,
    content: torch.Tensor | None = None,
    style: torch.Tensor | None = None,
    *,
    content_layer: str | None = None,
    style_layers: list[str] | None = None,
    content_weight: float = 1.0,
    style_weight: float = 1e6,
    steps: int = 300,
    optimizer: str = "lbfgs",
    lr: float | None = None,
    init: str = "noise",
    loss_scale: float = LOSS_SCALE,
    seed: int = 0,
    every: int = 0,
    on_image: Callable[[int, torch.Tensor], None] | None = None,
    progress: bool = True,
) -> StylizeResult:
    """Optimise images whose activations in `feature_net` match `content`'s and whose Gram matrices
    match `style`'s.

    content: (N, C, H, W) in [0, 1], or None for texture synthesis (the output takes the style's size).
    style: (1, C, Hs, Ws) in [0, 1], scaled to cover each content image and centre-cropped to its size;
        None reconstructs the content from `content_layer` alone.
    Layers default to the network's (`feature_net.style_layers`, `feature_net.content_layer`).
    `on_image(step, images)` is called every `every` steps (0 = never) with the current images.
    Device: that of `feature_net.net`'s parameters.
    """
    if content is None and style is None:
        raise ConfigError("give a content image, a style image, or both")
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer '{optimizer}'; valid: {', '.join(OPTIMIZERS)}")
    if init not in INITS:
        raise ConfigError(f"unknown init '{init}'; valid: {', '.join(INITS)}")
    if init == "content" and content is None:
        raise ConfigError("--init content needs a content image; texture synthesis starts from noise")
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    check_weights(content_weight=content_weight, style_weight=style_weight)
    content_layer = content_layer or feature_net.content_layer
    style_layers = list(style_layers or feature_net.style_layers)
    used = ([content_layer] if content is not None else []) + (style_layers if style is not None else [])
    feature_net.check_layers(used)

    device = next(iter(feature_net.net.parameters()), torch.empty(0)).device
    reference = content if content is not None else style
    n, _, height, width = reference.shape if content is not None else (1, *reference.shape[1:])
    for name, image in (("content", content), ("style", style)):
        if image is not None and image.shape[1] != feature_net.channels:
            raise DataError(f"the {name} image has {image.shape[1]} channels; {feature_net.description} wants {feature_net.channels}")
    feature_net.check_size(height, width, used)

    with FeatureHooks(feature_net.net, used) as hooks:

        def features(pixels: torch.Tensor) -> dict[str, torch.Tensor]:
            try:
                feats = hooks.run(feature_net.prepare(pixels))
            except RuntimeError as e:
                if "size" not in str(e).lower():
                    raise
                raise DataError(
                    f"image {height}x{width} is too small for layers {', '.join(used)} of {feature_net.description}; "
                    f"raise --size or choose shallower layers ({str(e).splitlines()[0]})"
                ) from None
            empty = [k for k, f in feats.items() if f.dim() == 4 and min(f.shape[-2:]) < 1]
            if empty:
                raise DataError(f"image {height}x{width} is too small for layers {', '.join(empty)}; raise --size")
            return feats

        with torch.no_grad():
            target_content = target_grams = None
            if content is not None:
                target_content = features(content.to(device))[content_layer]
            if style is not None:
                style_sized = cover_and_crop(style, height, width).to(device)
                style_feats = features(style_sized)
                target_grams = {name: gram_matrix(style_feats[name]) for name in style_layers}

        def objective(pixels: torch.Tensor) -> dict[str, torch.Tensor]:
            feats = features(pixels)
            zero = pixels.new_zeros(())
            terms = {
                "content": loss_scale * content_weight * content_loss(feats[content_layer], target_content)
                if target_content is not None
                else zero,
                "style": loss_scale * style_weight * style_loss(feats, target_grams) if target_grams is not None else zero,
            }
            terms["objective"] = terms["content"] + terms["style"]
            return terms

        start = content if init == "content" else median_filtered_noise((n, feature_net.channels, height, width), seed)
        pixels = start.detach().clone().to(device).requires_grad_(True)
        lr = DEFAULT_LR[optimizer] if lr is None else lr
        history: list[dict] = []
        bar = tqdm(total=steps, desc="stylize", unit="step", disable=not progress, leave=False)
        opt = None

        def closure() -> torch.Tensor:
            """One forward + backward at the current pixels; L-BFGS's line search may call it several
            times in one step, and every call is recorded in `history`."""
            opt.zero_grad(set_to_none=True)
            terms = objective(pixels)
            if not torch.isfinite(terms["objective"]):
                raise GanforgeError(
                    f"the loss became {terms['objective'].item()} after {bar.n} steps; "
                    "try --optimizer adam, a smaller --lr, or a smaller --style-weight"
                )
            terms["objective"].backward()
            history.append({k: v.item() for k, v in terms.items()})
            if optimizer == "lbfgs":
                bar.n = opt.state[pixels].get("n_iter", 0)
            last = history[-1]
            bar.set_postfix(loss=f"{last['objective']:.3g}", content=f"{last['content']:.3g}", style=f"{last['style']:.3g}")
            return terms["objective"]

        def show(step: int) -> None:
            if every and on_image is not None and step % every == 0:
                on_image(step, pixels.detach().clamp(0, 1).cpu())

        start_time = time.perf_counter()
        if optimizer == "lbfgs":
            opt = _lbfgs(pixels, lr, steps if not every else every)
            iterations = _run_lbfgs(opt, pixels, closure, steps, every, show)
        else:
            opt = torch.optim.Adam([pixels], lr=lr)
            for step in range(1, steps + 1):
                closure()
                opt.step()
                with torch.no_grad():  # Adam has no curvature pairs to break, so keep pixels displayable
                    pixels.clamp_(0, 1)
                bar.update(1)
                show(step)
            iterations = steps
        seconds = time.perf_counter() - start_time
        evaluations = len(history)
        bar.close()
        with torch.no_grad():
            final = {k: v.item() for k, v in objective(pixels).items()}
    # L-BFGS runs unclamped: clamping between iterations would invalidate its stored curvature pairs.
    # Pixels that strayed outside [0, 1] are clipped only for display.
    return StylizeResult(pixels.detach().clamp(0, 1).cpu(), history, final, iterations, evaluations, seconds)


def _lbfgs(pixels: torch.Tensor, lr: float, max_iter: int) -> torch.optim.LBFGS:
    """L-BFGS with a strong-Wolfe line search. Without one, the first steps overshoot: the objective is
    quartic in the pixels (Gram matrices are quadratic in the activations, then squared), so curvature
    measured by the tiny first step underestimates what lies further on; the step that follows explodes
    the loss and leaves a pair in the history that stalls every step after it."""
    return torch.optim.LBFGS(
        [pixels], lr=lr, max_iter=max_iter, max_eval=2 * max_iter, history_size=100, line_search_fn="strong_wolfe"
    )


def _run_lbfgs(opt: torch.optim.LBFGS, pixels: torch.Tensor, closure, steps: int, every: int, show) -> int:
    """Run `steps` L-BFGS iterations; returns how many ran (fewer when L-BFGS's tolerances say it has
    converged). One `opt.step` runs many iterations; it is called again only to stop at every `every`-th
    iteration for an intermediate image (each call re-evaluates its starting point once)."""
    done = 0
    while done < steps:
        chunk = min(steps - done, every - done % every if every else steps)
        opt.param_groups[0]["max_iter"], opt.param_groups[0]["max_eval"] = chunk, 2 * chunk
        opt.step(closure)
        now = opt.state[pixels].get("n_iter", 0)
        if now == done:  # no iteration was taken: converged
            break
        done = now
        show(done)
    return done
