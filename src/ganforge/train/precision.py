"""Mixed precision for the training loop: autocast for the forward passes, and for fp16 a GradScaler
per network (G and D see very different loss scales, so one shared scale would skip both networks'
steps whenever either overflows).

  fp32  plain float32, no autocast (the reference every other option is tested against)
  bf16  torch.autocast(dtype=bfloat16): float32's range, 8 bits of mantissa; no loss scaling needed
  fp16  torch.autocast(dtype=float16) + GradScaler: float16 underflows small gradients, so the loss is
        multiplied by a running scale before backward and the gradients divided by it before the step
        (steps whose gradients overflow are skipped and the scale lowered). CUDA only here.
  auto  bf16 where the device computes bfloat16 natively (`native_bf16`: a CUDA GPU with bf16, a CPU
        with AMX tiles or AVX-512 BF16), else fp32: bfloat16 emulated on an older CPU is slower than
        float32, so asking for bf16 everywhere would slow the very laptops it should speed up.

Losses run under autocast too: torch computes the *_with_logits losses in float32 by itself.
The gradient and R1 penalties differentiate D's output unscaled; their inner gradients are O(1) by
construction, which fits fp16's range.
"""
from __future__ import annotations

import contextlib

import torch

from ..errors import ConfigError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
CHOICES = (*DTYPES, "auto")


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively, i.e. faster than float32 (the CPU checks are torch's
    own cpuinfo probes, private in torch.cpu, hence the fallback to False)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
        return any(probe is not None and probe() for probe in probes)
    return False


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision a run trains in: `name`, or for "auto" bf16 or fp32 as `native_bf16` says."""
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return name


class Precision:
    """Autocast context, backward and optimizer step for one precision, per network ('G', 'D')."""

    def __init__(self, name: str, device: torch.device):
        if name not in CHOICES:
            raise ConfigError(f"unknown precision '{name}'; valid: {', '.join(CHOICES)}")
        name = resolve_precision(name, device)
        if name == "fp16" and device.type != "cuda":
            raise ConfigError(
                f"precision=fp16 needs a CUDA device (the device is {device.type}): float16 autocast with "
                "loss scaling is a GPU technique; on a CPU use precision=bf16 or fp32"
            )
        self.name, self.device, self.dtype = name, device, DTYPES[name]
        # One scaler per network; none for fp32/bf16 (bfloat16 has float32's exponent range).
        self.scalers = {net: torch.amp.GradScaler(device.type) for net in ("G", "D")} if name == "fp16" else {}

    def autocast(self):
        """The context the forward passes and losses run in."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward(self, net: str, loss: torch.Tensor) -> None:
        scaler = self.scalers.get(net)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def step(self, net: str, optimizer: torch.optim.Optimizer) -> None:
        """optimizer.step(), through the network's scaler under fp16 (which skips overflowing steps).
        With a fused optimizer the scaler hands it the inverse scale and the overflow flag as tensors,
        so no value is copied to the host; other optimizers make it check the flag on the host."""
        scaler = self.scalers.get(net)
        if scaler is None:
            optimizer.step()
            return
        scaler.step(optimizer)
        scaler.update()

    def state_dict(self) -> dict:
        """{'scaler_G': ..., 'scaler_D': ...} under fp16; empty otherwise."""
        return {f"scaler_{net}": scaler.state_dict() for net, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict) -> None:
        for net, scaler in self.scalers.items():
            saved = state.get(f"scaler_{net}")
            if saved:  # a checkpoint from an fp16 run (resuming keeps the precision: see RESUMABLE_KEYS)
                scaler.load_state_dict(saved)
