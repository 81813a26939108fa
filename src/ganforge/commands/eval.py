"""`ganforge eval RUN_DIR`: score a run's generator; print a table, append the cards to metrics/.

`--ckpt all` (or START:END[:STEP]) scores each checkpoint the run kept, skipping those metrics.jsonl already
holds under the same protocol, so it can be re-run as training goes on; `--repeats K` scores K sample sets
and records their mean and spread. Afterwards each metric is drawn against the step (metric_curves.py).
"""
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
        "appended to RUN_DIR/metrics/metrics.jsonl with its protocol card; with two or more steps scored the "
        "same way, each metric is drawn against the step in RUN_DIR/metrics/curve-<metric>.png.",
    )  # fmt: skip
    p.add_argument("run_dir")
    p.add_argument("--metrics", help="comma-separated metric names (default: all the data and evaluator allow)")
    p.add_argument("-n", type=int, default=1000, help="generated samples (default 1000)")
    p.add_argument("--ckpt", default="latest", help="checkpoint: latest (default), best, a step number, or many: all, or "
                   "START:END[:STEP] (END included; each empty part open, e.g. 2000::1000). Many: those the run kept "
                   "in the range; a checkpoint already scored the same way is skipped")  # fmt: skip
    p.add_argument("--repeats", type=int, default=1, metavar="K",
                   help="score K sample sets (seeds SEED, SEED+1, ...) and record their mean and standard deviation")
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
    p.add_argument("--seed", type=int, default=0, help="seed of the generated samples (the first of --repeats seeds)")
    p.add_argument("--no-drs", dest="drs", action="store_false",
                   help="score G's own samples, where the run's config asks for discriminator rejection sampling "
                   "(drs_percentile); the cards say which (extra.sampling), and each way is a protocol of its own")  # fmt: skip
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics.evaluator import check_feature_options
    from ..metrics.features import check_resize_method
    from ..runs import is_selection, load_run, select_checkpoints
    from ..runtime.rundir import require_run_dir

    resize = check_resize_method(args.resize)  # bad values fail before the run is loaded
    check_feature_options(args.features, args.evaluator, args.inception_weights, args.features_weights)
    if args.repeats < 1:
        raise ConfigError(f"--repeats {args.repeats}: give 1 or more sample sets to score")
    if args.n < 1:
        raise ConfigError(f"-n {args.n}: give 1 or more samples to generate")
    require_run_dir(args.run_dir)
    if not os.path.isdir(os.path.join(args.run_dir, "checkpoints")):
        raise CheckpointError(f"{args.run_dir} has no checkpoints yet: nothing to score (train it first)")
    which = str(args.ckpt)
    many = is_selection(which)
    targets = select_checkpoints(args.run_dir, which) if many else [(None, which)]
    first = load_run(args.run_dir, targets[0][1], args.device)
    sampling = first.sampling(args.drs)  # None: G's own samples; --no-drs for a run without DRS is refused here
    if hasattr(first.algorithm, "evaluate_run"):  # image-to-image translation: its own cards (metrics/translation.py)
        return _translation(args, first)
    if many:
        kept = len(select_checkpoints(args.run_dir, "all"))
        print(f"--ckpt {which}: {len(targets)} of the {kept} checkpoints {args.run_dir} keeps "
              f"(steps {', '.join(str(s) for s, _ in targets)})")  # fmt: skip
    return _score_checkpoints(args, targets, first, many, resize, sampling)


def _translation(args: argparse.Namespace, run) -> int:
    from ..metrics.records import append_cards
    from ..runs import is_selection, latest_checkpoint

    if args.resize not in (None, "legacy-tensor"):
        raise ConfigError("--resize is not wired into translation scores yet; leave it out for this run")
    if args.features not in (None, "evaluator") or args.features_weights:
        raise ConfigError("--features is not wired into translation scores yet; leave it out for this run")
    if is_selection(str(args.ckpt)) or args.repeats > 1:
        raise ConfigError("--ckpt all / START:END and --repeats are not wired into translation scores yet; "
                          "score one checkpoint at a time (--ckpt STEP)")  # fmt: skip
    path = latest_checkpoint(args.run_dir, str(args.ckpt))
    families = args.metrics.split(",") if args.metrics else None
    cards, note = run.algorithm.evaluate_run(run, args.n, args.seed, args.evaluator, args.inception_weights,
                                             args.cache_dir, args.device, families)  # fmt: skip
    out = append_cards(args.run_dir, cards, run.step, "eval", os.path.basename(os.path.realpath(path)))
    print(format_table(cards, run.step, note))
    print(f"appended {len(cards)} lines to {out}")
    return 0


def _score_checkpoints(args: argparse.Namespace, targets: list, first, many: bool, resize, sampling: str | None) -> int:
    """Score each target checkpoint (skipping, when many, those scored the same way before), append the
    cards, then draw each metric's curve. `sampling`: how the samples are drawn (LoadedRun.sampling)."""
    from tqdm.auto import tqdm

    from ..data import get_dataset
    from ..metrics.evaluate import (
        check_metric_names,
        class_options,
        combine_repeats,
        default_metrics,
        expected_protocols,
        prepare_reference,
        score,
    )
    from ..metrics.evaluator import resolve_evaluator
    from ..metrics.records import append_cards, read_metrics, scored_with
    from ..report.metric_curves import write_run_curves
    from ..runs import generate, latest_checkpoint, load_run

    cfg = first.config
    conditional = bool(cfg.model.conditional_g)
    names = check_metric_names(args.metrics.split(","), conditional, "--metrics") if args.metrics else None  # before the data
    info = get_dataset(cfg.data, "test", cfg.image_size, cfg.channels, cfg.data_root, skip_bad_images=cfg.skip_bad_images)
    ev = resolve_evaluator(cfg.data, info.kind, info.num_classes, args.evaluator, args.inception_weights,
                           args.cache_dir, cfg.data_root, args.device, resize, features=args.features,
                           features_weights=args.features_weights, resolution=info.resolution)  # fmt: skip
    names = names or default_metrics(info.kind, ev, conditional)
    n_ref = args.n_ref or args.n
    n_train = cfg.data_limit or len(get_dataset(cfg.data, "train", cfg.image_size, cfg.channels, cfg.data_root).dataset) if "memorization" in names else None
    options = {} if args.drs else {"rejection": False}
    protocols = expected_protocols(names, info.kind, ev, args.n, min(n_ref, len(info.dataset)), n_train, args.seed,
                                   args.repeats, sampling)  # fmt: skip
    lines = read_metrics(args.run_dir)
    first_which = targets[0][1]  # the checkpoint `first` holds
    if many:
        done = [step for step, _ in targets if scored_with(lines, step, protocols)]
        if done:
            print(f"skipped {len(done)} already scored with this protocol (steps {', '.join(map(str, done))})")
        targets = [(step, name) for step, name in targets if step not in done]
        if not targets:
            print("nothing new to score")
    ref = prepare_reference(cfg.data, ev, names, cfg.image_size, cfg.channels, cfg.data_root, n_ref=n_ref,
                            data_limit=cfg.data_limit) if targets else None  # memorization: the images trained on
    # Class-conditional runs: the classes G is asked for, as `generate` draws them (None for an unconditional G).
    scoring = class_options(names, first.algorithm.latent_labels(cfg, first.num_classes, args.n))
    appended, out = 0, None
    for which in (name for _, name in targets):
        run = first if which == first_which else load_run(args.run_dir, which, args.device)
        path = latest_checkpoint(args.run_dir, which)
        # G's own samples of a rejection-sampled run get a picture of their own, so neither way's card
        # (extra.png) points at the other's pairs; the report shows the run's usual way.
        png = os.path.join(args.run_dir, "metrics", f"memorization-{run.step:07d}{'' if args.drs else '-no-drs'}.png")
        os.makedirs(os.path.dirname(png), exist_ok=True)
        per_seed = []
        for seed in range(args.seed, args.seed + args.repeats):
            # One stage, not a bar per batch: `generate` draws all n from one seed in one call (same seed, same
            # samples), so it cannot be split to report batches; the bar shows what runs and for how long.
            with tqdm(total=args.n, desc=f"sampling {args.n} from step {run.step} (seed {seed})", unit="img",
                      disable=None, leave=False) as bar:  # fmt: skip
                gen = generate(run, args.n, seed=seed, **options)
                bar.update(args.n)
            keep_png = "memorization" in names and seed == args.seed  # one picture: the first seed's pairs
            per_seed.append(score(gen, ref, ev, names, seed=seed, png_path=png if keep_png else None, options=scoring))
            if sampling:  # the samples are not G's own: say so on every card
                for card in per_seed[-1]:
                    card.extra["sampling"] = sampling
        cards = combine_repeats(per_seed)
        out = append_cards(args.run_dir, cards, run.step, "eval", os.path.basename(os.path.realpath(path)))
        appended += len(cards)
        print(format_table(cards, run.step, ev.note))
    if out:
        print(f"appended {appended} lines to {out}")
    for curve in write_run_curves(args.run_dir, read_metrics(args.run_dir), protocols):
        print(f"curve: {curve}")
    return 0


def format_table(cards: list, step: int, evaluator_note: str) -> str:
    """The scores as a table, then each card's warnings, then the protocol the scores share."""
    repeats = max((c.extra.get("repeats", 1) for c in cards), default=1)
    head = f"step {step}; evaluator: {evaluator_note}"
    if repeats > 1:
        seeds = cards[0].extra["repeat_seeds"]
        head += f"; each value the mean of {repeats} sample sets (seeds {seeds[0]}..{seeds[-1]}), ± their standard deviation"
    lines = [head, f"{'metric':<20}{'value':>12}{'n_gen':>8}{'n_ref':>8}  baseline / notes"]
    for c in cards:
        note = []
        if "real_vs_real" in c.extra:
            note.append(f"real-vs-real {c.extra['real_vs_real']:.4g} (n={c.extra['real_vs_real_n']})")
        if "repeat_std" in c.extra:  # the spread over seeds; a KID's or IS's own spread is the first seed's
            note.append(f"± {c.extra['repeat_std']:.2g} over {c.extra['repeats']} seeds")
        elif "std" in c.extra:
            note.append(f"± {c.extra['std']:.2g}")
        if c.metric == "memorization":
            note.append(f"real-vs-real baseline {c.extra['baseline_share']:.3f}; exact copies {c.extra['exact_copies']}")
            if "png" in c.extra:
                note.append(c.extra["png"])
        if c.metric == "conditional/fid":
            note.append(f"mean of {c.extra['classes_scored']} classes (each in the card's extra)")
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
    for sampling in sorted({c.extra["sampling"] for c in cards if "sampling" in c.extra}):
        lines.append(f"samples: {sampling} (drs_percentile)")
    for ex, sha, space, size, resize, split, seed in sorted(protos, key=str):
        lines.append(f"protocol: extractor {ex or '-'} (sha256 {sha[:16] + '…' if sha else '-'}), feature space "
                     f"{space or '-'}, input {f'{size}x{size}' if size else '-'}, resize {resize or '-'}, "
                     f"reference split {split}, seed {seed}")  # fmt: skip
    return "\n".join(lines)
