import pytest

from ganforge.config import Config, check_evaluation_keys, differences, from_dict, merge, parse_override, to_dict
from ganforge.errors import ConfigError
from ganforge.presets import list_presets, load_preset, resolve_config


def test_override_parsing_and_types():
    cfg = merge(Config(), parse_override("opt_d.lr=1e-4"))
    assert cfg.opt_d.lr == 1e-4 and isinstance(cfg.opt_d.lr, float)
    merge(cfg, parse_override("steps=10"))
    assert cfg.steps == 10
    merge(cfg, parse_override("image_size=null"))
    assert cfg.image_size is None
    merge(cfg, parse_override("opt_g.betas=[0, 0.9]"))
    assert cfg.opt_g.betas == [0.0, 0.9]
    merge(cfg, parse_override("model.g.width=32"))
    assert cfg.model.g == {"width": 32}
    # 'none' reads as a preset file reads it: the string for free-form model options, None for optional keys
    merge(cfg, parse_override("model.d.norm=none"))
    assert cfg.model.d == {"norm": "none"}
    merge(cfg, parse_override("channels=3"))
    merge(cfg, parse_override("channels=None"))
    assert cfg.channels is None


def test_unknown_key_names_valid_keys_and_closest():
    with pytest.raises(ConfigError) as e:
        merge(Config(), parse_override("opt_d.learning_rate=1"))
    assert "opt_d.learning_rate" in str(e.value) and "lr" in str(e.value)
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        merge(Config(), parse_override("batchsize=3"))


@pytest.mark.parametrize(
    "text, key",
    [("steps=ten", "steps"), ("steps=1.5", "steps"), ("opt_d.lr=fast", "opt_d.lr"), ("reuse_fake=3", "reuse_fake")],
)
def test_wrong_value_type_names_the_key(text, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        merge(Config(), parse_override(text))


def test_override_must_be_key_value():
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("steps")


def test_round_trip_and_differences():
    cfg = resolve_config("wgan")
    again = from_dict(to_dict(cfg))
    assert to_dict(again) == to_dict(cfg)
    other = merge(from_dict(to_dict(cfg)), {"opt_d": {"lr": 1.0}})
    assert differences(to_dict(cfg), to_dict(other)) == ["opt_d.lr: 5e-05 -> 1.0"]


def test_every_preset_cites_its_paper_and_resolves():
    names = list_presets()
    assert {"gan", "dcgan", "lsgan", "wgan", "wgan-gp", "cs231n-dcgan"} <= set(names)
    for name in names:
        data = load_preset(name)
        assert data.get("paper"), f"preset {name} cites no paper"
        cfg = resolve_config(name)
        assert cfg.preset == name


@pytest.mark.parametrize("key, value", [("eval_metrics", ["fid"]), ("eval_n", 500), ("eval_evaluator", "offline"),
                                        ("eval_inception_weights", "pt_inception.pth")])  # fmt: skip
def test_an_eval_key_without_in_training_evaluation_is_refused_naming_it(key, value):
    """eval_every=0 and no best_metric: no evaluator runs, so an eval_* key set would do nothing."""
    with pytest.raises(ConfigError) as e:
        check_evaluation_keys(resolve_config("dcgan-demo", [{key: value}]))
    assert str(e.value).startswith(f"{key}={value!r} does nothing while in-training evaluation is off")
    assert "set eval_every=N" in str(e.value) and "best_metric=NAME" in str(e.value)
    check_evaluation_keys(resolve_config("dcgan-demo", [{key: value, "eval_every": 500}]))  # evaluated every 500 steps
    check_evaluation_keys(resolve_config("dcgan-demo", [{key: value, "best_metric": "fid"}]))  # best_metric alone: at the end
    check_evaluation_keys(resolve_config("dcgan-demo", [{key: value}]), keys=())  # a resume that did not set it


def test_every_key_an_evaluation_reads_is_checked_and_no_preset_sets_one_unread():
    import dataclasses

    from ganforge.config import EVAL_KEYS

    assert set(EVAL_KEYS) == {f.name for f in dataclasses.fields(Config) if f.name.startswith("eval_")} - {"eval_every"}
    with pytest.raises(ConfigError, match=r"^eval_metrics=\['fid'\], eval_n=500 do nothing .* \(eval_metrics=\[\], eval_n=1000\)$"):
        check_evaluation_keys(resolve_config("dcgan-demo", [{"eval_n": 500, "eval_metrics": ["fid"]}]))
    # toy2d's eval_n=2500 is read: it scores every 1,000 steps; turned off, its eval_n would be read by nothing
    with pytest.raises(ConfigError, match=r"^eval_n=2500 does nothing"):
        check_evaluation_keys(resolve_config("toy2d", [{"eval_every": 0, "best_metric": ""}]))
    for name in list_presets():
        check_evaluation_keys(resolve_config(name))


def test_paper_hyperparameters():
    wgan = resolve_config("wgan")
    assert (wgan.opt_d.name, wgan.opt_d.lr, wgan.clip_value, wgan.n_critic) == ("rmsprop", 5e-5, 0.01, 5)
    assert (wgan.critic_boost_steps, wgan.critic_boost_every, wgan.critic_boost_n_critic) == (25, 500, 100)
    gp = resolve_config("wgan-gp")
    assert (gp.gp_weight, gp.opt_d.lr, gp.opt_d.betas, gp.n_critic) == (10.0, 1e-4, [0.0, 0.9], 5)
    dc = resolve_config("dcgan")
    assert (dc.opt_g.lr, dc.opt_g.betas[0]) == (2e-4, 0.5)
    assert resolve_config("lsgan").loss == "least-squares"


def test_unknown_preset_lists_valid():
    with pytest.raises(ConfigError, match="did you mean 'dcgan'"):
        resolve_config("dcgna")


def test_a_preset_inherits_its_base_and_holds_only_what_differs(tmp_path):
    (tmp_path / "mine.yaml").write_text("base: dcgan\nmodel: {g: {width: 16}}\nopt_d: {lr: 1.0e-4}\n")
    (tmp_path / "child.yaml").write_text("base: mine.yaml\nsteps: 7\n")
    cfg = resolve_config(str(tmp_path / "child.yaml"))
    dcgan = resolve_config("dcgan")
    assert cfg.steps == 7 and cfg.model.g == {**dcgan.model.g, "width": 16} and cfg.model.d == dcgan.model.d
    assert cfg.opt_d.lr == 1e-4 and cfg.opt_d.betas == dcgan.opt_d.betas and cfg.paper == dcgan.paper
    assert cfg.preset == "custom"  # a file is not the dcgan preset, though it starts from it
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="inherit in a circle"):
        resolve_config(str(tmp_path / "a.yaml"))


def _ranged_keys(cls=None, prefix=""):
    """(dotted key, Range) of every annotated numeric key of the config, sections included."""
    import dataclasses
    import typing

    from ganforge.config import Config, Range

    out = []
    cls = cls or Config
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls, include_extras=True)[f.name]
        if dataclasses.is_dataclass(f.default_factory) if f.default_factory is not dataclasses.MISSING else False:
            out += _ranged_keys(f.default_factory, f"{prefix}{f.name}.")
            continue
        if typing.get_origin(tp) is list:  # each item checked: opt_g.betas; a scalar is refused as "wants a list"
            continue
        for arg in (tp, *typing.get_args(tp)):
            if typing.get_origin(arg) is typing.Annotated:
                out += [(f"{prefix}{f.name}", m, typing.get_args(arg)[0]) for m in typing.get_args(arg)[1:] if isinstance(m, Range)]
    return out


def test_every_numeric_range_is_checked_on_merge_naming_the_key():
    from ganforge.config import Config, merge, parse_override

    keys = _ranged_keys()
    assert {"steps", "batch_size", "log_every", "opt_g.lr", "opt_d.momentum", "label_smoothing", "model.z_dim", "diagnose.window"} <= {k for k, _, _ in keys}
    for key, rng, tp in keys:
        bad = rng.low - 1 if rng.low is not None else rng.high + 1
        if rng.low is not None and rng.low_open:
            bad = rng.low
        value = int(bad) if tp is int else float(bad)
        with pytest.raises(ConfigError, match=f"config key '{key}' must be"):
            merge(Config(), parse_override(f"{key}={value}"))
    merge(Config(), parse_override("steps=1"))  # the edge itself is fine
