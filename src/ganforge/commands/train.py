"""`ganforge train`: train a preset on a dataset (the default: the mnist-demo preset on bundled MNIST, CPU minutes).

`--nproc K` starts K processes through torchrun (DistributedDataParallel, ganforge.runtime.distributed):
the same command under `python -m torch.distributed.run --standalone --nproc_per_node K -m ganforge`.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from .. import config as config_mod
from ..errors import ConfigError
from ..presets import DEFAULT_PRESET, resolve_config
from ..stored import from_stored
from ..monitors.seeing import SeeingMonitor, seeing_monitors
from ..runs import DEFAULT_RUNS_ROOT, prepare_resume, resume, train
from ..runtime.distributed import World, env_world


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help=f"train a GAN preset (no arguments: {DEFAULT_PRESET} on bundled MNIST)",
        description="Train a preset. Extra key=value arguments override any config key "
        "(e.g. opt_d.lr=1e-4 model.g.width=32 loss=hinge); see --dry-run for all keys.",
    )
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--preset", help=f"preset name or YAML file (default {DEFAULT_PRESET}; see `ganforge presets`)")
    p.add_argument("--data", help="dataset name (`ganforge datasets`) or an image folder")
    p.add_argument("--data-a", metavar="DIR_OR_NAME", help="translation (cyclegan): domain A, a folder or dataset (same as --data)")
    p.add_argument("--data-b", metavar="DIR_OR_NAME", help="translation (cyclegan): domain B, a folder or dataset (config algo.data_b)")
    p.add_argument("--data-root", help="where torchvision datasets are, or the photo for single-image")
    p.add_argument("--image-size", type=int, help="resize images to this square size")
    p.add_argument("--steps", type=int, help="generator steps to train (in total, when resuming)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--out", help=f"run folder to create (default {DEFAULT_RUNS_ROOT}/NNNNN-preset-data); never overwritten")
    p.add_argument("--runs-root", default=DEFAULT_RUNS_ROOT, help="where numbered run folders go")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its latest checkpoint")
    p.add_argument("--dry-run", action="store_true", help="check everything a run would (config, data, networks), print the resolved "
                   "config and what the run would cost on this machine (a few timed steps), and exit")
    p.add_argument("--threads", type=int, help="torch CPU threads (config threads; 0: torch's default, fewer while other programs keep the cores busy)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=None, help="TensorBoard events in RUN/tensorboard (default: on when the tensorboard package is installed)")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16", "auto"),
                   help="autocast precision (config precision; fp16 needs CUDA; auto: bf16 where the device computes it natively)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None, help="NHWC memory layout (config channels_last)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile G and D (config compile)")
    p.add_argument("--report-every", type=int, metavar="STEPS", help="rewrite RUN/report.html every STEPS steps and at the end (config report_every)")
    p.add_argument("--nproc", type=int, metavar="K", help="train with K processes on this machine (DistributedDataParallel through torchrun: one GPU each, or CPU processes with gloo); --batch-size stays the global batch")
    p.set_defaults(func=run)


def _flag_overrides(args: argparse.Namespace) -> list[dict]:
    flags = {
        "data": args.data, "data_root": args.data_root, "image_size": args.image_size, "steps": args.steps,
        "batch_size": args.batch_size, "seed": args.seed, "device": args.device,
        "tensorboard": args.tensorboard, "report_every": args.report_every, "threads": args.threads,
        "precision": args.precision, "channels_last": args.channels_last, "compile": args.compile,
    }  # fmt: skip
    if getattr(args, "data_a", None) is not None:
        if args.data is not None and args.data != args.data_a:
            raise ConfigError("give domain A once: --data or --data-a")
        flags["data"] = args.data_a
    out = {k: v for k, v in flags.items() if v is not None}
    if getattr(args, "data_b", None) is not None:  # the translation algorithm's second domain
        out["algo"] = {"data_b": args.data_b}
    return [out]


# What a resume takes from the run itself: options naming another would be silently ignored.
RESUME_IGNORES = {"preset": "--preset", "out": "--out", "runs_root": "--runs-root"}


def run(args: argparse.Namespace) -> int:
    overrides = [config_mod.parse_override(o) for o in args.overrides] + _flag_overrides(args)
    if args.resume:
        given = [flag for key, flag in RESUME_IGNORES.items() if getattr(args, key) not in (None, DEFAULT_RUNS_ROOT)]
        if given:
            raise ConfigError(f"--resume continues {args.resume} with its own preset and folder; {', '.join(given)} would be "
                              "ignored: drop it, or start a new run without --resume")  # fmt: skip
    preset = args.preset or DEFAULT_PRESET
    if args.nproc is not None and not args.dry_run:
        if args.nproc < 1:
            raise ConfigError(f"--nproc {args.nproc}: give at least 1 process")
        if args.nproc > 1:
            cfg = from_stored(_resumed_config(args.resume)) if args.resume else resolve_config(preset, overrides)
            return launch(args.argv, args.nproc, args.device or cfg.device, cfg.batch_size)
    if args.resume:
        if args.dry_run:
            cfg, state, _, _ = prepare_resume(args.resume, overrides)
            return dry_run(cfg, state)
        result = resume(args.resume, overrides, progress=not args.no_progress, monitors=[SeeingMonitor()])
    else:
        cfg = resolve_config(preset, overrides)
        if args.dry_run:
            return dry_run(cfg)
        result = train(cfg, out=args.out, runs_root=args.runs_root, progress=not args.no_progress, monitors=seeing_monitors(cfg))
    if env_world().is_main:
        print(f"run folder:   {result.run_dir}")
        print(f"final grid:   {result.final_samples}")
        print(f"next:         ganforge eval {result.run_dir}")
        print(f"              ganforge report {result.run_dir}")
        print(f"              ganforge generate {result.run_dir} -n 64 -o grid.png")
    return 0


DRY_RUN_STEPS = 3  # at most this many timed training steps (after one untimed warm-up) behind the cost estimate
DRY_RUN_SECONDS = 1.0  # ...and no more once this long is spent (WGAN's boosted first steps take 100 critic updates)


def dry_run(cfg, state: dict | None = None) -> int:
    """Everything a run does short of training: the config checked key by key, the data resolved, the
    networks and optimizers built (and a resumed checkpoint loaded); then the config, and a cost
    estimate from a few real training steps on this machine. Nothing is written."""
    import time

    from ..presets import demo_of
    from ..runs import build_trainer
    from ..train.loop import format_duration

    if state is None:  # a resume's keys were checked by prepare_resume
        config_mod.check_evaluation_keys(cfg)
    trainer = build_trainer(cfg, resume_state=state, progress=False)
    print(config_mod.dump_yaml(cfg), end="")
    weights = ", ".join(f"{name} {sum(p.numel() for p in net.parameters()):,}" for name, net in trainer.nets.items())
    trainer.train_step()  # the first step pays for allocations and lazy set-up: not timed
    first_timed, start = trainer.step, time.perf_counter()
    while trainer.step - first_timed < DRY_RUN_STEPS and (trainer.step == first_timed or time.perf_counter() - start < DRY_RUN_SECONDS):
        trainer.train_step()
    elapsed = time.perf_counter() - start
    # The measured steps' cost per optimizer update, times the updates the rest of the run makes: the
    # first steps of a WGAN run are 20x the usual, so seconds-per-step alone would overstate it.
    per_update = elapsed / trainer.updates_between(first_timed, trainer.step)
    done = state["step"] if state else 0
    left = cfg.steps - done
    demo = demo_of(cfg.preset)
    hint = f"; `--preset {demo}` is its CPU-sized version" if demo else ""
    print(f"# dry run: {cfg.algorithm} on {trainer.data.name} ({len(trainer.data.dataset):,} items), weights {weights}")
    print(f"# cost: {elapsed / (trainer.step - first_timed):.3g} s a step here now: about "
          f"{format_duration(per_update * trainer.updates_between(done, cfg.steps))} for {left:,} steps{hint}")
    return 0


def _resumed_config(run_dir: str) -> dict:
    import yaml

    with open(os.path.join(run_dir, "config.yaml")) as f:
        return yaml.safe_load(f)


def launch(argv: list[str], nproc: int, device: str, batch_size: int) -> int:
    """Run this command again as `nproc` torchrun processes on this machine; their exit status.

    More processes than devices is an error, not a silent slowdown: on CUDA each process needs its own
    GPU; on CPUs each needs at least one core (each process gets cores / nproc torch threads)."""
    import torch

    if env_world().enabled:
        raise ConfigError("--nproc under torchrun: torchrun already started the processes; drop --nproc")
    World(0, nproc).local_slice(batch_size)  # the global batch must split evenly: say so before starting
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    have = torch.cuda.device_count() if cuda else os.cpu_count() or 1
    if nproc > have:
        what = f"{have} CUDA devices" if cuda else f"{have} CPU cores (device {device})"
        raise ConfigError(f"--nproc {nproc} asks for more processes than this machine has {what}; use --nproc {have} or fewer")
    words = [w for i, w in enumerate(argv) if not (w.startswith("--nproc=") or w == "--nproc" or (i and argv[i - 1] == "--nproc"))]
    env = dict(os.environ)
    if not cuda:  # share the cores: torchrun would otherwise give every process 1 thread
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    # torchrun, with a refusal ending as one `ganforge: error:` line and exit code 2 (runtime/torchrun.py)
    command = [sys.executable, "-m", "ganforge.runtime.torchrun", "--standalone", f"--nproc_per_node={nproc}", "-m", "ganforge", *words]
    return subprocess.call(command, env=env)
