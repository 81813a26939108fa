"""`ganforge stylize CONTENT [CONTENT ...] STYLE -o OUT.png`: neural style transfer (Gatys et al. 2015).

Also texture synthesis (`--style-only TEXTURE`) and content reconstruction (`--content-only CONTENT`),
the paper's two experiments, and a batch of content images at once (all but the last image).
"""
from __future__ import annotations

import argparse
import os

import torch

from ..errors import ConfigError, DataError
from ..devices import resolve_device

EPILOG = """\
images: files, or bundled names that work offline: astronaut, chelsea, coffee, rocket,
motorcycle_left (photos), brick, grass, gravel (textures).
network: vgg19 / vgg16 with torchvision's ImageNet weights (downloaded once; offline, pass the file
with --weights PATH), or a ganforge run folder: its classifier, or a GAN run's discriminator. Layers
default to the one just before each downsampling step (VGG: before each max-pool); --list-layers
shows them. Examples:
  ganforge stylize chelsea style.jpg -o cat.png
  ganforge stylize --style-only brick -o brick-texture.png --random-weights --size 128
  ganforge stylize --content-only astronaut -o recon.png --content-layer relu3_4
"""


def register(sub) -> None:
    p = sub.add_parser(
        "stylize",
        help="neural style transfer, texture synthesis, content reconstruction",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="CONTENT [CONTENT ...] STYLE (see --style-only, --content-only)")
    p.add_argument("-o", "--out", default=None, help="output PNG (a batch is one row of images)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--style-only", action="store_true", help="texture synthesis: match the one image's style from noise")
    mode.add_argument("--content-only", action="store_true", help="reconstruct the content image(s) from one layer")
    p.add_argument("--size", type=int, default=288, help="short side of the content image, in pixels (default 288)")
    p.add_argument("--network", default="vgg19", help="vgg19 (default), vgg16, or a ganforge run folder")
    p.add_argument("--weights", default=None, metavar="PATH", help="a local VGG state dict (e.g. torchvision's vgg19-dcbb9e9d.pth)")
    p.add_argument("--random-weights", action="store_true", help="an untrained VGG: tests the maths and makes textures, not art")
    p.add_argument("--content-layer", default=None, help="layer whose activations carry content (default: end of block 4)")
    p.add_argument("--style-layers", default=None, help="comma-separated layers for the Gram matrices (default: before each pool)")
    p.add_argument("--list-layers", action="store_true", help="print the network's layers and defaults, then exit")
    p.add_argument("--content-weight", type=float, default=1.0, help=">= 0 (default 1)")
    p.add_argument("--style-weight", type=float, default=1e6, help=">= 0, relative to --content-weight (default 1e6)")
    p.add_argument("--steps", type=int, default=300, help="optimiser iterations (default 300)")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    p.add_argument("--lr", type=float, default=None, help="default: 1 for L-BFGS, 0.02 for Adam")
    p.add_argument("--init", choices=["noise", "content"], default="noise", help="start from median-filtered noise or the content")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=0, metavar="K", help="also write OUT-stepK.png every K steps")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def build_feature_net(network: str, weights: str | None, random_weights: bool, device: torch.device):
    """The FeatureNet named by --network / --weights / --random-weights."""
    from ..tools.feature_nets import VGG_ARCHS, module_feature_net, vgg_feature_net

    if network in VGG_ARCHS:
        if weights and random_weights:
            raise ConfigError("--weights and --random-weights contradict each other; give one")
        return vgg_feature_net(network, None if random_weights else (weights or "default")).to(device)
    if weights or random_weights:
        raise ConfigError("--weights and --random-weights apply to vgg16/vgg19; a run folder brings its own weights")
    if not os.path.isdir(network):
        raise ConfigError(f"unknown network '{network}'; valid: {', '.join(VGG_ARCHS)}, or a ganforge run folder")
    from ..tools.run_models import load_run_network

    loaded = load_run_network(network, device=str(device))
    return module_feature_net(loaded.module, loaded.channels, loaded.resolution, loaded.description)


def _load_batch(paths: list[str], size: int, channels: int) -> torch.Tensor:
    """Images scaled so the short side is `size`; a batch is centre-cropped to its smallest common size."""
    from ..tools.image_io import center_crop, load_image, resize_short_side

    images = [resize_short_side(load_image(p, channels), size) for p in paths]
    h, w = min(i.shape[-2] for i in images), min(i.shape[-1] for i in images)
    return torch.stack([center_crop(i, h, w) for i in images])


def _save(images: torch.Tensor, path: str) -> None:
    from torchvision.utils import save_image

    save_image(images, path, nrow=len(images), padding=0 if len(images) == 1 else 2)


def run(args) -> int:
    from ..tools.feature_nets import VGG_ARCHS
    from ..tools.image_io import check_image_name
    from ..tools.stylize import check_weights, stylize

    # Check the arguments and that the images exist before building (or downloading) a network.
    n_images = len(args.images)
    if not args.list_layers:
        if args.style_only and n_images != 1:
            raise ConfigError(f"--style-only takes one image (the texture), got {n_images}")
        if args.content_only and n_images < 1:
            raise ConfigError("--content-only takes one or more content images")
        if not (args.style_only or args.content_only) and n_images < 2:
            raise ConfigError("give CONTENT [CONTENT ...] STYLE (or --style-only TEXTURE / --content-only CONTENT)")
        if not args.out:
            raise ConfigError("say where to write the result with -o OUT.png")
        if args.size < 1:
            raise DataError(f"--size must be a positive number of pixels, got {args.size}")
        check_weights(**{"--content-weight": args.content_weight, "--style-weight": args.style_weight})
        for name in args.images:
            check_image_name(name)

    device = resolve_device(args.device)
    # Listing layers needs no pretrained weights: the names are the architecture's.
    random_weights = args.random_weights or (args.list_layers and not args.weights and args.network in VGG_ARCHS)
    feature_net = build_feature_net(args.network, args.weights, random_weights, device)
    if args.list_layers:
        print(f"{feature_net.description}\nlayers: {', '.join(feature_net.layer_names())}")
        print(f"default style layers: {', '.join(feature_net.style_layers)}\ndefault content layer: {feature_net.content_layer}")
        return 0

    style_layers = [s.strip() for s in args.style_layers.split(",") if s.strip()] if args.style_layers else None

    channels = feature_net.channels
    content_paths = [] if args.style_only else (args.images if args.content_only else args.images[:-1])
    content = _load_batch(content_paths, args.size, channels) if content_paths else None
    style = None
    if not args.content_only:
        # Texture synthesis keeps the texture at --size; transfer scales the style to each content image.
        style = _load_batch(args.images[-1:], args.size, channels)

    stem, ext = os.path.splitext(args.out)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    result = stylize(
        feature_net,
        content,
        style,
        content_layer=args.content_layer,
        style_layers=style_layers,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        steps=args.steps,
        optimizer=args.optimizer,
        lr=args.lr,
        init=args.init,
        seed=args.seed,
        every=args.save_every,
        on_image=lambda step, images: _save(images, f"{stem}-step{step:05d}{ext or '.png'}"),
        progress=not args.quiet,
    )
    _save(result.images, args.out)
    first, final = result.history[0], result.final
    print(
        f"wrote {args.out} ({result.images.shape[-1]}x{result.images.shape[-2]}, {feature_net.description}); "
        f"loss {first['objective']:.4g} -> {final['objective']:.4g} (content {final['content']:.4g}, "
        f"style {final['style']:.4g}) in {result.iterations} steps ({result.evaluations} evaluations), "
        f"{result.seconds_per_step:.2f} s/step"
    )
    return 0
