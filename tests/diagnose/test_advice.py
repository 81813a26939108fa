"""The advice names levers that work for the run's preset: applying every key=value a diagnosis advises
to a preset's own config gives a run that builds (no refused switch, no unknown option, no lr that a
list of phases would ignore)."""
import pytest

from ganforge.algorithms import get_algorithm
from ganforge.config import merge, parse_override
from ganforge.diagnose.advice import ADVICE, advice_for
from ganforge.presets import list_presets, resolve_config
from ganforge.runs import build_trainer

TRANSLATION_DATA = {"cyclegan": {"data": "mnist-plain", "algo": {"data_b": "mnist-styled"}}, "pix2pix": {"data": "mnist-pairs"}}


def runnable(preset: str):
    """The preset's own config on data this machine has, at a size that builds in a blink."""
    cfg = resolve_config(preset)
    if cfg.algorithm in TRANSLATION_DATA:
        return merge(cfg, {**TRANSLATION_DATA[cfg.algorithm], "image_size": 32, "batch_size": 2})  # 32: the smallest side both the PatchGAN (24) and the U-Net (a power of two) take
    size = {"cs231n": 28, "progan": 8, "msggan": 8}.get(cfg.model.name, 32 if preset == "sagan" else 16)
    if preset == "progan-demo":  # its growth schedule is written out to 32x32
        size = 32
    data = "ring8" if cfg.data in ("ring8", "grid25") else "fake"
    return merge(cfg, {"data": data, "image_size": size, "channels": 1, "batch_size": 8, "n_samples": 4, "tensorboard": False})


def overrides_in(advice: str) -> dict:
    """The key=value words of one line of advice, as the CLI would read them."""
    out: dict = {}
    for word in advice.split():
        if "=" in word:
            merge_into(out, parse_override(word.rstrip(",;")))
    return out


def merge_into(a: dict, b: dict) -> None:
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge_into(a[k], v)
        else:
            a[k] = v


@pytest.mark.parametrize("preset", list_presets())
def test_every_advised_key_works_for_the_preset(preset):
    cfg = runnable(preset)
    algorithm = get_algorithm(cfg.algorithm)
    for name in ADVICE:
        for line in advice_for(name, cfg, algorithm):
            keys = overrides_in(line)
            assert keys, f"{preset} / {name}: advice names no key: {line}"
            try:
                build_trainer(merge(runnable(preset), keys), progress=False)
            except Exception as e:  # noqa: BLE001 - any refusal is the bug this test is for
                pytest.fail(f"{preset} / {name}: advised `{line}` fails: {e}")


def test_the_advice_is_filtered_by_what_the_run_applies():
    cyclegan = resolve_config("cyclegan-demo")
    text = " ".join(a for name in ADVICE for a in advice_for(name, cyclegan, get_algorithm("cyclegan")))
    assert "gp_weight" not in text and "label_smoothing" not in text and "n_critic" not in text  # refused there
    assert "opt_d.lr=0.0001" in text  # its course takes the lr from opt_d: halving 2e-4 works
    assert any("gp_weight=10" in a for a in advice_for("divergence", resolve_config("dcgan"), get_algorithm("gan")))
