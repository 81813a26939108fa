"""torch.compile of the networks the training steps call, with a stated fallback.

The trainer keeps the bare modules (`Trainer.G`, `Trainer.D`) for checkpoints, EMA and sampling, so a
checkpoint's keys are the eager ones (never `_orig_mod.`); only the steps call the compiled wrappers,
which share the bare modules' parameters.

Fallback: where torch.compile cannot work here (a Python torch's dynamo does not support, or no C++
compiler for the CPU backend), `compile_module` warns once, naming the reason, and returns the module
itself: results are those of eager mode, only slower. A failure inside a compile that did start is
torch's own error, raised at the first step.
"""
from __future__ import annotations

import os
import shutil
import warnings

import torch

CXX_NAMES = ("c++", "g++", "clang++")


def compile_unavailable(device: torch.device) -> str | None:
    """Why torch.compile cannot run on `device` here, or None when it can."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    try:
        import torch._dynamo as dynamo

        if not dynamo.is_dynamo_supported():
            return "torch.compile (dynamo) does not support this Python/platform"
    except Exception as e:  # an import failure is as good as unsupported
        return f"torch.compile is unusable: {e}"
    if device.type == "cpu" and not (os.environ.get("CXX") or any(shutil.which(n) for n in CXX_NAMES)):
        return "torch.compile on a CPU needs a C++ compiler (set CXX, or install g++ or clang++)"
    return None


def compile_module(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """torch.compile(module), or module itself (with a warning) where compile is unavailable."""
    reason = compile_unavailable(device)
    if reason is not None:
        warnings.warn(f"compile=true ignored: {reason}; training runs eagerly (same results, slower)", stacklevel=2)
        return module
    return torch.compile(module)
