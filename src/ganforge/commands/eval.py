"""`ganforge eval RUN_DIR`: score a run's generator; print a table, append the cards to metrics/."""
from __future__ import annotations

import argparse
import os

from ..errors import CheckpointError, ConfigError
from ..metrics import list_metrics


def register(sub) -> None:
    from ..metrics.evaluator import FEATURE_SPACES

    names = ", ".join(n for n, _ in list_metrics())
    p = sub.add_parser(
        "eval", help="score a GAN run (FID, KID, IS, precision/recall, density/coverage, modes, memorization)",
        description=f"Score a run's generator against held-out real data. Metrics: {names}. Each score is "
        "appended to RUN_DIR/metrics/metrics.jsonl with its protocol card.",
    )  # fmt: skip
    p.add_argument("run_dir")
    p.add_argument("--metrics", help="comma-separated metric names (default: all the data and evaluator allow)")
    p.add_argument("-n", type=int, default=1000, help="generated samples (default 1000)")
    p.add_argument("--ckpt", default="latest", help="checkpoint: latest (default), best, or a step number")
    p.add_argument("--evaluator", default="auto", help="auto, offline, inception, none, or a classifier run folder")
    p.add_argument("--inception-weights", metavar="PATH", help="local Inception-v3 weights (pt_inception-2015-12-05)")
    # Checked by the library (check_feature_options), as --resize is, for one error line.
    p.add_argument("--features", metavar="SPACE", help=f"feature space of FID/KID/PR/DC/memorization: "
                   f"{', '.join(FEATURE_SPACES)} (default: the evaluator's, as --evaluator picks it)")  # fmt: skip
    p.add_argument("--features-weights", metavar="PATH", help="local weights of the --features network "
                   "(e.g. dinov2_vits14_pretrain.pth, or a timm state dict)")  # fmt: skip
    # Checked by the library, not argparse `choices`, so a bad value is one `ganforge: error:` line.
    p.add_argument("--resize", metavar="METHOD", help="how images are resized for the evaluator network: "
                   "legacy-tensor (default; torch-fidelity's TF1 bilinear for Inception, antialiased bilinear for "
                   "the offline evaluator and DINOv2) or pil-bicubic (clean-fid's PIL bicubic on uint8 images)")  # fmt: skip
    p.add_argument("--cache-dir", help="where offline evaluators are cached (default $GANFORGE_CACHE or ~/.cache/ganforge)")
    p.add_argument("--n-ref", type=int, help="held-out real samples (default: as many as generated, at most the test split)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated samples")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..metrics.evaluate import check_metric_names, default_metrics, prepare_reference, score
    from ..metrics.evaluator import check_feature_options, resolve_evaluator
    from ..metrics.features import check_resize_method
    from ..metrics.records import append_cards
    from ..runs import generate, latest_checkpoint, load_run
    from ..runtime.rundir import require_run_dir

    resize = check_resize_method(args.resize)  # bad values fail before the run is loaded
    check_feature_options(args.features, args.evaluator, args.inception_weights, args.features_weights)
    require_run_dir(args.run_dir)
    if not os.path.isdir(os.path.join(args.run_dir, "checkpoints")):
        raise CheckpointError(f"{args.run_dir} has no checkpoints yet: nothing to score (train it first)")
    path = latest_checkpoint(args.run_dir, str(args.ckpt))
    run = load_run(args.run_dir, str(args.ckpt), args.device)
    if hasattr(run.algorithm, "evaluate_run"):  # image-to-image translation: its own cards (metrics/translation.py)
        if args.resize not in (None, "legacy-tensor"):
            raise ConfigError("--resize is not wired into translation scores yet; leave it out for this run")
        if args.features not in (None, "evaluator") or args.features_weights:
            raise ConfigError("--features is not wired into translation scores yet; leave it out for this run")
        families = args.metrics.split(",") if args.metrics else None
        cards, note = run.algorithm.evaluate_run(run, args.n, args.seed, args.evaluator, args.inception_weights,
                                                 args.cache_dir, args.device, families)  # fmt: skip
        out = append_cards(args.run_dir, cards, run.step, "eval", os.path.basename(os.path.realpath(path)))
        print(format_table(cards, run.step, note))
        print(f"appended {len(cards)} lines to {out}")
        return 0
    names = check_metric_names(args.metrics.split(",")) if args.metrics else None  # typos fail before the data
    cfg = run.config
    from ..data import get_dataset

    info = get_dataset(cfg.data, "test", cfg.image_size, cfg.channels, cfg.data_root, skip_bad_images=cfg.skip_bad_images)
    ev = resolve_evaluator(cfg.data, info.kind, info.num_classes, args.evaluator, args.inception_weights,
                           args.cache_dir, cfg.data_root, args.device, resize, features=args.features,
                           features_weights=args.features_weights, resolution=info.resolution)  # fmt: skip
    names = names or default_metrics(info.kind, ev)
    # Class-conditional runs: the classes G is asked for (as `generate` draws them) are scored too.
    classes = run.algorithm.latent_labels(cfg, run.num_classes, args.n) if cfg.model.conditional_g else None
    if classes is not None and not args.metrics and ev.num_classes and info.kind == "image":
        names = [*names, "conditional"]
    ref = prepare_reference(cfg.data, ev, names, cfg.image_size, cfg.channels, cfg.data_root, n_ref=args.n_ref or args.n)
    # One stage, not a bar per batch: `generate` draws all n from one seed in one call (same seed, same
    # samples), so it cannot be split to report batches; the bar shows what runs and for how long.
    with tqdm(total=args.n, desc=f"sampling {args.n} from step {run.step}", unit="img", disable=None, leave=False) as bar:
        gen = generate(run, args.n, seed=args.seed)
        bar.update(args.n)
    png = os.path.join(args.run_dir, "metrics", f"memorization-{run.step:07d}.png")
    os.makedirs(os.path.dirname(png), exist_ok=True)
    options = {"conditional": {"classes": classes}} if "conditional" in names else None
    cards = score(gen, ref, ev, names, seed=args.seed, png_path=png if "memorization" in names else None, options=options)
    out = append_cards(args.run_dir, cards, run.step, "eval", os.path.basename(os.path.realpath(path)))
    print(format_table(cards, run.step, ev.note))
    print(f"appended {len(cards)} lines to {out}")
    return 0


def format_table(cards: list, step: int, evaluator_note: str) -> str:
    """The scores as a table, then each card's warnings, then the protocol the scores share."""
    lines = [f"step {step}; evaluator: {evaluator_note}", f"{'metric':<20}{'value':>12}{'n_gen':>8}{'n_ref':>8}  baseline / notes"]
    for c in cards:
        note = []
        if "real_vs_real" in c.extra:
            note.append(f"real-vs-real {c.extra['real_vs_real']:.4g} (n={c.extra['real_vs_real_n']})")
        if "std" in c.extra:
            note.append(f"± {c.extra['std']:.2g}")
        if c.metric == "memorization":
            note.append(f"real-vs-real baseline {c.extra['baseline_share']:.3f}; exact copies {c.extra['exact_copies']}")
            if "png" in c.extra:
                note.append(c.extra["png"])
        if c.metric == "modes/covered":
            note.append(f"of {c.extra['num_modes']} (perfect generator: {c.extra['perfect_generator_modes_covered']:.1f})")
        if c.warnings:
            note.append(f"{len(c.warnings)} warning(s)")
        n_ref = "-" if c.n_ref is None else str(c.n_ref)
        lines.append(f"{c.metric:<20}{c.value:>12.5g}{c.n_gen:>8}{n_ref:>8}  {'; '.join(note)}")
    seen = set()
    for c in cards:
        for w in c.warnings:
            if w not in seen:
                seen.add(w)
                lines.append(f"  warning ({c.metric}): {w}")
    protos = {(c.extractor, c.extractor_weights_sha256, c.feature_space, c.input_size, c.resize, c.ref_split, c.seed)
              for c in cards}  # fmt: skip
    for ex, sha, space, size, resize, split, seed in sorted(protos, key=str):
        lines.append(f"protocol: extractor {ex or '-'} (sha256 {sha[:16] + '…' if sha else '-'}), feature space "
                     f"{space or '-'}, input {f'{size}x{size}' if size else '-'}, resize {resize or '-'}, "
                     f"reference split {split}, seed {seed}")  # fmt: skip
    return "\n".join(lines)
