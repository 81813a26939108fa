"""Batches of (A, B) image pairs for translation, with CycleGAN/pix2pix's jitter, resumable exactly.

Epoch e has L = max(|A|, |B|) items (CycleGAN: an epoch is the larger domain; pix2pix: the pairs).
Unpaired: A's order and B's order are independent shuffles (each domain's permutations repeated
until L long), so an A image meets a different B image every epoch. Paired: one shuffle for both.
Jitter (Isola et al. 2017, sec. 6.2): the images are stored at the load size; each item is cropped
at a random place to the training size and, with `flip`, mirrored with probability 1/2. Paired
items get the same crop and flip on both sides; unpaired sides draw their own.
Every draw comes from a generator seeded by (seed, epoch, position): the stream's state is just
(epoch, position), and a resumed run sees exactly the batches of a straight one.
"""
from __future__ import annotations

import torch

from ..data.domains import to_float
from ..errors import DataError


class TranslationBatches:
    def __init__(self, images_a: torch.Tensor, images_b: torch.Tensor, batch_size: int, size: int, seed: int,
                 device, paired: bool, flip: bool = True):  # fmt: skip
        if paired and len(images_a) != len(images_b):
            raise DataError(f"paired data need as many A as B images, got {len(images_a)} and {len(images_b)}")
        self.images_a, self.images_b = images_a, images_b
        self.length = max(len(images_a), len(images_b))
        if self.length < batch_size:
            raise DataError(f"the larger domain has {self.length} images, fewer than one batch of {batch_size}")
        self.batch_size, self.size, self.seed = batch_size, size, seed
        self.device, self.paired, self.flip = torch.device(device), paired, flip
        self.batches_per_epoch = self.length // batch_size  # the last partial batch is dropped
        self.epoch, self.position = 0, 0
        self._orders: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = state["epoch"], state["position"]

    def _order(self, n: int, stream: int) -> torch.Tensor:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 4 + stream)
        perms = [torch.randperm(n, generator=g) for _ in range(-(-self.length // n))]
        return torch.cat(perms)[: self.length]

    def orders(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This epoch's item orders of A and B (length L each)."""
        if self._orders is None or self._orders[0] != self.epoch:
            a = self._order(len(self.images_a), 0)
            b = a if self.paired else self._order(len(self.images_b), 1)
            self._orders = (self.epoch, a, b)
        return self._orders[1], self._orders[2]

    def _jitter(self, images: torch.Tensor, g: torch.Generator, draws=None):
        """Random crops to `size` (and flips); returns (crops, draws) so a paired side reuses them."""
        n, load = len(images), images.shape[-1]
        if draws is None:
            tops = torch.randint(0, load - self.size + 1, (n,), generator=g)
            lefts = torch.randint(0, load - self.size + 1, (n,), generator=g)
            flips = torch.rand(n, generator=g) < 0.5 if self.flip else torch.zeros(n, dtype=torch.bool)
            draws = (tops, lefts, flips)
        tops, lefts, flips = draws
        crops = torch.stack([img[:, t : t + self.size, l : l + self.size] for img, t, l in zip(images, tops.tolist(), lefts.tolist())])
        crops[flips] = crops[flips].flip(-1)
        return crops, draws

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (real_A, real_B) batch in [-1, 1] on the device."""
        order_a, order_b = self.orders()
        span = slice(self.position * self.batch_size, (self.position + 1) * self.batch_size)
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_003 + self.position)
        a, draws = self._jitter(self.images_a[order_a[span]], g)
        b, _ = self._jitter(self.images_b[order_b[span]], g, draws if self.paired else None)
        self.position += 1
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        return to_float(a).to(self.device), to_float(b).to(self.device)
