"""Every preset trains with every default monitor on: TensorBoard (D's logits histogrammed as training
presents them, sample grids), the health checks and advice, status.json and the HTML report. (The
pix2pix demo crashed at its first tick here: its conditional D was called without its input image.)"""
import json

import pytest

from ganforge.config import merge
from ganforge.monitors import seeing_monitors
from ganforge.presets import list_presets, resolve_config
from ganforge.runs import train

TRANSLATION_DATA = {"cyclegan": {"data": "mnist-plain", "algo": {"data_b": "mnist-styled"}}, "pix2pix": {"data": "mnist-pairs"}}


def small(preset: str):
    """The preset on data this machine has, at a size that trains a step in a blink."""
    cfg = resolve_config(preset)
    watch = {"steps": 2, "log_every": 1, "sample_every": 2, "ckpt_every": 2, "tensorboard": True, "report_every": 1,
             "diagnose": {"enabled": True, "warmup_steps": 0, "window": 1}}  # fmt: skip
    if cfg.algorithm in TRANSLATION_DATA:
        demo = resolve_config(f"{cfg.algorithm}-demo")  # the full presets' 256-px nets need 256-px images
        nets = {"model": {"g": demo.model.g, "d": demo.model.d}}
        return merge(cfg, {**TRANSLATION_DATA[cfg.algorithm], "image_size": 32, "batch_size": 2, "n_samples": 2, **nets, **watch})
    size = {"cs231n": 28}.get(cfg.model.name, 32 if preset in ("sagan", "progan-demo") else 8 if cfg.model.name in ("progan", "msggan") else 16)
    data = "ring8" if cfg.data in ("ring8", "grid25") else "fake"
    if cfg.model.name == "stylegan2":  # the cifar config's 512 channels take a minute on a CPU
        merge(cfg, {"model": {"g": {"channel_base": 64, "channel_max": 8}, "d": {"channel_base": 64, "channel_max": 8}}})
    nets = {"model": {"g": {"ch": 4}, "d": {"ch": 4}}} if cfg.model.name == "biggan" else {}  # not the 256-channel CIFAR-10 nets
    return merge(cfg, {"data": data, "image_size": size, "channels": 1, "batch_size": 8, "n_samples": 4, **watch, **nets})


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_trains_with_every_monitor(preset, tmp_path):
    cfg = small(preset)
    run = tmp_path / "run"
    result = train(cfg, out=str(run), progress=False, monitors=seeing_monitors(cfg))
    assert result.step == 2
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert (run / "report.html").stat().st_size > 0 and any((run / "tensorboard").iterdir())
    records = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all("health" in r for r in records)
