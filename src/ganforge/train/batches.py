"""An endless, seeded, resumable stream of training batches.

Epoch e visits the data in the order randperm(n, seed + e): the order depends only on (seed, epoch), so
a resumed run that skips to (epoch, position) sees exactly the batches a straight run would. In-memory
datasets are indexed a whole batch at a time (no per-sample collation: much faster on a CPU); others go
through a DataLoader whose workers decode images.
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.base import InMemoryImages


class _FixedOrder(Sampler):
    def __init__(self, indices: list[int]):
        self.indices = indices

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


class BatchStream:
    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device, workers: int = 0):
        if len(dataset) < batch_size:
            from ..errors import DataError

            raise DataError(f"the dataset has {len(dataset)} items, fewer than one batch of {batch_size}")
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.device, self.workers = torch.device(device), workers
        self.batches_per_epoch = len(dataset) // batch_size  # drop the last partial batch
        self.epoch, self.position = 0, 0
        self._iter = None

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position, self._iter = state["epoch"], state["position"], None

    def _order(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(len(self.dataset), generator=g)

    def _start_epoch(self):
        order = self._order()[: self.batches_per_epoch * self.batch_size]
        todo = order[self.position * self.batch_size :]
        if isinstance(self.dataset, InMemoryImages):
            images, labels = self.dataset.images, self.dataset.labels
            return ((images[idx], labels[idx]) for idx in todo.split(self.batch_size))
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=_FixedOrder(todo.tolist()),
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            drop_last=True,
            # A private generator: creating the loader must not draw from the global RNG (exact resume).
            generator=torch.Generator().manual_seed(self.seed + self.epoch),
        )
        return iter(loader)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (x, y) batch on the device."""
        if self._iter is None:
            self._iter = self._start_epoch()
        try:
            x, y = next(self._iter)
        except StopIteration:
            self.epoch, self.position = self.epoch + 1, 0
            self._iter = self._start_epoch()
            x, y = next(self._iter)
        self.position += 1
        non_blocking = self.device.type == "cuda"
        return x.to(self.device, non_blocking=non_blocking), y.to(self.device, non_blocking=non_blocking)
