"""The history of generated images that CycleGAN's discriminators see (Shrivastava et al. 2017, used by
Zhu et al. 2017 sec. 4): D is updated on images from a buffer of the last `size` generated images
rather than only the newest, so it does not forget what G did a few steps ago (less oscillation).

query(images): each image of the batch, while the buffer is not full, goes into it and is returned
itself. Once full, with probability 1/2 the image is returned itself; otherwise a random stored image
is returned and the new image takes its place. size 0 turns the pool off. The coin and the slot come
from a private torch.Generator (seeded, checkpointed), so a resumed run draws exactly the same.
"""
from __future__ import annotations

import torch


class ImagePool:
    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """A batch like `images` (detached): the new images or, half of the time once full, older ones."""
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for image in images:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() < 0.5:
                out.append(image)
            else:
                slot = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[slot])
                self.images[slot] = image.clone()
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {
            "images": torch.stack(self.images).cpu() if self.images else torch.zeros(0),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict, device=None) -> None:
        stored = state["images"]
        self.images = [image.to(device) if device is not None else image for image in stored] if stored.numel() else []
        self.generator.set_state(state["generator"])
