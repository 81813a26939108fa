"""CycleGAN end to end on tiny folders: losses by hand, the schedule, a CPU run, resume, translate, errors."""
import os

import numpy as np
import pytest
import torch
from PIL import Image
from torch.testing import assert_close

from ganforge.cli import main
from ganforge.errors import DataError
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer, load_run, train
from ganforge.algorithms import get_algorithm
from ganforge.algorithms.cyclegan import cycle_losses
from ganforge.runtime.checkpoint import load_checkpoint
from ganforge.config import OptimConfig
from ganforge.optim.course import build_course


def write_pngs(folder, n, size=(12, 12), mode="RGB", seed=0, prefix="im"):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(os.path.join(folder, f"{prefix}{i}.png"))


@pytest.fixture
def unpaired(tmp_path):
    root = tmp_path / "tiny"
    for sub, n, seed in (("trainA", 6, 0), ("trainB", 4, 1), ("testA", 2, 2), ("testB", 2, 3)):
        write_pngs(str(root / sub), n, seed=seed)
    return str(root)


def tiny(data, **more):
    return {
        "data": data, "image_size": 8, "batch_size": 2, "steps": 4, "threads": 1, "log_every": 2, "sample_every": 2,
        "ckpt_every": 2, "keep_checkpoints": 10, "n_samples": 2, "tensorboard": False,
        "model": {"g": {"width": 4, "n_blocks": 1}, "d": {"width": 4, "n_layers": 1}}, **more,
    }  # fmt: skip


def test_cycle_and_identity_losses_by_hand():
    a, b = torch.zeros(1, 1, 1, 2), torch.ones(1, 1, 1, 2)
    rec_a, rec_b = torch.tensor([[[[0.5, -0.5]]]]), torch.tensor([[[[1.0, 0.0]]]])  # L1 0.5 and 0.5
    idt_a, idt_b = torch.tensor([[[[0.2, 0.0]]]]), torch.tensor([[[[1.0, 1.4]]]])  # L1 0.1 and 0.2
    out = cycle_losses(a, b, rec_a, rec_b, idt_a, idt_b, lambda_cycle=10.0, lambda_identity=0.5)
    assert_close(out["cycle"], torch.tensor(10.0 * (0.5 + 0.5)))
    assert_close(out["identity"], torch.tensor(0.5 * 10.0 * (0.2 + 0.1)))
    assert "identity" not in cycle_losses(a, b, rec_a, rec_b, None, None, 10.0, 0.0)


def test_cyclegan_course_follows_steps_and_decays_linearly_to_zero():
    w = torch.nn.Parameter(torch.zeros(1))
    course = build_course(OptimConfig(lr=2e-4, schedule={"kind": "cyclegan"}), [w], 10, "g")
    lrs = [course.prepare(step).param_groups[0]["lr"] for step in range(10)]
    assert lrs[:5] == [2e-4] * 5  # constant half
    # then 2e-4 (1 - t), t = 0, 1/5, ..., 4/5: the last step trains at lr/5 and the line ends at 0 after it
    assert_close(torch.tensor(lrs[5:]), torch.tensor([2e-4 * (1 - k / 5) for k in range(5)]), rtol=1e-9, atol=0)
    assert_close(lrs[-1] - (lrs[-2] - lrs[-1]), 0.0, rtol=0, atol=1e-18)


def test_short_cpu_run_writes_triplets_and_translate_keeps_names_and_sizes(unpaired, tmp_path):
    cfg = resolve_config("cyclegan", [tiny(unpaired)])
    result = train(cfg, out=str(tmp_path / "run"), progress=False)
    samples = os.listdir(tmp_path / "run" / "samples")
    assert {"triplets-step-0000002.png", "triplets-step-0000004.png"} <= set(samples)
    # 2 test images x 2 directions = 4 rows of (real, fake, reconstruction), 8 px each with 2 px padding
    assert Image.open(result.final_samples).size == (3 * 10 + 2, 4 * 10 + 2)
    run = load_run(result.run_dir)
    assert set(run.nets) == {"G_AB", "G_BA", "D_A", "D_B"}
    assert get_algorithm("cyclegan").generate(run, 3).shape == (3, 3, 8, 8)
    # translate: a folder with a sub-folder, odd sizes and a grey image
    src = tmp_path / "in"
    write_pngs(str(src), 1, size=(20, 14), prefix="wide")
    write_pngs(str(src / "sub"), 1, size=(9, 9), mode="L", prefix="grey")
    assert main(["translate", result.run_dir, str(src), "-o", str(tmp_path / "out"), "--direction", "BtoA"]) == 0
    assert Image.open(tmp_path / "out" / "wide0.png").size == (20, 14)
    assert Image.open(tmp_path / "out" / "sub" / "grey0.png").size == (9, 9)
    assert main(["generate", result.run_dir, "-n", "4", "-o", str(tmp_path / "g.png")]) == 0


def test_resume_from_the_middle_equals_training_straight_through(unpaired, tmp_path):
    cfg = resolve_config("cyclegan", [tiny(unpaired, steps=6, ckpt_every=3, sample_every=100)])
    train(cfg, out=str(tmp_path / "straight"), progress=False)
    ckpts = tmp_path / "straight" / "checkpoints"
    half = load_checkpoint(str(ckpts / "ckpt-0000003.pt"))
    assert len(half["extra"]["pool_a"]["images"]) == 6  # 3 steps x batch 2: the pools are saved
    trainer = build_trainer(cfg, resume_state=half, progress=False)
    os.makedirs(tmp_path / "resumed")
    trainer.train(str(tmp_path / "resumed"))
    straight = load_checkpoint(str(ckpts / "ckpt-0000006.pt"))
    resumed = load_checkpoint(str(tmp_path / "resumed" / "checkpoints" / "ckpt-0000006.pt"))
    for key in ("nets", "opt_G", "opt_D", "extra", "batches"):
        assert_close(straight[key], resumed[key], rtol=0, atol=0)


def test_data_a_and_data_b_flags_and_bad_domains(unpaired, tmp_path, capsys):
    a, b = os.path.join(unpaired, "trainA"), os.path.join(unpaired, "trainB")
    args = ["train", "--preset", "cyclegan", "--data-a", a, "--data-b", b, "--dry-run", "--image-size"]
    assert main([*args, "24"]) == 0  # the smallest side its PatchGAN takes: cheap timed steps
    out = capsys.readouterr().out
    assert f"data: {a}" in out and f"data_b: {b}" in out
    assert main([*args, "16"]) == 2
    assert "ganforge: error: image_size 16 is too small for a PatchGAN of model.d.n_layers=3" in capsys.readouterr().err
    os.makedirs(tmp_path / "empty")
    with pytest.raises(DataError, match="empty"):
        train(resolve_config("cyclegan", [tiny(a, algo={"data_b": str(tmp_path / "empty")})]), out=str(tmp_path / "r1"), progress=False)
    mixed = tmp_path / "mixed"
    write_pngs(str(mixed), 2)
    write_pngs(str(mixed), 1, size=(16, 16), prefix="big")
    with pytest.raises(DataError, match=r"mixes image sizes.*big0.png"):
        train(resolve_config("cyclegan", [tiny(a, algo={"data_b": str(mixed)})]), out=str(tmp_path / "r2"), progress=False)
    modes = tmp_path / "modes"
    write_pngs(str(modes), 2)
    write_pngs(str(modes), 1, mode="L", prefix="grey")
    with pytest.raises(DataError, match=r"mixes image modes.*grey0.png"):
        train(resolve_config("cyclegan", [tiny(a, algo={"data_b": str(modes)})]), out=str(tmp_path / "r3"), progress=False)
    with pytest.raises(DataError, match="trainA/, trainB/"):
        train(resolve_config("cyclegan", [tiny(str(tmp_path / "empty"))]), out=str(tmp_path / "r4"), progress=False)
    assert not any((tmp_path / r).exists() for r in ("r1", "r2", "r3", "r4"))  # nothing left behind


@pytest.mark.parametrize("preset", ["cyclegan-demo", "pix2pix-demo"])
def test_offline_demo_presets_train_two_steps(preset, tmp_path):
    cfg = resolve_config(preset, [{"steps": 2, "threads": 1, "tensorboard": False, "n_samples": 2}])
    result = train(cfg, out=str(tmp_path / "run"), progress=False)
    run = load_run(result.run_dir)
    assert run.shape == (3, 32, 32)  # grey digits repeated to RGB to meet the coloured domain
    assert os.path.exists(result.final_samples)


def test_eval_and_in_training_evaluation_score_translation_cards(unpaired, tmp_path, capsys):
    import json

    cfg = resolve_config("cyclegan", [tiny(unpaired, eval_every=2, eval_n=2, best_metric="cycle/AtoBtoA")])
    result = train(cfg, out=str(tmp_path / "run"), progress=False)
    path = tmp_path / "run" / "metrics" / "metrics.jsonl"
    trained = [json.loads(line) for line in open(path)]
    # folders without classes: no evaluator, so the cycle errors of both directions at steps 2 and 4
    assert {(e["step"], e["metric"]) for e in trained} == {(s, m) for s in (2, 4) for m in ("cycle/AtoBtoA", "cycle/BtoAtoB")}
    stats = [json.loads(line) for line in open(tmp_path / "run" / "stats.jsonl")]
    assert [r["step"] for r in stats if "Eval/cycle/AtoBtoA" in r] == [2, 4]
    best = json.load(open(tmp_path / "run" / "metrics" / "best.json"))
    cycles = {e["step"]: e["value"] for e in trained if e["metric"] == "cycle/AtoBtoA"}
    assert best["value"] == min(cycles.values()) and best["higher_is_better"] is False
    # ganforge eval: the same cards, recomputed by hand from the loaded networks
    assert main(["eval", result.run_dir, "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "cycle/AtoBtoA" in out and "no evaluator of the target domains" in out
    new = [json.loads(line) for line in open(path)][len(trained):]
    assert [e["metric"] for e in new] == ["cycle/AtoBtoA", "cycle/BtoAtoB"] and all(e["source"] == "eval" for e in new)
    run = load_run(result.run_dir)
    a = torch.from_numpy(np.stack([np.asarray(Image.open(os.path.join(unpaired, "testA", f"im{i}.png"))) for i in range(2)]))
    a = a.permute(0, 3, 1, 2).float() / 127.5 - 1  # 12 px test images, resized to the 8 px training size by the data
    from ganforge.data.domains import resize_uint8, to_float

    a = to_float(resize_uint8(((a + 1) * 127.5).round().to(torch.uint8), 8))
    with torch.no_grad():
        rec = run.nets["G_BA"](run.nets["G_AB"](a))
    assert_close(new[0]["value"], (rec - a).abs().mean().item(), rtol=1e-5, atol=1e-6)
    assert main(["eval", result.run_dir, "--metrics", "cycle,fjd"]) == 2
    assert "unknown: fjd" in capsys.readouterr().err
    assert main(["eval", result.run_dir, "--ckpt", "all"]) == 2  # whole-run scoring is for GAN cards only, so far
    assert "not wired into translation scores yet" in capsys.readouterr().err
    with pytest.raises(Exception, match="best_metric 'fid/AtoB' is not a score"):
        train(resolve_config("cyclegan", [tiny(unpaired, eval_every=2, best_metric="fid/AtoB")]), out=str(tmp_path / "r"), progress=False)
