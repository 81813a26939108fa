"""DINOv2 features (Oquab et al., 2023) through timm: the feature space Stein et al. (NeurIPS 2023,
"Exposing flaws of generative model evaluation metrics and their unfair treatment of diffusion models")
found to agree with people's judgements far better than Inception-v3's.

As in their dgm-eval code, an image becomes the ViT's final-norm CLS token (ViT-S/14: 384-D, ViT-B/14:
768-D, ViT-L/14: 1,024-D): quantised to 8 bits (a saved PNG), resized to 224x224, grey repeated to RGB,
normalised by the ImageNet mean and std, through the network; no class head, so no logits (IS and class
modes cannot be read from it).

    --resize legacy-tensor   antialiased bilinear on the quantised tensor (the offline evaluator's way)
    --resize pil-bicubic     clean-fid's PIL bicubic in float mode (dgm-eval's `--clean_resize`)

dgm-eval's default resizes with torchvision's bicubic on the PIL image, which neither method repeats
exactly: a DINOv2 score here is close to, not the same number as, dgm-eval's.

The network is timm's `vit_{small,base,large}_patch14_dinov2` built for 224x224. DINOv2 was trained at
518x518 (37x37 patches); at 224 it reads 16x16 patches, and its position embeddings are resampled once
at load exactly as DINOv2 does at run time (bicubic, no antialiasing, scale (16 + 0.1) / 37), not by
timm's own loader (antialiased), so a weights file gives the features the official network would.

Weights: `--features-weights PATH` names a local file: the official `dinov2_vits14_pretrain.pth` (and
vitb14/vitl14) from Meta's torch hub, or a state dict (.pth/.pt or .safetensors) of the timm model, such as
the Hugging Face hub's timm/vit_small_patch14_dinov2.lvd142m. Without one, the official file is
downloaded through torch.hub on first use (as torch-fidelity fetches Inception), and on a machine with
no network a GanforgeError names the file to fetch. `random_weights=True` skips the weights (tests and
speed benchmarks only: random features rank nothing); the card's extractor name then says so.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.hub import load_state_dict_from_url

from ..errors import GanforgeError
from ..runtime.checkpoint import load_failure_reason
from .features import FeatureExtractor, check_resize_method, resize_for_network, to_uint8

SIZE = 224  # the input side of Stein et al. (16x16 patches of 14 pixels)
PATCH = 14
# ImageNet mean and std (timm's IMAGENET_DEFAULT_*), which DINOv2 was trained with and dgm-eval uses.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# DINOv2 resamples its 37x37 position grid with scale (n + 0.1) / 37: a historical offset against
# round-off (facebookresearch/dino issue 8) that moves where the bicubic kernel samples.
INTERPOLATE_OFFSET = 0.1
OFFICIAL = "https://dl.fbaipublicfiles.com/dinov2"


@dataclass(frozen=True)
class Arch:
    timm_name: str
    label: str  # as the DINOv2 paper names it
    dim: int  # CLS token width = feature dimension

    @property
    def url(self) -> str:  # the official weights file of Meta's torch hub
        short = self.label.lower().replace("-", "").replace("/", "")  # 'ViT-S/14' -> 'vits14'
        return f"{OFFICIAL}/dinov2_{short}/dinov2_{short}_pretrain.pth"


ARCHS = {
    "dinov2-vits14": Arch("vit_small_patch14_dinov2", "ViT-S/14", 384),
    "dinov2-vitb14": Arch("vit_base_patch14_dinov2", "ViT-B/14", 768),
    "dinov2-vitl14": Arch("vit_large_patch14_dinov2", "ViT-L/14", 1024),
}


def _timm():
    try:
        import timm
    except ImportError:
        raise GanforgeError("DINOv2 features need timm: pip install 'ganforge[dinov2]' (or pip install timm)") from None
    return timm


def resample_position_embedding(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """(1, 1 + M*M, D) position embeddings (class token first) -> (1, 1 + grid*grid, D), as DINOv2's
    `interpolate_pos_encoding` does: bicubic, no antialiasing, scale factor (grid + 0.1) / M. Returned
    unchanged when already at `grid` or when the patch part is not a square (loading then says why)."""
    cls_pos, patch_pos = pos_embed[:, :1], pos_embed[:, 1:]
    m = math.isqrt(patch_pos.shape[1])
    if m == grid or m * m != patch_pos.shape[1]:
        return pos_embed
    scale = (grid + INTERPOLATE_OFFSET) / m
    x = patch_pos.float().reshape(1, m, m, -1).permute(0, 3, 1, 2)  # (1, D, M, M)
    x = F.interpolate(x, scale_factor=(scale, scale), mode="bicubic", antialias=False)
    assert x.shape[-2:] == (grid, grid), x.shape
    x = x.permute(0, 2, 3, 1).reshape(1, grid * grid, -1).to(pos_embed.dtype)
    return torch.cat([cls_pos, x], 1)


def read_weights(path: str | os.PathLike) -> dict:
    """A state dict from a local .pth/.pt (plain tensors only) or .safetensors file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise GanforgeError(f"--features-weights: no such file: {path}")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file

            return load_file(path, device="cpu")
        except Exception as e:  # a corrupt or foreign file: safetensors' own error, on one line
            raise GanforgeError(f"cannot read {path} as safetensors: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GanforgeError(f"{path} is not a plain PyTorch weights file: {load_failure_reason(e)}") from None


def _shape(t) -> str:
    return "x".join(str(d) for d in t.shape) or "scalar"


def load_weights(network: torch.nn.Module, state, source: str, arch: Arch) -> None:
    """Load DINOv2 weights (official or timm naming, any position grid) into timm's 224-px `network`;
    a GanforgeError naming `source` and the expected model when the file holds another network."""
    expected = f"DINOv2 {arch.label} weights ({arch.dim}-D; timm's {arch.timm_name} or {os.path.basename(arch.url)})"
    for key in ("model", "state_dict"):  # training checkpoints wrap the state dict
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanforgeError(f"{source} does not hold {expected}: it is not a state dict of tensors")
    state = dict(state)
    if state.get("pos_embed") is not None and state["pos_embed"].ndim == 3:
        state["pos_embed"] = resample_position_embedding(state["pos_embed"], SIZE // PATCH)
    from timm.models.vision_transformer import checkpoint_filter_fn

    try:  # timm renames the official keys (drops mask_token); positions are already at 16x16, so it keeps them
        state = checkpoint_filter_fn(state, network)
    except Exception as e:  # a foreign layout trips timm's converter somewhere: the file is not these weights
        raise GanforgeError(f"{source} does not hold {expected}: {type(e).__name__}: {e}") from None
    own = network.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        def some(keys):  # '174 tensors missing (cls_token, pos_embed, ...)'
            return f"{len(keys)} tensor{'s' if len(keys) > 1 else ''}", ", ".join(keys[:2]) + (", ..." if len(keys) > 2 else "")

        problems = []
        if mismatched:
            k = mismatched[0]
            problems.append(f"{some(mismatched)[0]} of other shapes ({k} is {_shape(state[k])}, not {_shape(own[k])})")
        if missing:
            problems.append("{} missing ({})".format(*some(missing)))
        if unexpected:
            problems.append("{} it does not have ({})".format(*some(unexpected)))
        raise GanforgeError(f"{source} does not hold {expected}: {'; '.join(problems)}")
    network.load_state_dict(state)


class DINOv2(FeatureExtractor):
    """DINOv2's CLS token at 224x224 (module docstring): (N, C, H, W) in [-1, 1] -> (N, dim)."""

    has_logits = False
    input_size = SIZE
    RESIZES = {
        "legacy-tensor": "legacy-tensor: uint8 quantisation, antialiased bilinear to 224x224, grey->RGB, ImageNet mean/std",
        "pil-bicubic": "pil-bicubic: uint8 quantisation, PIL bicubic per channel (float) to 224x224, grey->RGB, "
        "ImageNet mean/std",
    }

    def __init__(
        self, space: str = "dinov2-vits14", weights_path: str | os.PathLike | None = None,
        device: str | torch.device = "cpu", resize: str | None = None, random_weights: bool = False,
    ):  # fmt: skip
        if space not in ARCHS:
            raise GanforgeError(f"unknown DINOv2 model '{space}'; valid: {', '.join(ARCHS)}")
        if random_weights and weights_path is not None:
            raise GanforgeError("DINOv2: give a weights file or ask for random weights, not both")
        self.arch = ARCHS[space]
        self.space = space
        self.resize_method = check_resize_method(resize)
        self.resize = self.RESIZES[self.resize_method]
        self.name = self.arch.timm_name + (" (random weights)" if random_weights else "")
        timm = _timm()
        state, source = None, None  # read before the network is built, so a missing file fails at once
        if weights_path is not None:
            state, source = read_weights(weights_path), os.fspath(weights_path)
        elif not random_weights:
            try:
                state = load_state_dict_from_url(self.arch.url, map_location="cpu", weights_only=True)
            except Exception as e:  # no network, a proxy page, a partial file: all end in the same advice
                why = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise GanforgeError(
                    f"DINOv2 {self.arch.label} weights could not be downloaded ({why}); on a machine with a network "
                    f"download {self.arch.url}, copy it here and pass --features-weights PATH"
                ) from None
            source = self.arch.url
        network = timm.create_model(self.arch.timm_name, pretrained=False, num_classes=0, img_size=SIZE)
        if state is not None:
            load_weights(network, state, source, self.arch)
        super().__init__(network, device)
        self._mean = torch.tensor(MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(STD, device=self.device).view(1, 3, 1, 1)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] (N, 1 or 3, H, W) -> the network's (N, 3, 224, 224) input, ImageNet-normalised."""
        if images.shape[1] not in (1, 3):
            raise GanforgeError(f"DINOv2 takes grey or RGB images, got {images.shape[1]} channels")
        x = to_uint8(images).float() / 127.5 - 1.0  # as saved to PNG and read back
        x = resize_for_network(x, self.resize_method, SIZE)
        x = (x + 1.0) / 2.0  # [0, 1], as torchvision's ToTensor gives
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return (x - self._mean) / self._std

    def _forward(self, images):
        # timm's ViT with num_classes=0 and token pooling returns the final-norm CLS token: DINOv2's
        # x_norm_clstoken, what its torch hub model (and so dgm-eval) returns.
        return self.network(self.preprocess(images)), None
