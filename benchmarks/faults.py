"""Fault drills: what real machines do to a long run, done on purpose, counted.

    python benchmarks/faults.py [--kills 30] [--races 200] [--keep DIR] [--drills kill,sigterm,...]

Drills (each in its own folder under a temporary directory):
  kill -9     `ganforge train` saving a checkpoint every step, killed at a random moment, then resumed
              (corrupt = the latest checkpoint does not load; lost = steps between the newest whole
              checkpoint file and the one ckpt-latest.pt names, which a resume would train again;
              traceback = the resume printed one)
  SIGTERM     the scheduler's polite stop: must save, exit 143, and resume
  disk full   training into a 2 MB tmpfs (needs root: skipped with a message otherwise): one-line error,
              exit 2, the checkpoints saved before still load
  divergence  a learning rate that jumps x1e10 half-way with checkpoints every 10 steps: a finite
              checkpoint must survive and generate
  race        two processes claiming one --out at once: never both win
  folders     a FIFO named .png, a 16-bit PNG, a symlink loop, a decompression bomb, a truncated JPEG:
              one-line errors or correct reads, never a hang or a traceback
Prints one table: trials, corrupt checkpoints, lost steps, hangs, tracebacks (the target: all zeros).
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

TRAIN = [sys.executable, "-m", "ganforge", "train", "--preset", "gan", "--data", "ring8", "--no-progress", "--no-tensorboard",
         "--batch-size", "64", "log_every=1", "sample_every=100000", "model.g.hidden=[64]", "model.d.hidden=[64]"]  # fmt: skip
TIMEOUT = 120  # seconds before a command counts as hung


def run(words, **kw):
    """(exit code or None when it hung, stdout + stderr)."""
    try:
        p = subprocess.run(words, capture_output=True, text=True, timeout=kw.pop("timeout", TIMEOUT), **kw)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")


def latest_loads(run_dir: str) -> tuple[bool, int]:
    """(the latest checkpoint loads, its step) through ganforge's own loader."""
    code = ("import sys; from ganforge.runtime.checkpoint import load_checkpoint; "
            "print(load_checkpoint(sys.argv[1])['step'])")  # fmt: skip
    rc, out = run([sys.executable, "-c", code, os.path.join(run_dir, "checkpoints", "ckpt-latest.pt")])
    return rc == 0, int(out.strip().splitlines()[-1]) if rc == 0 else -1


def newest_saved_step(run_dir: str) -> int:
    """The step of the newest numbered checkpoint file that loads (what was saved before the fault)."""
    from ganforge.runtime.checkpoint import list_checkpoints

    for step, path in reversed(list_checkpoints(os.path.join(run_dir, "checkpoints"))):
        code = "import sys; from ganforge.runtime.checkpoint import load_checkpoint; load_checkpoint(sys.argv[1])"
        if run([sys.executable, "-c", code, path])[0] == 0:
            return step
    return 0


class Row:
    def __init__(self, name):
        self.name, self.trials, self.corrupt, self.lost, self.hangs, self.tracebacks, self.failed = name, 0, 0, 0, 0, 0, 0

    def saw(self, rc, out):
        self.hangs += rc is None
        self.tracebacks += "Traceback" in out


def kill_drill(root: str, kills: int) -> Row:
    row = Row("kill -9 during saves")
    for i in range(kills):
        run_dir = os.path.join(root, f"kill{i}")
        proc = subprocess.Popen([*TRAIN, "--steps", "100000", "--out", run_dir, "ckpt_every=1", "keep_checkpoints=2"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        while not os.path.exists(os.path.join(run_dir, "checkpoints", "ckpt-latest.pt")) and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 1.0))  # anywhere in the next saves: some land mid-write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        row.trials += 1
        ok, step = latest_loads(run_dir)
        row.corrupt += not ok
        row.lost += max(0, newest_saved_step(run_dir) - step)
        rc, out = run([*TRAIN[:4], "--resume", run_dir, "--steps", str(max(step, 0) + 2), "--no-progress"])
        row.saw(rc, out)
        row.failed += rc != 0
    return row


def sigterm_drill(root: str) -> Row:
    row = Row("SIGTERM")
    run_dir = os.path.join(root, "term")
    proc = subprocess.Popen([*TRAIN, "--steps", "100000", "--out", run_dir, "ckpt_every=100000"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    while not os.path.exists(os.path.join(run_dir, "stats.jsonl")) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, rc = "", None
    row.trials = 1
    row.saw(rc, out)
    ok, step = latest_loads(run_dir)
    row.corrupt += not ok
    row.lost += max(0, newest_saved_step(run_dir) - step)
    row.failed += rc != 143
    return row


def disk_full_drill(root: str) -> Row | None:
    if os.geteuid() != 0:
        print("disk full: skipped (mounting a small tmpfs needs root)")
        return None
    row = Row("disk full (2 MB tmpfs)")
    mount = os.path.join(root, "small")
    os.makedirs(mount)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]).returncode != 0:
        print("disk full: skipped (mount failed)")
        return None
    try:
        run_dir = os.path.join(mount, "run")
        rc, out = run([*TRAIN, "--steps", "100000", "--out", run_dir, "ckpt_every=1", "keep_checkpoints=0",
                       "model.g.hidden=[512]", "model.d.hidden=[512]"])  # fmt: skip
        row.trials = 1
        row.saw(rc, out)
        row.failed += rc != 2 or "No space left on device" not in out
        ok, _ = latest_loads(run_dir)
        row.corrupt += not ok
    finally:
        subprocess.run(["umount", mount])
    return row


def divergence_drill(root: str) -> Row:
    row = Row("divergence, ckpt_every=10")
    run_dir = os.path.join(root, "diverge")
    jump = "{kind: step, at: [0.5], gamma: 1.0e10}"
    rc, out = run([*TRAIN[:4], "--preset", "dcgan", "--data", "fake", "--image-size", "16", "--steps", "100", "--out", run_dir,
                   "--no-progress", "--no-tensorboard",
                   "model.g={width: 4}", "model.d={width: 4}", "channels=1", "batch_size=8", "log_every=50", "ckpt_every=10",
                   f"opt_g.schedule={jump}", f"opt_d.schedule={jump}"])  # fmt: skip
    row.trials = 1
    row.saw(rc, out)
    ok, step = latest_loads(run_dir)
    gen_rc, gen_out = run([sys.executable, "-m", "ganforge", "generate", run_dir, "-n", "4", "-o", os.path.join(root, "g.png")])
    row.saw(gen_rc, gen_out)
    row.corrupt += not ok or gen_rc != 0
    row.failed += rc != 2 or "diverged" not in out
    return row


def race_drill(root: str, races: int) -> Row:
    row = Row("two claims of one --out")
    code = "import sys; from ganforge.runtime.rundir import claim_run_dir\ntry:\n claim_run_dir(sys.argv[1]); print('won')\nexcept Exception: print('lost')"
    for i in range(races):
        path = os.path.join(root, f"race{i}")
        procs = [subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        wins = sum(p.communicate()[0].strip() == "won" for p in procs)
        row.trials += 1
        row.failed += wins != 1
    return row


def folder_drill(root: str) -> Row:
    import numpy as np
    from PIL import Image

    row = Row("broken image folders")
    cases = {}
    base = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)

    def folder(name, extra, expect):
        """expect: None to train (the bad file skipped or read right), or the file the error must name."""
        path = os.path.join(root, name)
        os.makedirs(path)
        for k in range(8):
            Image.fromarray(base).save(os.path.join(path, f"{k}.png"))
        extra(path)
        cases[name] = path, expect

    folder("fifo", lambda p: os.mkfifo(os.path.join(p, "pipe.png")), None)  # skipped with a warning
    folder("sixteen-bit", lambda p: Image.fromarray(np.linspace(0, 65535, 32 * 32).astype(np.uint16).reshape(32, 32)).save(os.path.join(p, "g16.png")), None)
    folder("link-loop", lambda p: os.symlink(p, os.path.join(p, "loop")), None)  # each real folder read once
    folder("bomb", lambda p: Image.new("L", (15000, 15000)).save(os.path.join(p, "bomb.png")), "bomb.png")
    folder("truncated", lambda p: open(os.path.join(p, "cut.jpg"), "wb").write(b"\xff\xd8\xff\xe0" + b"\0" * 100), "cut.jpg")
    for name, (path, expect) in cases.items():
        rc, out = run([*TRAIN[:4], "--preset", "dcgan-demo", "--data", path, "--image-size", "16", "--steps", "2", "--out", os.path.join(root, f"run-{name}"),
                       "--no-progress", "--no-tensorboard", "batch_size=4", "model.g.width=4", "model.d.width=4"])  # fmt: skip
        row.trials += 1
        row.saw(rc, out)
        wanted = rc == 0 if expect is None else rc == 2 and "ganforge: error:" in out and expect in out and "usage:" not in out
        row.failed += not wanted
        if not wanted:
            print(f"broken folder {name}: exit {rc}: {out.strip().splitlines()[-1:] or ''}")
    return row


DRILLS = ("kill", "sigterm", "disk-full", "divergence", "race", "folders")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=30)
    p.add_argument("--races", type=int, default=200)
    p.add_argument("--keep", help="keep the drills' folders here")
    p.add_argument("--drills", default=",".join(DRILLS), help=f"comma-separated, from: {', '.join(DRILLS)}")
    args = p.parse_args()
    random.seed(0)
    root = args.keep or tempfile.mkdtemp(prefix="ganforge-faults-")
    os.makedirs(root, exist_ok=True)
    drills = {"kill": lambda: kill_drill(root, args.kills), "sigterm": lambda: sigterm_drill(root),
              "disk-full": lambda: disk_full_drill(root), "divergence": lambda: divergence_drill(root),
              "race": lambda: race_drill(root, args.races), "folders": lambda: folder_drill(root)}  # fmt: skip
    unknown = set(args.drills.split(",")) - set(drills)
    if unknown:
        p.error(f"unknown drill(s) {', '.join(sorted(unknown))}; choose from {', '.join(DRILLS)}")
    rows = [drills[name]() for name in DRILLS if name in args.drills.split(",")]
    print("\n| drill | trials | corrupt checkpoints | lost steps | hangs | tracebacks | wrong outcome |")
    print("|---|---|---|---|---|---|---|")
    for r in filter(None, rows):
        print(f"| {r.name} | {r.trials} | {r.corrupt} | {r.lost} | {r.hangs} | {r.tracebacks} | {r.failed} |")


if __name__ == "__main__":
    main()
