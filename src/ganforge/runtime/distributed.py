"""Many processes, one training run: DistributedDataParallel under `torchrun` (docs/speed.md).

torchrun starts one process per device and tells each its place through environment variables (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). `setup` reads them: with WORLD_SIZE > 1 it joins the
process group (NCCL on CUDA, one GPU per process, cuda:LOCAL_RANK; gloo on CPUs); without them it is a
plain single process and nothing here does anything.

How a run stays the same computation whatever the number of processes K:
  - `batch_size` is the global batch B; each rank trains on B / K samples of it (B % K == 0);
  - every rank draws the same global random numbers (same seed, same draws) and keeps its slice, so the
    K ranks' batches and noise together are exactly one process's batch and noise;
  - DDP averages the gradients of the ranks' mean losses: the gradient of the global mean loss;
  - rank 0 alone writes files (run folder, stats, samples, checkpoints); checkpoints hold bare modules.
Importing this module starts nothing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..devices import resolve_device
from ..errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place: rank r of world_size processes (1: no distribution at all)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and talks to the user."""
        return self.rank == 0

    def local_slice(self, global_size: int) -> slice:
        """This rank's part of a global batch of `global_size` (rank r: the r-th of K equal parts)."""
        if global_size % self.world_size:
            raise ConfigError(
                f"batch_size {global_size} does not split evenly over {self.world_size} processes; "
                f"use a multiple of {self.world_size} (batch_size is the global batch)"
            )
        n = global_size // self.world_size
        return slice(self.rank * n, (self.rank + 1) * n)


def env_world() -> World:
    """The World torchrun's environment variables describe (a single process without them)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return World()
    return World(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def setup(device_name: str) -> tuple[World, torch.device]:
    """Join the process group torchrun set up (once per process) and pick this rank's device."""
    world = env_world()
    device = resolve_device(device_name)
    if not world.enabled:
        return world, device
    if device.type == "cuda":
        # One GPU per process: cuda:LOCAL_RANK, whatever index the config named.
        if world.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"process {world.rank} has local rank {world.local_rank} but this machine has "
                f"{torch.cuda.device_count()} CUDA devices; start at most that many processes per machine"
            )
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world, device


def wrap(module: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """DDP around `module` (its gradients averaged over ranks in backward); the module itself when alone."""
    if not world.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None)


def sync_batchnorm(module: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """BatchNorm layers that normalise with the statistics of the global batch (SyncBatchNorm)."""
    if not world.enabled:
        return module  # one process: BatchNorm already sees the whole batch
    if device.type != "cuda":
        raise ConfigError(
            "sync_batchnorm=true needs CUDA devices: torch's SyncBatchNorm refuses CPU tensors (gloo). "
            "Set sync_batchnorm=false (each process normalises its own B/K samples) or train on GPUs"
        )
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)


def mean_over_ranks(values: dict[str, float], world: World, device: torch.device) -> dict[str, float]:
    """Each statistic averaged over the ranks (one all-reduce; every rank must call it, same keys)."""
    if not world.enabled or not values:
        return values
    names = list(values)
    t = torch.tensor([values[n] for n in names], dtype=torch.float64 if device.type == "cpu" else torch.float32, device=device)
    dist.all_reduce(t)
    return dict(zip(names, (t / world.world_size).tolist()))


def gather_rows(fn, x: torch.Tensor, world: World, device: torch.device):
    """fn(x) for a row-wise fn, its work split over the ranks: rank r applies fn to the r-th of K
    contiguous parts of x's rows, and every rank gets all the parts' results back in row order.

    Every rank must call it with the same x (collective). fn returns a tensor or a tuple of tensors
    (None entries pass through). The last part is padded to the others' length by repeating the last
    row, and the padding's results dropped: all_gather wants equal shapes. Results travel through
    `device` (NCCL gathers CUDA tensors) and come back on the device fn put them on."""
    if not world.enabled:
        return fn(x)
    n = len(x)
    per = -(-n // world.world_size)  # ceil
    padded = torch.cat([x, x[-1:].expand(per * world.world_size - n, *x.shape[1:])]) if n % world.world_size else x
    mine = fn(padded[world.rank * per : (world.rank + 1) * per])
    outputs = mine if isinstance(mine, tuple) else (mine,)
    gathered = []
    for out in outputs:
        if out is None:
            gathered.append(None)
            continue
        parts = [torch.empty_like(out, device=device) for _ in range(world.world_size)]
        dist.all_gather(parts, out.to(device).contiguous())
        gathered.append(torch.cat(parts)[:n].to(out.device))
    return tuple(gathered) if isinstance(mine, tuple) else gathered[0]


def teardown() -> None:
    """Wait for every rank (rank 0 may still be writing), then leave the process group."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
