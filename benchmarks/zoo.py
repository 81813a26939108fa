"""The GAN zoo on one budget: each preset trains for the same CPU seconds on mnist5k at 32x32, then
the offline evaluator scores it (domain FID against the held-out digits, also at 32x32, digit classes
covered of 10, KL(gen || data) over classes).

With --data stacked-mnist the same runs train on Stacked MNIST (three digits as RGB, 1,000 modes) and
are scored PacGAN's way: 26,000 samples, each channel read by the mnist5k classifier, modes covered of
1,000 and KL to uniform. Ten classes saturate at 10/10 for every preset that draws digits at all;
1,000 modes still separate them.

The budget is *process CPU time* (time.process_time), not wall-clock: on a shared machine other work
stretches the wall clock but not this process's CPU seconds, so every preset gets the same compute.
With --threads 1 (the default) one CPU second is one second of one core. A preset's steps are whatever
it reaches in the budget: a 5-D-steps-per-G-step SNGAN makes fewer G steps than DCGAN, as it would on
any fixed budget. The budget is checked on every logging tick (--tick steps), so a run overshoots it
by at most one tick.

Each entry is PRESET or PRESET:key=value,key=value (config overrides for that preset, e.g.
sngan:model.g.width=32). The defaults shrink each preset's widths to a CPU scale (see DEFAULTS) and
set image_size=32 for all; an entry's overrides apply on top of them (sngan:n_critic=1 stays at width
8), and the table names both. The paper widths are in the presets.

    python benchmarks/zoo.py                       # dcgan-demo, sngan, sagan (+ zoo presets that exist)
    python benchmarks/zoo.py sngan sagan --cpu-seconds 120 --keep runs/zoo   # keep runs and final grids
    python benchmarks/zoo.py dcgan-demo pacgan-demo --data stacked-mnist --cpu-seconds 600

Each run's line also gives D's overfitting r_t = E[sign(D(x_real))] (ADA's heuristic, logged as ADA/r_t
with or without ADA, for losses with a decision boundary) from stats.jsonl, as its mean over windows of
steps that double in length ([0, 100), [100, 200), [200, 400), ...). With --memorization the generated
images are also checked for near-copies of the images the run trained on (at 32x32, with data_limit
applied: a run on 500 digits is compared with those 500), as the share of samples closer to a training
image than 1 % of held-out digits are. With --overfitting the final D's mean sign is also given on 500 of
the images it trained on, on the 500 held-out digits and on 500 generated ones: r_t on training images
rises whenever D wins, but a D that has memorised its training set also scores held-out digits as it
scores generated ones (the ADA paper's Fig. 1 b-c). The limited-data study of the ADA paper (Karras et
al. 2020), at one CPU budget:

    python benchmarks/zoo.py stylegan2-demo:data_limit=500 stylegan2-demo:data_limit=500,ada=true,ada_kimg=20 \
        stylegan2-demo:data_limit=4500 stylegan2-demo:data_limit=4500,ada=true,ada_kimg=20 --memorization --overfitting --cpu-seconds 1200

(ada_kimg=20: p may move 0 -> 1 over 20,000 images instead of the paper's 500,000, which a CPU run never shows D.)

With --conditional a class-conditional preset is also scored on the classes it was asked for (the
classes `ganforge generate` draws, row by row): conditional accuracy (the evaluator's class of each
sample vs the class asked, mean over classes) and per-class FID (intra-FID: each class's samples vs its
~50 held-out digits in the domain FID's feature space, mean over classes), beside its real-vs-real floor
(as many training digits of each class as G drew for it): with so few digits per class the floor, not 0,
is what a perfect G scores. BigGAN against the projection cGAN at one budget:

    python benchmarks/zoo.py biggan-demo cgan-projection --conditional --cpu-seconds 600
"""
from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time

# CPU-scale overrides per preset (all at 32x32). DCGAN's demo (width 32) is the baseline. The zoo's
# nets are cut until one G step costs at most a few DCGAN-demo steps (measured with one thread on this
# machine: dcgan-demo 0.25-0.27 CPU s per G step, sngan at width 8 with its 5 D steps 0.7-0.9, at width
# 16 1.8; sagan at width 16 0.9-1.0, at width 32 2.0); at the papers' widths they would make only a
# handful of steps in a CPU budget. Doubling a width roughly doubles the cost of a step here, so at a
# fixed budget a wider net trades half its steps for capacity; at 900 CPU s the widths below still
# reach about 1,000 G steps (sngan: about 5,000 D steps), where mnist5k digits form.
DEFAULTS = {
    "dcgan-demo": "",
    "sngan": "model.g.width=8,model.d.width=8",
    "sngan-resnet": "model.g.width=16,model.d.width=16",
    "sagan": "model.g.width=16,model.d.width=16",
}
DEFAULT_LIST = ["dcgan-demo", "sngan", "sagan"]
OTHER_ZOO = ["progan-demo"]  # other helpers' presets: benchmarked by default when they exist


class CPUBudget:
    """A monitor that ends training on the first logging tick after `seconds` of this process's CPU
    time: it lowers the run's step target to the step reached, so the loop finishes normally there
    (final sample grid and checkpoint; the saved config records the steps actually trained)."""

    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, 0.0

    def on_start(self, trainer) -> None:
        self.start = time.process_time()

    def on_tick(self, trainer, record: dict) -> None:
        if time.process_time() - self.start >= self.seconds:
            trainer.cfg.steps = trainer.step

    def on_end(self, trainer) -> None:
        pass


def with_defaults(entry: str) -> str:
    """PRESET[:overrides] -> PRESET:DEFAULTS[PRESET],overrides (the entry's own come last, so they win)."""
    name, _, rest = entry.partition(":")
    return ":".join([name, ",".join(filter(None, [DEFAULTS.get(name, ""), rest]))]).rstrip(":")


def parse_entry(entry: str) -> tuple[str, list[dict]]:
    from ganforge.config import parse_override

    name, _, rest = entry.partition(":")
    # Commas split overrides, except inside a list value (opt_d.betas=[0.5,0.999]).
    return name, [parse_override(kv) for kv in re.split(r",(?![^\[]*\])", rest) if kv.strip()]


def r_t_curve(run_dir: str, first: int = 100) -> list[tuple[int, int, float]]:
    """(start, end, mean ADA/r_t) over windows of logged steps that double in length: [0, first),
    [first, 2 first), [2 first, 4 first), ... A tick's r_t is one batch's mean sign, too noisy to read
    alone; doubling windows show both the first few hundred steps, where D learns to tell reals from
    G's images, and the long plateau after. [] when the run logged no r_t (a loss without a decision
    boundary)."""
    with open(os.path.join(run_dir, "stats.jsonl")) as f:
        ticks = [(r["step"], r["ADA/r_t"]) for r in map(json.loads, f) if "ADA/r_t" in r]
    curve, start, end = [], 0, first
    while ticks and start <= ticks[-1][0]:
        window = [v for step, v in ticks if start <= step < end]
        if window:
            curve.append((start, min(end, ticks[-1][0] + 1), sum(window) / len(window)))
        start, end = end, 2 * end
    return curve


def d_signs(run, images: dict, batch: int = 100) -> dict[str, float]:
    """E[sign(D(x) - boundary)] of the run's final D on each named set of images (the ADA paper's
    Fig. 1 b-c, as one number per set): D that has memorised its training images scores them near +1
    and held-out real images, like generated ones, lower. Unconditional Ds only (a conditional D would
    need each image's class); `batch` must suit D's minibatch-stddev groups."""
    import torch

    from ganforge.losses.adversarial import get_loss

    boundary = get_loss(run.config.loss).boundary
    with torch.no_grad():
        return {name: torch.cat([(run.D(x[i:i + batch]).flatten() - boundary).sign() for i in range(0, len(x), batch)]).mean().item()
                for name, x in images.items()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="PRESET or PRESET:key=value,... (default: dcgan-demo sngan sagan + progan-demo)")
    parser.add_argument("--cpu-seconds", type=float, default=900.0, help="training budget per preset, in process CPU seconds")
    parser.add_argument("--tick", type=int, default=10, help="steps between budget checks (the run's log_every)")
    parser.add_argument("--data", choices=["mnist5k", "stacked-mnist"], default="mnist5k")
    parser.add_argument("-n", type=int, help="generated samples scored (default 1,000 on mnist5k, whose FID compares them "
                        "with all 500 held-out digits; 26,000 on stacked-mnist, PacGAN's protocol)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", help="evaluator cache (default $GANFORGE_CACHE or ~/.cache/ganforge)")
    parser.add_argument("--keep", help="keep the runs in this folder (default: a temporary one)")
    parser.add_argument("--memorization", action="store_true", help="also score near-copies of each run's own training images")
    parser.add_argument("--overfitting", action="store_true", help="also give the final D's mean sign on 500 of its training "
                        "images, the 500 held-out digits and 500 generated ones (unconditional presets)")
    parser.add_argument("--conditional", action="store_true", help="class-conditional presets: also score conditional accuracy "
                        "and per-class FID (mean over classes, with its real-vs-real floor)")
    args = parser.parse_args()

    import torch

    import ganforge as gf
    from ganforge.metrics.evaluate import CLASS_METRICS, class_options, prepare_reference, score
    from ganforge.metrics.modes import PACGAN_STACKED_SAMPLES
    from ganforge.metrics.evaluator import load_offline_evaluator
    from ganforge.metrics.offline_evaluator import fit_evaluator

    torch.set_num_threads(args.threads)
    n_samples = args.n or (PACGAN_STACKED_SAMPLES if args.data == "stacked-mnist" else 1000)
    entries = args.presets or DEFAULT_LIST + [p for p in OTHER_ZOO if p in gf.list_presets()]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; budget {args.cpu_seconds:.0f} CPU s per preset, "
          f"{args.threads} thread(s); {args.data} at 32x32, scored on {n_samples} samples")  # fmt: skip
    fit_evaluator(args.data, args.cache_dir, progress=False)
    ev = load_offline_evaluator(args.data, args.cache_dir)
    n_modes = ev.num_classes  # 10 digits, or Stacked MNIST's 1,000 triples
    metrics = ["fid", "modes"]
    # Every held-out image at the runs' 32x32, as `ganforge eval` prepares it for a 32x32 run: against the
    # 28x28 originals, real training digits at 32x32 scored FID 1.98 where the printed real-vs-real was 0.72.
    ref = prepare_reference(args.data, ev, metrics, image_size=32)
    print(f"evaluator: {ev.note}")
    train_refs = {}  # data_limit -> the images runs with that limit trained on (memorization), at 32x32

    rows = []
    tmp = tempfile.TemporaryDirectory(prefix="zoo-")
    out_root = args.keep or tmp.name
    for i, entry in enumerate(map(with_defaults, entries)):
        name, overrides = parse_entry(entry)
        base = {"data": args.data, "image_size": 32, "threads": args.threads, "seed": args.seed, "steps": 10**9, "log_every": args.tick,
                "sample_every": 10**9, "ckpt_every": 10**9, "tensorboard": False}  # fmt: skip
        cfg = gf.resolve_config(name, [base, *overrides])
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = gf.train(cfg, out=os.path.join(out_root, f"{i}-{name}"),  # one preset may appear with several overrides
                          progress=False, monitors=[CPUBudget(args.cpu_seconds)])
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        run = gf.load_run(result.run_dir)
        gen = gf.generate(run, n_samples, seed=args.seed)
        scored, options = metrics, None
        if args.conditional and run.config.model.conditional_g:  # the classes generate asked G for, as `ganforge eval`
            classes = run.algorithm.latent_labels(run.config, run.num_classes, n_samples)
            scored, options = metrics + list(CLASS_METRICS), class_options(CLASS_METRICS, classes)
        cards = {c.metric: c for c in score(gen, ref, ev, scored, seed=args.seed, options=options)}
        memorized, signs, limit = None, None, run.config.data_limit
        if (args.memorization or args.overfitting) and limit not in train_refs:
            train_refs[limit] = prepare_reference(args.data, ev, ["memorization"], image_size=32, data_limit=limit)
        if args.memorization:
            memorized = score(gen, train_refs[limit], ev, ["memorization"], seed=args.seed)[0]
        if args.overfitting:
            signs = d_signs(run, {"training": train_refs[limit].train[:500], "held-out": train_refs[limit].ref[:500], "generated": gen[:500]})
        fid, r_t = cards["fid"], r_t_curve(result.run_dir)
        accuracy, class_fid = cards.get("conditional/accuracy"), cards.get("conditional/fid")
        rows.append((entry, run.step, cpu, wall, fid.value, fid.extra.get("real_vs_real"), cards["modes/covered"].value,
                     cards["modes/kl"].value, memorized, r_t, accuracy, class_fid, signs))  # fmt: skip
        mem_note = f", near-copies {memorized.value:.3f} (real-vs-real {memorized.extra['baseline_share']:.3f})" if memorized else ""
        cond_note = (f", conditional accuracy {accuracy.value:.3f}, per-class FID {class_fid.value:.2f} "
                     f"(real-vs-real {class_fid.extra['real_vs_real']:.2f})") if accuracy else ""  # fmt: skip
        r_t_note = ", r_t by steps " + " ".join(f"[{a},{b}) {v:.2f}" for a, b, v in r_t) if r_t else ""
        sign_note = ", D's mean sign on " + ", ".join(f"{k} {v:+.2f}" for k, v in signs.items()) if signs else ""
        print(f"  {entry}: {run.step} G steps, {cpu:.0f} CPU s, {wall:.0f} s wall, FID {fid.value:.2f}, "
              f"modes {cards['modes/covered'].value:.0f}/{n_modes}, KL {cards['modes/kl'].value:.4f}{mem_note}{cond_note}{r_t_note}{sign_note}", flush=True)  # fmt: skip

    mem_head = " near-copies of its training set (real-vs-real) |" if args.memorization else ""
    sign_head = " D's mean sign: training / held-out / generated |" if args.overfitting else ""
    cond_head = " conditional accuracy | per-class FID, mean (real-vs-real) |" if args.conditional else ""
    print(f"\n| preset (overrides) | G steps | CPU s | wall s | domain FID (real-vs-real) | modes of {n_modes} | KL(gen‖data) |"
          f"{mem_head}{cond_head} r_t, first window → highest → last |{sign_head}")
    print("|---|---|---|---|---|---|---|" + ("---|" if args.memorization else "") + ("---|---|" if args.conditional else "") + "---|"
          + ("---|" if args.overfitting else ""))
    for label, steps, cpu, wall, fid, rvr, modes, kl, memorized, r_t, accuracy, class_fid, signs in rows:
        base = f" ({rvr:.2f})" if rvr is not None else ""
        mem = f" {memorized.value:.3f} ({memorized.extra['baseline_share']:.3f}) |" if memorized else ""
        cond = ""
        if args.conditional:  # "-" for a preset that is not class-conditional
            cond = (f" {accuracy.value:.3f} | {class_fid.value:.2f} ({class_fid.extra['real_vs_real']:.2f}) |" if accuracy
                    else " - | - |")  # fmt: skip
        r_t_cell = f"{r_t[0][2]:.2f} → {max(v for *_, v in r_t):.2f} → {r_t[-1][2]:.2f}" if r_t else "-"
        sign = (" " + " / ".join(f"{v:+.2f}" for v in signs.values()) + " |" if signs else " - |") if args.overfitting else ""
        print(f"| {label} | {steps} | {cpu:.0f} | {wall:.0f} | {fid:.2f}{base} | {modes:.0f} | {kl:.4f} |{mem}{cond} {r_t_cell} |{sign}")
    if args.keep:
        print(f"runs kept in {out_root}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
