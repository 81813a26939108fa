"""Every switch composes or refuses: for every algorithm and every switch of train/d_pipeline.SWITCHES,
one training step with the switch on either differs from the same step with it off (D's or G's
gradients at an optimizer step, or the weights after the step) or the trainer refuses the config with
an error naming the switch."""
import re

import pytest
import torch

from ganforge.config import Config, merge
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.runs import build_trainer
from ganforge.train.d_pipeline import SWITCHES

IMAGE = {"data": "fake", "image_size": 16, "channels": 1, "batch_size": 8, "n_samples": 4, "tensorboard": False}
# One preset per algorithm, at sizes that train a step in a blink.
ALGORITHMS = {
    "gan": ("dcgan", {**IMAGE, "model": {"g": {"width": 4}, "d": {"width": 4}}}),
    "relativistic gan": ("dcgan", {**IMAGE, "loss": "relativistic", "model": {"g": {"width": 4}, "d": {"width": 4}}}),
    "infogan": ("infogan", {**IMAGE, "model": {"g": {"width": 4, "hidden": 8}, "d": {"width": 4, "hidden": 8}}}),
    "began": ("began", {**IMAGE, "model": {"g": {"width": 4}, "d": {"width": 4, "h": 8}}}),
    "progan": ("progan-demo", {**IMAGE, "image_size": 8, "model": {"z_dim": 8, "g": {"fmap_base": 32, "fmap_max": 8},
               "d": {"fmap_base": 32, "fmap_max": 8}}, "algo": {"fade_steps": 2, "stable_steps": 2, "schedule": []}}),
    # StyleGAN2's nets, with the demo's R1 and path length off (the switches below turn them on)
    "stylegan2": ("stylegan2-demo", {**IMAGE, "model": {"z_dim": 8, "g": {"w_dim": 8, "channel_base": 32, "channel_max": 4},
                  "d": {"channel_base": 32, "channel_max": 4}}, "r1_weight": 0.0, "r1_interval": 1, "pl_weight": 0.0, "pl_interval": 1}),
    "msggan": ("msggan-demo", {**IMAGE, "image_size": 8, "model": {"z_dim": 8, "g": {"fmap_base": 32, "fmap_max": 8},
               "d": {"fmap_base": 32, "fmap_max": 8}}}),
    "cyclegan": ("cyclegan-demo", {"image_size": 8, "batch_size": 2, "n_samples": 2, "model": {"g": {"width": 4, "n_blocks": 1}, "d": {"width": 4, "n_layers": 1}}}),
    "pix2pix": ("pix2pix-demo", {"image_size": 8, "batch_size": 2, "n_samples": 2, "model": {"g": {"width": 4}, "d": {"width": 4, "n_layers": 1}}}),
}  # fmt: skip
# Each switch's value under test, with what it modifies (a modifier alone is refused: tested below) and
# any setting it shows its effect under; "off" is the same with the switch alone back at its default.
# ADA: p starts at 0 and moves after ada_interval steps, so its modifiers start from p = 0.5 and move it
# after the first step, all the way to 0 or 1 (ada_kimg tiny); two steps then show each one.
ADA_QUICK = {"ada": True, "ada_p": 0.5, "ada_interval": 1, "ada_kimg": 1e-3}
SWITCH_ON = {
    "diffaugment": {"diffaugment": "color,translation"},
    "ada": {"ada": True},
    "ada_target": {**ADA_QUICK, "ada_target": 0.99},
    "ada_interval": ADA_QUICK,  # off: p moves after 4 steps
    "ada_kimg": ADA_QUICK,  # off: p moves by batch_size / 500,000
    "ada_p": {"ada": True, "ada_p": 0.5},
    "instance_noise": {"instance_noise": 0.1},
    "instance_noise_steps": {"instance_noise": 0.1, "instance_noise_steps": 4},
    "pack": {"pack": 2},
    "r1_weight": {"r1_weight": 1.0},
    "r1_interval": {"r1_weight": 1.0, "r1_interval": 2},
    "r2_weight": {"r2_weight": 1.0},
    "r2_interval": {"r2_weight": 1.0, "r2_interval": 2},
    "gp_weight": {"gp_weight": 10.0},
    "drift_weight": {"drift_weight": 0.1},
    "clip_value": {"clip_value": 0.01},
    "pl_weight": {"pl_weight": 2.0},
    "pl_interval": {"pl_weight": 2.0, "pl_interval": 2},
    "label_smoothing": {"label_smoothing": 0.2},
    "reuse_fake": {"reuse_fake": False},
    "ortho_weight": {"ortho_weight": 1e-4},
}
DEFAULTS = Config()
# ada_target moves p the other way only where D's r_t = E[sign(D(x))] falls between the two targets, and
# an untrained D's need not (these nets start at r_t <= 0, below every target): two steps cannot show it.
# tests/train/test_ada.py moves p each way around the target with a stub D; here it must build and train.
SHOWN_ELSEWHERE = {"ada_target"}


def config(algorithm: str, **keys):
    preset, tiny = ALGORITHMS[algorithm]
    return merge(resolve_config(preset, [tiny]), keys)


def two_steps(cfg) -> list[torch.Tensor]:
    """The gradients at every optimizer step of two training steps, then every network's weights. (Two:
    an annealing schedule starts at full strength, so only its second step can show it.)"""
    trainer = build_trainer(cfg, progress=False)
    seen = []
    for course in trainer.courses.values():
        course.prepare(0).register_step_pre_hook(
            lambda opt, args, kwargs: seen.extend(p.grad.clone() for g in opt.param_groups for p in g["params"] if p.grad is not None)
        )  # fmt: skip
    trainer.train_step()
    trainer.train_step()
    return seen + [t.clone() for net in trainer.nets.values() for t in net.state_dict().values()]


def differ(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) != len(b) or any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(a, b))


def test_the_comparison_can_fail():
    """The same config twice gives the very same step: a difference below is the switch's doing."""
    cfg = config("gan")
    assert not differ(two_steps(cfg), two_steps(config("gan")))
    assert differ(two_steps(cfg), two_steps(config("gan", opt_d={"lr": 1e-3})))


@pytest.mark.parametrize("switch", list(SWITCH_ON))
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_switch_changes_the_update_or_is_refused(algorithm, switch):
    on = SWITCH_ON[switch]
    parent = SWITCHES[switch].needs
    off = {**on, switch: getattr(DEFAULTS, switch)}
    try:
        switched = two_steps(config(algorithm, **on))
    except ConfigError as e:
        # refused, naming the switch (or, for a modifier, the switch it modifies)
        assert re.search(rf"\b{switch}\b", str(e)) or (parent and re.search(rf"\b{parent}\b", str(e))), str(e)
        return
    if switch in SHOWN_ELSEWHERE:
        return
    assert differ(switched, two_steps(config(algorithm, **off))), f"{switch} changed nothing on {algorithm}"


@pytest.mark.parametrize("switch", [s.key for s in SWITCHES.values() if s.needs])
def test_a_modifier_without_what_it_modifies_is_refused(switch):
    value = SWITCH_ON[switch][switch]
    with pytest.raises(ConfigError, match=f"{switch}={value} .* does nothing without {SWITCHES[switch].needs}"):
        build_trainer(config("gan", **{switch: value}), progress=False)


def test_what_each_algorithm_refuses():
    """The refusals are the declared ones, not accidents: a pinned table."""
    refused = {}
    for algorithm in ALGORITHMS:
        refused[algorithm] = set()
        for switch, on in SWITCH_ON.items():
            try:
                build_trainer(config(algorithm, **on), progress=False)
            except ConfigError:
                refused[algorithm].add(switch)
    translation = set(SWITCH_ON)
    ada = {"ada", "ada_target", "ada_interval", "ada_kimg", "ada_p"}
    path_length = {"pl_weight", "pl_interval"}  # needs G's ws: only a generator with a mapping network has them
    assert refused == {
        "gan": path_length,  # with dcgan's nets
        # RpGAN has no label for real data, and no boundary for ADA to read D's verdict from
        "relativistic gan": {"label_smoothing"} | ada | path_length,
        "infogan": {"pack"} | path_length,
        "began": {"pack", "r1_weight", "r1_interval", "r2_weight", "r2_interval", "gp_weight", "drift_weight",
                  "clip_value", "label_smoothing", "ortho_weight"} | ada | path_length,  # D's output is a reconstruction error; ortho_weight: its own G update
        "progan": {"pack", "label_smoothing"} | ada | path_length,  # wasserstein: no label to smooth, no boundary
        "stylegan2": set(),
        "msggan": {"diffaugment", "label_smoothing"} | ada | path_length,  # per-image draws would split the scales; RaHinge: no label, no boundary
        "cyclegan": translation,
        "pix2pix": translation,
    }  # fmt: skip
