"""Feature extractors behind one small interface.

    ex.name             a short name for protocol cards ('inception-v3-compat', 'mnist-classifier', ...)
    ex.space            the feature space it gives ('inception', 'dinov2-vits14', 'evaluator', 'pixels', 'points')
    ex.weights_hash     SHA-256 of the network's state dict (see protocol.state_dict_sha256); None without weights
    ex.resize           how images are brought to the network's input size, in words
    ex.input_size       the side in pixels the network reads (299, 224, the classifier's); None: as given
    ex(images)          (N, C, H, W) in [-1, 1] -> (N, D) float32 features on the CPU
    ex.logits(images)   (N, K) class logits (for IS and mode coverage), where the network has them
    ex.features_and_logits(images)   both from one forward pass

The kinds:

- `InceptionV3` — the standard FID/KID/IS/precision-recall network, through torch-fidelity's port of the
  TensorFlow FID Inception: pool3 features (2,048-D) and 1,008 class logits (IS uses all of them, as
  torch-fidelity and the original IS code do).
  It is downloaded on first use on a networked machine; elsewhere pass the weights file
  (`--inception-weights PATH`); with neither, a GanforgeError says how to get the file.
- `ModuleFeatures` — the "offline evaluator": any classifier nn.Module with this contract:
      module(x)          -> (N, K) class logits, x (N, C, H, W) in [-1, 1]
      features           the input of a named layer (`feature_layer=`); else the input of its last
                         nn.Linear (the class head); else module.features(x); flattened to (N, D)
  at the module's own resolution and channels (give `image_size` and `channels` to have inputs resized
  first). A small classifier trained on the real data (tools/classify) fits this as it is.
- `PixelFeatures` — the pixels themselves, flattened: no network, no weights, always available.
- `DINOv2` (dinov2.py) — a self-supervised ViT's CLS token at 224x224, through timm.

Resizing to the network's input (`resize=`, the card's `resize` field starts with the method's name):

- `legacy-tensor` (the default): Inception — torch-fidelity's TF1-compatible bilinear on the uint8
  tensor, as the TensorFlow FID code that published FIDs come from; offline evaluator — antialiased
  bilinear on the float tensor (data/base.py `resize_images`).
- `pil-bicubic`: clean-fid's way (Parmar, Zhang & Zhu, CVPR 2022, "On Aliased Resizing and Surprising
  Subtleties in GAN Evaluation"): quantise to uint8 as a saved PNG, then resize each channel with PIL's
  BICUBIC in float ('F' mode, so the resized values are not re-quantised) and clip to [0, 255].
  For Inception the result is rounded to uint8 once more, because torch-fidelity's network only takes
  uint8 (clean-fid feeds the floats); at 299x299 its own bilinear step is then the identity.

Changing the default would move every existing score, so every extractor keeps `legacy-tensor` unless asked.
Cards written before this choice existed name no method; `resize_method(card.resize)` reads them as legacy;
cards written before feature spaces existed name none; `feature_space_of(card)` reads it off their extractor.

`extract(ex, images)` runs an extractor over many images in batches.
"""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import ConfigError, GanforgeError
from ..runtime.checkpoint import load_failure_reason
from .protocol import state_dict_sha256

RESIZE_METHODS = ("legacy-tensor", "pil-bicubic")
DEFAULT_RESIZE = "legacy-tensor"
INCEPTION_NAME = "inception-v3-compat"  # torch-fidelity's name for the TF-FID Inception port
POINTS_NAME = "points (identity)"  # 2D points are their own features (evaluator.PointFeatures)
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> [0, 255] uint8, rounding as saving a PNG with torchvision's save_image does."""
    return ((images.float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def check_resize_method(method: str | None) -> str:
    """`method`, or the default for None; an unknown name is a ConfigError listing the valid ones."""
    if method is None:
        return DEFAULT_RESIZE
    if method not in RESIZE_METHODS:
        raise ConfigError(f"unknown resize '{method}'; valid: {', '.join(RESIZE_METHODS)}")
    return method


def resize_method(card_resize: str | None) -> str | None:
    """The resize method a card's `resize` text names: its leading method name; 'legacy-tensor' for
    older cards that describe a resize without naming one; None where nothing was resized."""
    if not card_resize or card_resize.startswith("none"):
        return None
    head = card_resize.split(":", 1)[0]
    return head if head in RESIZE_METHODS else "legacy-tensor"


def feature_space_of(card: dict) -> str | None:
    """The feature space a metrics.jsonl line (a card's fields) was measured in: its `feature_space`, or for
    cards from before that field existed, what their extractor implies (Inception, 2D points, else the
    offline evaluator, the only other extractor there was); None where no features were used."""
    if card.get("feature_space"):
        return card["feature_space"]
    extractor = card.get("extractor")
    if not extractor:
        return None
    return {INCEPTION_NAME: "inception", POINTS_NAME: "points"}.get(extractor, "evaluator")


def pil_bicubic_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) uint8 -> (N, C, size, size) float32 in [0, 255]: each channel resized by PIL's BICUBIC
    in float ('F') mode and clipped, as clean-fid's 'clean' resizer."""
    from PIL import Image

    if images.dtype != torch.uint8:
        raise GanforgeError(f"pil-bicubic resizes uint8 images, got {images.dtype}")
    out = torch.empty(*images.shape[:2], size, size)
    for i, image in enumerate(images.numpy()):
        for c, channel in enumerate(image):
            resized = Image.fromarray(channel.astype("float32")).resize((size, size), Image.BICUBIC)
            out[i, c] = torch.from_numpy(np.asarray(resized).copy())
    return out.clamp_(0, 255)


def pil_resize_float(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """[-1, 1] (N, C, H, W) -> size x size by `pil_bicubic_resize` (centre-cropped to a square first, as
    `resize_images` does), back in [-1, 1]; unchanged when already that size."""
    if size is None or images.shape[-2:] == (size, size):
        return images
    h, w = images.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = to_uint8(images[..., top : top + side, left : left + side]).cpu()
    return (pil_bicubic_resize(x, size) / 127.5 - 1.0).to(images.device)


def resize_for_network(images: torch.Tensor, method: str, size: int | None, channels: int | None = None) -> torch.Tensor:
    """[-1, 1] (N, C, H, W) -> `channels` (None: as given) at size x size (None: as given), by the resize
    `method` (`legacy-tensor`: data/base.py's antialiased bilinear; `pil-bicubic`: `pil_resize_float`)."""
    from ..data.base import resize_images

    if method == "pil-bicubic":
        return pil_resize_float(resize_images(images, None, channels), size)  # channels first, then PIL
    return resize_images(images, size, channels)


class FeatureExtractor:
    """Base of the interface above; subclasses implement `_forward(images) -> (features, logits | None)`."""

    name: str = "extractor"
    space: str = "evaluator"
    resize: str = "none"
    input_size: int | None = None
    has_logits: bool = False

    def __init__(self, network: nn.Module, device: str | torch.device = "cpu"):
        self.network = network.to(device).eval()
        self.device = torch.device(device)
        self._hash: str | None = None

    @property
    def weights_hash(self) -> str | None:
        if self._hash is None:  # hashing 24M Inception weights takes a moment: do it once, when asked
            self._hash = state_dict_sha256(self.network)
        return self._hash

    def describe(self) -> dict:
        """Protocol-card fields for features from this extractor (to splat into EvalInputs)."""
        return {
            "extractor": self.name, "extractor_weights_sha256": self.weights_hash, "resize": self.resize,
            "feature_space": self.space, "input_size": self.input_size,
        }  # fmt: skip

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    @torch.no_grad()
    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if images.ndim != 4:
            raise GanforgeError(f"feature extractors take (N, C, H, W) images, got shape {tuple(images.shape)}")
        features, logits = self._forward(images.to(self.device))
        return features.float().cpu(), (logits.float().cpu() if logits is not None else None)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[0]

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        if not self.has_logits:
            raise ConfigError(f"feature extractor '{self.name}' gives no class logits (needed by IS and modes)")
        return self.features_and_logits(images)[1]


class InceptionV3(FeatureExtractor):
    """torch-fidelity's TF-compatible Inception-v3: pool3 features (2,048) and class logits (1,008).

    Images are quantised to 8 bits (as a saved PNG), grey is repeated to RGB, and torch-fidelity resizes
    to 299x299 with its TensorFlow-1.x-compatible bilinear interpolation, so scores match published FIDs
    (`resize="legacy-tensor"`); `resize="pil-bicubic"` resizes as clean-fid first (module docstring).
    """

    name = INCEPTION_NAME
    space = "inception"
    has_logits = True
    SIZE = 299
    input_size = SIZE
    RESIZES = {
        "legacy-tensor": "legacy-tensor: uint8 quantisation, grey->RGB, torch-fidelity TF1-compatible bilinear "
        "to 299x299",
        "pil-bicubic": "pil-bicubic: uint8 quantisation, PIL bicubic per channel (float) to 299x299, rounded to "
        "uint8, grey->RGB",
    }

    def __init__(
        self, weights_path: str | os.PathLike | None = None, device: str | torch.device = "cpu", resize: str | None = None
    ):
        self.resize_method = check_resize_method(resize)
        self.resize = self.RESIZES[self.resize_method]
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError:
            raise GanforgeError(
                "Inception-v3 metrics need torch-fidelity: pip install torch-fidelity"
            ) from None
        if weights_path is not None:
            if not os.path.isfile(weights_path):
                raise GanforgeError(f"--inception-weights: no such file: {weights_path}")
            # torch-fidelity unpickles the file with weights_only=False; refuse anything but plain tensors first.
            try:
                torch.load(weights_path, map_location="cpu", weights_only=True)
            except Exception as e:
                raise GanforgeError(f"{weights_path} is not a plain PyTorch weights file: {load_failure_reason(e)}") from None
        # 'logits_unbiased' are the 1,008 logits without the bias term: torch-fidelity's choice for IS.
        features_list = ["2048", "logits_unbiased"]
        try:
            network = FeatureExtractorInceptionV3(
                INCEPTION_NAME, features_list, feature_extractor_weights_path=weights_path, verbose=False
            )
        except OSError as e:  # URLError is an OSError: no network, or the file could not be read
            if weights_path is None:
                raise GanforgeError(
                    f"Inception-v3 weights are needed for FID/KID/IS/precision-recall and could not be downloaded "
                    f"({e}). On a machine with a network, download\n  {INCEPTION_URL}\ncopy the file here and pass "
                    "--inception-weights PATH (or score with an offline evaluator instead)."
                ) from None
            raise GanforgeError(f"cannot read Inception-v3 weights from {weights_path}: {e}") from None
        except (RuntimeError, KeyError, ValueError) as e:  # a file that is not this network's state dict
            raise GanforgeError(f"{weights_path} does not hold torch-fidelity Inception-v3 weights: {e}") from None
        super().__init__(network, device)

    def _forward(self, images):
        x = to_uint8(images)
        if self.resize_method == "pil-bicubic" and x.shape[-2:] != (self.SIZE, self.SIZE):
            x = pil_bicubic_resize(x.cpu(), self.SIZE).round().to(torch.uint8).to(images.device)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        elif x.shape[1] != 3:
            raise GanforgeError(f"Inception-v3 takes grey or RGB images, got {x.shape[1]} channels")
        # All 1,008 logits, as the original IS code and torch-fidelity use them (8 are unused TF classes).
        features, logits = self.network(x)
        return features, logits


class ModuleFeatures(FeatureExtractor):
    """A classifier as evaluator: logits from its forward, features from `features(x)` or a feature layer.

    Features are, in order of preference: the input of the submodule named `feature_layer`; else the
    input of the module's last nn.Linear (in registration order), which in a classifier is the
    penultimate representation fed to the class head (pooled, for the tools/classify Darknets); else
    `module.features(x)`. Features are flattened to (N, D).
    """

    has_logits = True

    def __init__(
        self,
        module: nn.Module,
        name: str | None = None,
        feature_layer: str | None = None,
        image_size: int | None = None,
        channels: int | None = None,
        device: str | torch.device = "cpu",
        resize: str | None = None,
    ):
        self.resize_method = check_resize_method(resize)
        self._layer = None
        if feature_layer is not None:
            try:
                self._layer = module.get_submodule(feature_layer)
            except AttributeError:
                names = [n for n, _ in module.named_modules() if n]
                raise ConfigError(
                    f"{type(module).__name__} has no layer '{feature_layer}'; layers: {', '.join(names)}"
                ) from None
        else:
            linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
            if linears:
                self._layer = linears[-1]
            elif not callable(getattr(module, "features", None)):
                raise ConfigError(
                    f"{type(module).__name__} cannot serve as an evaluator: give it a features(x) method returning "
                    "(N, D) features, or name its feature layer; its forward(x) must return (N, K) class logits"
                )
        self.name = name or type(module).__name__
        self.image_size, self.channels = image_size, channels
        self.input_size = image_size
        how = {"legacy-tensor": "antialiased bilinear", "pil-bicubic": "uint8 quantisation, PIL bicubic per channel"}
        self.resize = (
            f"{self.resize_method}: {how[self.resize_method]} to {image_size}x{image_size}"
            if image_size else "none (native resolution)"
        ) + (f", {channels} channels" if channels else "")  # fmt: skip
        super().__init__(module, device)

    def _forward(self, images):
        if self.image_size is not None or self.channels is not None:
            images = resize_for_network(images, self.resize_method, self.image_size, self.channels)
        if self._layer is None:
            features, logits = self.network.features(images).flatten(1), self.network(images)
        else:
            captured = []
            hook = self._layer.register_forward_pre_hook(lambda mod, args: captured.append(args[0].flatten(1)))
            try:
                logits = self.network(images)
            finally:
                hook.remove()
            if len(captured) != 1:
                raise GanforgeError(f"the feature layer of {self.name} ran {len(captured)} times in one forward")
            features = captured[0]
        if features.ndim != 2 or logits.ndim != 2:
            raise GanforgeError(
                f"{self.name} must give (N, D) features and (N, K) logits, "
                f"got {tuple(features.shape)} and {tuple(logits.shape)}"
            )
        return features, logits


class PixelFeatures(FeatureExtractor):
    """The pixels as features: (N, C, H, W) in [-1, 1] -> (N, C*H*W), at the data's own size unless
    `size` is given (then resized by `resize` as the offline evaluator is). No network and no weights
    (`weights_hash` is None): cheap and always there, but blind to what makes images alike to a person —
    a one-pixel shift moves a sample far. FID's covariance is D x D, so its cost grows as D^3: fine up to
    32x32 RGB (3,072-D), slow beyond."""

    name = "pixels"
    space = "pixels"

    def __init__(
        self, size: int | None = None, native_size: int | None = None, device: str | torch.device = "cpu",
        resize: str | None = None,
    ):  # fmt: skip
        self.resize_method = check_resize_method(resize)
        self.size = size
        self.input_size = size or native_size  # the card names the side the pixels were read at
        how = {"legacy-tensor": "antialiased bilinear", "pil-bicubic": "uint8 quantisation, PIL bicubic per channel"}
        self.resize = f"{self.resize_method}: {how[self.resize_method]} to {size}x{size}" if size else "none (the data's own size)"
        super().__init__(nn.Identity(), device)

    @property
    def weights_hash(self) -> None:
        return None  # nothing learned to hash

    def _forward(self, images):
        if self.size is not None:
            images = resize_for_network(images, self.resize_method, self.size)
        return images.flatten(1), None


def inception_v3(
    weights_path: str | os.PathLike | None = None, device: str | torch.device = "cpu", resize: str | None = None
) -> InceptionV3:
    """The standard Inception-v3 extractor (see `InceptionV3`); `weights_path` is --inception-weights,
    `resize` one of RESIZE_METHODS (None: legacy-tensor)."""
    return InceptionV3(weights_path, device, resize)


def extract(
    extractor: FeatureExtractor, images: torch.Tensor | Iterable, batch_size: int = 100, logits: bool = False,
    desc: str = "features",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features (N, D) and, when `logits`, logits (N, K) of many images.

    `images` is one (N, C, H, W) tensor (split into `batch_size` batches) or an iterable of batches,
    each a tensor or an (images, labels) pair as a DataLoader yields. A progress bar named `desc` counts
    the images on stderr when it is a terminal (Inception on a CPU takes minutes for a few thousand).
    """
    if logits and not extractor.has_logits:
        raise ConfigError(f"feature extractor '{extractor.name}' gives no class logits")
    total = len(images) if isinstance(images, torch.Tensor) else None
    batches = images.split(batch_size) if isinstance(images, torch.Tensor) else images
    feats, outs = [], []
    # disable=None: tqdm shows the bar only when stderr is a terminal, so pipes, logs and tests stay quiet.
    with tqdm(total=total, desc=desc, unit="img", disable=None, leave=False) as bar:
        for batch in batches:
            if isinstance(batch, (tuple, list)):
                batch = batch[0]
            f, lg = extractor.features_and_logits(batch)
            feats.append(f)
            if logits:
                outs.append(lg)
            bar.update(len(batch))
    if not feats:
        raise GanforgeError("no images to extract features from")
    return torch.cat(feats), (torch.cat(outs) if logits else None)
