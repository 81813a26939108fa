"""An endless, seeded, resumable stream of training batches.

Epoch e visits the data in the order randperm(n, seed + e): the order depends only on (seed, epoch), so
a resumed run that skips to (epoch, position) sees exactly the batches a straight run would. In-memory
datasets are indexed a whole batch at a time (no per-sample collation: much faster on a CPU); others go
through one DataLoader whose workers decode images.

That DataLoader reads an endless batch sampler (epoch after epoch), so it is built once: its workers live
for the whole run (what `persistent_workers` gives a loader rebuilt per epoch) and keep prefetching across
epoch boundaries, `prefetch_factor` batches each ahead of training. Batches come in pinned (page-locked)
memory when the device is CUDA and `pin_memory` is on, so the copy to the device runs asynchronously.

Under DistributedDataParallel `batch_size` stays the global batch and every rank walks the same global
order; rank r of K keeps the r-th K-th of each global batch (`part`). The K ranks' batches together are
one process's batch, every sample is seen once per epoch across ranks, and the position saved in a
checkpoint (epoch, global batch) resumes on any number of processes.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.base import InMemoryImages
from ..errors import GanforgeError


class _EndlessBatches(Sampler):
    """Index batches of epochs (epoch, from batch `position`), (epoch + 1, from 0), ... forever."""

    def __init__(self, stream: "BatchStream", epoch: int, position: int):
        self.stream, self.epoch, self.position = stream, epoch, position

    def __iter__(self) -> Iterator[list[int]]:
        epoch, position = self.epoch, self.position
        while True:
            yield from (idx[self.stream.part].tolist() for idx in self.stream.epoch_batches(epoch, position))
            epoch, position = epoch + 1, 0


class BatchStream:
    def __init__(
        self, dataset: Dataset, batch_size: int, seed: int, device, workers: int = 0,
        pin_memory: bool = True, prefetch_factor: int = 2, memory_format=torch.preserve_format,
        part: slice = slice(None),
    ):  # fmt: skip
        if len(dataset) < batch_size:
            from ..errors import DataError

            raise DataError(f"the dataset has {len(dataset)} items, fewer than one batch of {batch_size}")
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.device, self.workers = torch.device(device), workers
        self.pin_memory = pin_memory and self.device.type == "cuda"  # pinning helps only host-to-GPU copies
        self.prefetch_factor, self.memory_format = prefetch_factor, memory_format
        self.part = part  # this rank's slice of each global batch (all of it in one process)
        self.batches_per_epoch = len(dataset) // batch_size  # drop the last partial batch
        self.epoch, self.position = 0, 0
        self._iter = None

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position, self._iter = state["epoch"], state["position"], None

    def _order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.dataset), generator=g)

    def epoch_batches(self, epoch: int, position: int = 0) -> tuple[torch.Tensor, ...]:
        """Epoch `epoch`'s index batches from batch `position` on."""
        if position >= self.batches_per_epoch:  # a checkpoint taken after an epoch's last batch
            return ()
        order = self._order(epoch)[: self.batches_per_epoch * self.batch_size]
        return order[position * self.batch_size :].split(self.batch_size)

    def _in_memory(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.dataset.images, self.dataset.labels
        return ((images[idx], labels[idx]) for idx in _EndlessBatches(self, self.epoch, self.position))

    def _loader(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        loader = DataLoader(
            self.dataset,
            batch_sampler=_EndlessBatches(self, self.epoch, self.position),
            num_workers=self.workers,
            pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch_factor if self.workers > 0 else None,
            # A private generator: creating the loader must not draw from the global RNG (exact resume).
            generator=torch.Generator().manual_seed(self.seed),
        )
        return iter(loader)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (x, y) batch on the device."""
        if self._iter is None:
            self._iter = self._in_memory() if isinstance(self.dataset, InMemoryImages) else self._loader()
        try:
            x, y = next(self._iter)
        except GanforgeError as e:  # from a DataLoader worker: torch prepends the worker's traceback
            raise type(e)(str(e).strip().splitlines()[-1]) from None
        self.position += 1
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        non_blocking = self.pin_memory or self.device.type == "cuda"
        x = x.to(self.device, non_blocking=non_blocking)
        if x.dim() == 4 and self.memory_format is not torch.preserve_format:
            x = x.contiguous(memory_format=self.memory_format)
        return x, y.to(self.device, non_blocking=non_blocking)
