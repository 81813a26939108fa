"""`ganforge saliency RUN IMAGE [IMAGE ...] -o OUT.png`: which pixels a trained network's score hangs on.

Simonyan et al. 2013: |d score / d pixel|, max over channels, drawn under each image. For a classifier
run the score is the logit of the predicted class (or --target); for a GAN run it is the discriminator's
logit, i.e. "what makes D call this real".
"""
from __future__ import annotations

import argparse

import torch

from ..errors import ConfigError

EPILOG = """\
images: files, or bundled names that work offline: astronaut, chelsea, coffee, rocket,
motorcycle_left, brick, grass, gravel. Each is converted to the network's channels and scaled and
centre-cropped to its training resolution. Examples:
  ganforge saliency runs/00003-classifier-mnist5k digit7.png digit1.png -o saliency.png
  ganforge saliency runs/00001-dcgan-mnist5k digit7.png -o what-D-likes.png
"""


def register(sub) -> None:
    p = sub.add_parser(
        "saliency",
        help="saliency maps of a trained classifier or GAN discriminator",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN", help="a classifier run folder, or a GAN run folder (its discriminator)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--out", required=True, help="output PNG: images on top, saliency maps below")
    p.add_argument("--target", type=int, default=None, help="class to explain (default: each image's predicted class)")
    p.add_argument("--class", dest="class_", type=int, metavar="K",
                   help="a class-conditional discriminator (concat, projection): the class it judges the images as")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.set_defaults(func=run)


def load_images(paths: list[str], channels: int, resolution: int) -> torch.Tensor:
    """(N, C, R, R) in [0, 1]: each image's short side scaled to R, centre-cropped square."""
    from ..tools.image_io import center_crop, load_image, resize_short_side

    return torch.stack([center_crop(resize_short_side(load_image(p, channels), resolution), resolution, resolution) for p in paths])


def run(args) -> int:
    from ..tools.run_models import load_run_network
    from ..tools.saliency import draw_saliency, saliency_maps
    from ..devices import resolve_device

    device = resolve_device(args.device)
    net = load_run_network(args.run_dir, device=str(device), class_=args.class_)
    if args.target is not None and net.kind != "classifier":
        raise ConfigError("--target picks a class of a classifier; a discriminator has one score")
    images = load_images(args.images, net.channels, net.resolution)
    # ganforge networks take [-1, 1]; the gradient w.r.t. [0, 1] pixels is 2x that, the same map up to scale.
    result = saliency_maps(net.module, (images * 2 - 1).to(device), args.target)
    titles = []
    for i, path in enumerate(args.images):
        name = path if len(path) <= 18 else "..." + path[-15:]
        if result.targets is None:
            titles.append(f"{name}\nD logit {result.scores[i].item():.2f} (p real {result.probs[i].item():.2f})")
        else:
            k = int(result.targets[i])
            label = net.class_names[k] if net.class_names else str(k)
            titles.append(f"{name}\nclass {label} (p {result.probs[i].item():.2f})")
    draw_saliency(images, result.maps, titles, args.out)
    print(f"wrote {args.out}: saliency of {len(images)} image(s) under {net.description}")
    return 0
