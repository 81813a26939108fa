"""Offline proof that the style-transfer maths works, with no pretrained weights: texture synthesis and
content reconstruction (Gatys et al.'s two experiments) through a fixed, randomly initialised VGG.

1. Style only: synthesise a texture from a bundled texture (brick by default), from median-filtered
   noise. Printed: the Gram-matrix loss before and after (and the orders of magnitude it fell), and the
   Gram distance of the result to each bundled texture (brick, grass, gravel): it must be nearest the
   one it was synthesised from, by a wide margin.
2. Content only: reconstruct a bundled photo (chelsea) from one layer's activations. Printed: the
   pixel mean squared error and PSNR of the reconstruction against the photo, next to the noise start's.

Exit code 1 if a check fails. A random network is enough here: matching Gram statistics and inverting
activations are properties of the optimisation, not of ImageNet training (Ustyuzhaninov et al. 2017
synthesise textures with random shallow networks); photographic style transfer does need trained weights.

    python benchmarks/texture_synthesis.py                         # vgg16 random, 64 px, 100 steps
    python benchmarks/texture_synthesis.py --texture gravel --size 128 --out /tmp/tex
    python benchmarks/texture_synthesis.py --network runs/00003-classify-cnn-mnist5k   # a trained classifier
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

TEXTURES = ("brick", "grass", "gravel")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="vgg16", help="vgg16 / vgg19 (random unless --weights), or a run folder")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--texture", default="brick", choices=TEXTURES)
    parser.add_argument("--photo", default="chelsea")
    parser.add_argument("--content-layers", default=None, help="comma-separated; default: the first two default style layers")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="seeds the random network and the noise")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=None, help="folder for the images (texture, reconstructions)")
    args = parser.parse_args()

    import torch
    from torchvision.utils import save_image

    from ganforge.commands.stylize import build_feature_net, resolve_device
    from ganforge.tools.feature_hooks import capture
    from ganforge.tools.feature_nets import VGG_ARCHS
    from ganforge.tools.image_io import center_crop, load_image, resize_short_side
    from ganforge.tools.stylize import (
        gram_matrix,
        median_filtered_noise,
        style_loss,
        stylize,
    )

    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    random_weights = args.network in VGG_ARCHS and not args.weights
    fn = build_feature_net(args.network, args.weights, random_weights, device)
    print(f"{fn.description} on {device}; {args.size} px, {args.steps} L-BFGS steps; style layers {', '.join(fn.style_layers)}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if args.out:
        os.makedirs(args.out, exist_ok=True)

    def square(name: str) -> torch.Tensor:
        image = resize_short_side(load_image(name, fn.channels), args.size)
        return center_crop(image, args.size, args.size)[None]

    ok = True

    # 1. Texture synthesis -----------------------------------------------------------------------------
    textures = {name: square(name) for name in TEXTURES}
    t0 = time.perf_counter()
    result = stylize(fn, None, textures[args.texture], steps=args.steps, seed=args.seed, progress=False)
    seconds = time.perf_counter() - t0
    first, last = result.history[0]["style"], result.final["style"]
    orders = math.log10(first / last) if last > 0 else float("inf")
    print(f"\n1. texture synthesis from {args.texture} ({seconds:.0f} s, {result.seconds_per_step:.2f} s/step)")
    print(f"   Gram loss (scaled, as optimised): {first:.4g} -> {last:.4g}: {orders:.1f} orders of magnitude")

    def grams(image: torch.Tensor) -> dict:
        feats = capture(fn.net, fn.prepare(image.to(device)), fn.style_layers)
        return {k: gram_matrix(v) for k, v in feats.items()}

    with torch.no_grad():
        synth_feats = capture(fn.net, fn.prepare(result.images.to(device)), fn.style_layers)
        noise = median_filtered_noise(tuple(result.images.shape), args.seed).to(device)
        noise_feats = capture(fn.net, fn.prepare(noise), fn.style_layers)
        print("   Gram distance (sum over layers of the MSE of Gram matrices, unscaled) to each texture:")
        print(f"   {'':>10} {'synthesised':>12} {'noise start':>12} {args.texture + ' itself':>14}")
        distances = {}
        for name, image in textures.items():
            target = grams(image)
            distances[name] = style_loss(synth_feats, target).item()
            own = style_loss(capture(fn.net, fn.prepare(textures[args.texture].to(device)), fn.style_layers), target).item()
            print(f"   {name:>10} {distances[name]:>12.3e} {style_loss(noise_feats, target).item():>12.3e} {own:>14.3e}")
    others = [d for n, d in distances.items() if n != args.texture]
    margin = min(others) / max(distances[args.texture], 1e-30)
    passed = orders >= 2 and margin > 1
    ok &= passed
    print(f"   nearest texture: {min(distances, key=distances.get)}; the next is {margin:.3g}x farther "
          f"-> {'PASS' if passed else 'FAIL'} (wants >= 2 orders of magnitude and {args.texture} nearest)")
    if args.out:
        save_image(torch.cat([textures[args.texture], result.images]), os.path.join(args.out, f"texture-{args.texture}.png"), nrow=2)

    # 2. Content reconstruction ------------------------------------------------------------------------
    photo = square(args.photo)
    layers = args.content_layers.split(",") if args.content_layers else fn.style_layers[:2]
    start = median_filtered_noise(tuple(photo.shape), args.seed)
    start_mse = (start - photo).pow(2).mean().item()
    print(f"\n2. content reconstruction of {args.photo} (noise start: pixel MSE {start_mse:.4f}, PSNR {psnr(start_mse):.1f} dB)")
    recons = []
    for layer in layers:
        t0 = time.perf_counter()
        r = stylize(fn, photo, None, content_layer=layer, steps=args.steps, seed=args.seed, progress=False)
        mse = (r.images - photo).pow(2).mean().item()
        passed = mse < 0.25 * start_mse
        ok &= passed
        recons.append(r.images)
        print(f"   from {layer:>10}: content loss {r.history[0]['content']:.4g} -> {r.final['content']:.4g}; "
              f"pixel MSE {mse:.4f}, PSNR {psnr(mse):.1f} dB ({time.perf_counter() - t0:.0f} s) "
              f"-> {'PASS' if passed else 'FAIL'} (wants MSE < 1/4 of the noise start's)")
    if args.out:
        save_image(torch.cat([photo, *recons]), os.path.join(args.out, f"reconstruction-{args.photo}.png"), nrow=len(recons) + 1)
        print(f"\nimages in {args.out}")
    return 0 if ok else 1


def psnr(mse: float) -> float:
    return 10 * math.log10(1.0 / mse) if mse > 0 else float("inf")


if __name__ == "__main__":
    sys.exit(main())
