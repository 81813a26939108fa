"""Speed options (precision, channels_last, compile, fused optimizers) against fp32 eager, on short CPU runs.

Each option trains the same tiny DCGAN from the same seed for 2 generator steps with plain SGD, so a
network's weight change is lr x (sum of its gradients): comparing the changes compares the gradients the
option computed, not merely that Adam moved every weight by about lr (which any garbage would do).
"""
import warnings

import pytest
import torch
from torch.testing import assert_close

from ganforge.cli import main
from ganforge.errors import ConfigError
from ganforge.presets import resolve_config
from ganforge.train import compile as compile_mod
from ganforge.runs import build_trainer

SGD = {"name": "sgd", "lr": 0.05, "momentum": 0.0}


def trained(tiny_overrides, steps=2, **options):
    """(weight changes of G and D, losses of the last step) after `steps` steps with `options`."""
    cfg = resolve_config("dcgan", [dict(tiny_overrides, channels=3, opt_g=SGD, opt_d=SGD,
                                        model={"g": {"width": 8}, "d": {"width": 8}}, **options)])  # fmt: skip
    t = build_trainer(cfg, progress=False)
    start = {net: {k: v.clone() for k, v in getattr(t, net).state_dict().items()} for net in ("G", "D")}
    for _ in range(steps):
        t.train_step()
    delta = {f"{net}.{k}": v.float() - start[net][k].float()
             for net in ("G", "D") for k, v in getattr(t, net).state_dict().items() if v.is_floating_point()}  # fmt: skip
    return delta, t.window.flush(), t


def relative_error(a: dict, b: dict) -> float:
    """||a - b|| / ||b|| over every weight change together."""
    diff = sum(float((a[k] - b[k]).pow(2).sum()) for k in b)
    norm = sum(float(b[k].pow(2).sum()) for k in b)
    return (diff / norm) ** 0.5


@pytest.fixture
def fp32(tiny_overrides):
    return trained(tiny_overrides, fused_optimizers=False)


def test_channels_last_and_fused_equal_fp32_eager(tiny_overrides, fp32):
    # Float32 either way; only the order of summation inside convolutions and optimizer kernels differs:
    # rounding of ~1e-7 per operation, grown through 2 steps of 8 layers, stays under 1e-4 relative.
    for options in ({"channels_last": True}, {"fused_optimizers": True}):
        delta, losses, t = trained(tiny_overrides, **options)
        assert relative_error(delta, fp32[0]) < 1e-4, options
        assert_close(losses, fp32[1], rtol=1e-4, atol=1e-6)
    assert t.course_G.optimizer.param_groups[0]["fused"] is True  # SGD has a fused CPU kernel
    assert relative_error({k: v + 1e-3 * v.abs().mean() for k, v in fp32[0].items()}, fp32[0]) > 1e-4  # the bound bites


def test_bf16_autocast_agrees_with_fp32_to_bf16_rounding(tiny_overrides, fp32):
    # bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2% per operation); through 8
    # layers forward and backward, gradients (= weight changes under SGD) agree to a few percent, and
    # losses to 1%. A wrong gradient (sign, scale, missing term) is off by order 1.
    delta, losses, t = trained(tiny_overrides, precision="bf16")
    assert 1e-4 < relative_error(delta, fp32[0]) < 0.05  # it did run in bfloat16, and only rounding differs
    assert_close(losses, fp32[1], rtol=1e-2, atol=1e-2)
    assert not {"scaler_G", "scaler_D"} & set(t.state_dict())  # bf16 needs no loss scaling


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_where_the_cpu_computes_it_natively(tiny_overrides, monkeypatch, native):
    from ganforge.train import precision

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    assert precision.native_bf16(torch.device("cpu")) is native
    t = build_trainer(resolve_config("dcgan", [dict(tiny_overrides, precision="auto", device="cpu")]), progress=False)
    assert t.precision.name == ("bf16" if native else "fp32")
    assert (t.precision.dtype is torch.bfloat16) is native


def test_status_json_names_the_precision_auto_chose(tmp_path, tiny_overrides):
    import json

    from ganforge.train.precision import native_bf16

    args = ["--preset", "dcgan-demo", "--data", "fake", "--device", "cpu", "--precision", "auto", "--steps", "1",
            "--batch-size", "4", "--image-size", "16", "--no-progress", "model.g.width=4", "model.d.width=4"]  # fmt: skip
    assert main(["train", *args, "--out", str(tmp_path / "run")]) == 0
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["precision"] == ("bf16" if native_bf16(torch.device("cpu")) else "fp32")


def test_compile_equals_eager_and_checkpoints_the_bare_modules(tiny_overrides, fp32):
    # Cold, inductor compiles the graphs in ~30 s on this 2-core CPU (warm cache: ~4 s). Same float32
    # maths as eager with fused kernels: the tolerance of channels_last.
    if compile_mod.compile_unavailable(torch.device("cpu")):
        pytest.skip("torch.compile is unavailable here (the fallback is tested below)")
    delta, losses, t = trained(tiny_overrides, compile=True, fused_optimizers=False)
    assert type(t.algorithm.G_train).__name__ == "OptimizedModule"
    assert relative_error(delta, fp32[0]) < 1e-4
    assert_close(losses, fp32[1], rtol=1e-4, atol=1e-6)
    state = t.state_dict()
    assert state["nets"]["G"].keys() == fp32[2].G.state_dict().keys() and state["nets"]["D"].keys() == fp32[2].D.state_dict().keys()


def test_compile_unavailable_warns_and_trains_eagerly(tiny_overrides, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(compile_mod.shutil, "which", lambda name: None)
    assert "needs a C++ compiler" in compile_mod.compile_unavailable(torch.device("cpu"))
    with pytest.warns(UserWarning, match="compile=true ignored: torch.compile on a CPU needs a C\\+\\+ compiler"):
        t = build_trainer(resolve_config("dcgan", [dict(tiny_overrides, compile=True)]), progress=False)
    assert t.algorithm.G_train is t.G and t.algorithm.D_train is t.D
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t.train_step()


def test_fp16_on_a_cpu_and_unknown_precisions_are_refused(tiny_overrides, capsys):
    with pytest.raises(ConfigError, match="precision=fp16 needs a CUDA device.*use precision=bf16 or fp32"):
        build_trainer(resolve_config("dcgan", [dict(tiny_overrides, precision="fp16", device="cpu")]), progress=False)
    with pytest.raises(ConfigError, match="unknown precision 'fp8'; valid: fp32, bf16, fp16, auto"):
        build_trainer(resolve_config("dcgan", [dict(tiny_overrides, precision="fp8")]), progress=False)
    for extra in (["--dry-run"], ["--steps", "1", "--no-progress"]):  # a dry run checks what a run would
        assert main(["train", "--data", "fake", "--device", "cpu", "--precision", "fp16", *extra]) == 2
        assert "precision=fp16 needs a CUDA device" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_resume_is_exact_and_saves_both_scalers(tmp_path, tiny_overrides):
    from ganforge.runs import resume, train
    from ganforge.runtime.checkpoint import load_checkpoint

    base = dict(tiny_overrides, steps=6, device="cuda", precision="fp16", ckpt_every=100, sample_every=100, log_every=3)
    train(resolve_config("dcgan", [base]), out=str(tmp_path / "straight"), progress=False)
    train(resolve_config("dcgan", [dict(base, steps=3)]), out=str(tmp_path / "half"), progress=False)
    resume(str(tmp_path / "half"), [{"steps": 6}], progress=False)
    a, b = (load_checkpoint(str(tmp_path / r / "checkpoints" / "ckpt-latest.pt")) for r in ("straight", "half"))
    assert {"scaler_G", "scaler_D"} <= set(a)
    for key in ("G", "D", "opt_G", "opt_D", "scaler_G", "scaler_D"):
        assert_close(a[key], b[key], rtol=0, atol=0)


def test_compile_with_a_gradient_penalty_keeps_d_eager(tiny_overrides):
    """aot_autograd cannot differentiate twice: with GP (or R1) only G is compiled, and it says so."""
    if compile_mod.compile_unavailable(torch.device("cpu")):
        pytest.skip("torch.compile is unavailable here")
    with pytest.warns(UserWarning, match="D stays eager because a gradient penalty differentiates it twice"):
        t = build_trainer(resolve_config("wgan-gp", [dict(tiny_overrides, compile=True)]), progress=False)
    a = t.algorithm
    assert hasattr(a.G_train, "_orig_mod") and a.D_train is t.D and a.D_frozen is t.D


def test_a_resumed_auto_run_keeps_the_precision_it_trained_in(tmp_path, tiny_overrides, monkeypatch):
    """precision auto is resolved once, at the run's start, and saved with each checkpoint: resumed on a
    CPU without bfloat16, a bf16 run continues in bf16 and says so, instead of switching silently."""
    from ganforge.runs import resume, train
    from ganforge.runtime.checkpoint import load_checkpoint

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    base = dict(tiny_overrides, steps=2, device="cpu", precision="auto", model={"g": {"width": 8}, "d": {"width": 8}})
    train(resolve_config("dcgan", [base]), out=str(tmp_path / "run"), progress=False)
    assert load_checkpoint(str(tmp_path / "run" / "checkpoints" / "ckpt-latest.pt"))["precision"] == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)  # another machine
    with pytest.warns(UserWarning, match="trained in bf16 and continues in bf16 \\(emulated here, so slower\\).*auto would pick fp32"):
        resume(str(tmp_path / "run"), [{"steps": 4}], progress=False)
    assert load_checkpoint(str(tmp_path / "run" / "checkpoints" / "ckpt-latest.pt"))["precision"] == "bf16"
    # a fresh auto run on this machine trains in fp32, with no warning
    t = build_trainer(resolve_config("dcgan", [base]), progress=False)
    assert t.precision.name == "fp32"
