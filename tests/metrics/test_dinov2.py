"""DINOv2 features through timm, with random weights (no download, no pretrained file): the CLS token's
shape and preprocessing, DINOv2's own position resampling for official checkpoints, and clear errors for
a missing network, a foreign weights file and a missing timm."""
import copy
import sys
import urllib.error

import pytest
import torch
import torch.nn.functional as F

# timm is in the test extra (the feature space itself is the optional 'dinov2' extra): no skip without it
from ganforge.errors import ConfigError, GanforgeError
from ganforge.metrics import dinov2
from ganforge.metrics.dinov2 import ARCHS, DINOv2, load_weights, resample_position_embedding
from ganforge.metrics.features import pil_bicubic_resize, resize_method, to_uint8
from ganforge.metrics.protocol import state_dict_sha256

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def images(n=4, c=1, size=28, seed=0):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module")
def vits14():
    torch.manual_seed(0)
    return DINOv2("dinov2-vits14", random_weights=True)


def test_vits14_gives_one_384_d_cls_token_per_image(vits14):
    x = images()
    feats, logits = vits14.features_and_logits(x)
    assert feats.shape == (4, 384) == (4, ARCHS["dinov2-vits14"].dim) and logits is None and feats.isfinite().all()
    # the final-norm CLS token of the network on the preprocessed batch (DINOv2's x_norm_clstoken)
    with torch.no_grad():
        cls = vits14.network.forward_features(vits14.preprocess(x))[:, 0]
    torch.testing.assert_close(feats, cls)
    assert vits14.describe() == {
        "extractor": "vit_small_patch14_dinov2 (random weights)", "extractor_weights_sha256": state_dict_sha256(vits14.network),
        "resize": "legacy-tensor: uint8 quantisation, antialiased bilinear to 224x224, grey->RGB, ImageNet mean/std",
        "feature_space": "dinov2-vits14", "input_size": 224,
    }  # fmt: skip
    with pytest.raises(ConfigError, match="gives no class logits"):
        vits14.logits(x)


def test_input_is_quantised_rgb_224_with_imagenet_statistics(vits14):
    x = images(n=2, c=1, size=224)
    expected = (to_uint8(x).float() / 255).repeat(1, 3, 1, 1)  # already 224: the resize leaves it
    torch.testing.assert_close(vits14.preprocess(x), (expected - IMAGENET_MEAN) / IMAGENET_STD)
    small = vits14.preprocess(images(n=2, c=3, size=16))
    assert small.shape == (2, 3, 224, 224)


def test_pil_bicubic_resize_applies_to_dinov2(vits14, monkeypatch):
    # the same network under the other resize (building a second one would only cost time)
    pil = copy.copy(vits14)
    pil.resize_method, pil.resize = "pil-bicubic", DINOv2.RESIZES["pil-bicubic"]
    x = images(n=2, c=1, size=20)
    resized = pil_bicubic_resize(to_uint8(x), 224) / 255  # float-mode PIL bicubic, not re-quantised
    expected = (resized.repeat(1, 3, 1, 1) - IMAGENET_MEAN) / IMAGENET_STD
    torch.testing.assert_close(pil.preprocess(x), expected, rtol=0, atol=1e-5)
    assert resize_method(pil.describe()["resize"]) == "pil-bicubic"
    assert not torch.allclose(pil.preprocess(x), vits14.preprocess(x))


def official_layout(network, seed=1):
    """A state dict as Meta's dinov2_vits14_pretrain.pth lays it out: the same tensor names as timm's,
    plus mask_token, and position embeddings for 518x518 (37x37 patches + the class token)."""
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(v.shape, generator=g) for k, v in network.state_dict().items()}
    state["mask_token"] = torch.zeros(1, 384)
    state["pos_embed"] = torch.randn(1, 1 + 37 * 37, 384, generator=g)
    return state


def test_an_official_checkpoint_loads_with_dinov2s_own_position_resampling(vits14, tmp_path):
    state = official_layout(vits14.network)
    torch.save(state, tmp_path / "dinov2_vits14_pretrain.pth")
    ex = DINOv2("dinov2-vits14", tmp_path / "dinov2_vits14_pretrain.pth")
    # DINOv2's interpolate_pos_encoding at 224: bicubic, no antialiasing, scale (16 + 0.1) / 37
    grid = state["pos_embed"][:, 1:].reshape(1, 37, 37, 384).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(16.1 / 37, 16.1 / 37), mode="bicubic", antialias=False)
    expected = torch.cat([state["pos_embed"][:, :1], grid.permute(0, 2, 3, 1).reshape(1, 256, 384)], 1)
    torch.testing.assert_close(ex.network.pos_embed.detach(), expected, rtol=0, atol=0)
    torch.testing.assert_close(ex.network.blocks[5].attn.qkv.weight.detach(), state["blocks.5.attn.qkv.weight"], rtol=0, atol=0)
    assert ex.name == "vit_small_patch14_dinov2" and ex.weights_hash == state_dict_sha256(ex.network)
    assert resample_position_embedding(ex.network.pos_embed, 16) is ex.network.pos_embed  # at 16x16 already


class NotAllowlisted:
    """A plain class that torch's weights_only allowlist does not know."""


def test_weights_of_another_network_are_refused(vits14, tmp_path):
    foreign = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(8, 3, 3, 3), "fc.weight": torch.zeros(10, 8)}, foreign)
    with pytest.raises(GanforgeError) as e:
        DINOv2("dinov2-vits14", foreign)
    assert str(foreign) in str(e.value) and "does not hold DINOv2 ViT-S/14 weights" in str(e.value)
    assert "vit_small_patch14_dinov2" in str(e.value) and "missing" in str(e.value)
    # a ViT-B/14 file for ViT-S/14: the names fit, the widths do not
    wider = official_layout(vits14.network)
    wider["patch_embed.proj.weight"] = torch.zeros(768, 3, 14, 14)
    with pytest.raises(GanforgeError, match=r"vitb14\.pth does not hold DINOv2 ViT-S/14.*patch_embed\.proj\.weight is 768x3x14x14, not 384x3x14x14"):
        load_weights(copy.deepcopy(vits14.network), wider, "vitb14.pth", ARCHS["dinov2-vits14"])
    with pytest.raises(GanforgeError, match="no such file"):
        DINOv2("dinov2-vits14", tmp_path / "missing.pth")
    torch.save({"w": torch.zeros(1), "x": NotAllowlisted()}, tmp_path / "pickled.pth")
    with pytest.raises(GanforgeError, match="not a plain PyTorch weights file"):
        DINOv2("dinov2-vits14", tmp_path / "pickled.pth")


def test_offline_without_a_weights_file_says_where_to_get_it(monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(dinov2, "load_state_dict_from_url", no_network)
    with pytest.raises(GanforgeError) as e:
        DINOv2("dinov2-vitl14")
    message = str(e.value)
    assert "\n" not in message and "--features-weights PATH" in message and "Name or service not known" in message
    assert "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth" in message


def test_without_timm_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # what an uninstalled package looks like to import
    with pytest.raises(GanforgeError, match=r"DINOv2 features need timm: pip install 'ganforge\[dinov2\]'"):
        DINOv2("dinov2-vits14", random_weights=True)


@pytest.mark.parametrize("space", list(ARCHS))
def test_every_size_gives_its_documented_width(space):
    """ViT-S/B/L at 224x224: 16x16 patches + the class token, CLS token of 384/768/1,024 (shapes only:
    built on the meta device, no memory, no arithmetic)."""
    import timm

    arch = ARCHS[space]
    with torch.device("meta"):
        net = timm.create_model(arch.timm_name, pretrained=False, num_classes=0, img_size=224)
        out = net(torch.zeros(2, 3, 224, 224))
    assert out.shape == (2, arch.dim) and net.pos_embed.shape == (1, 257, arch.dim)
    assert {"dinov2-vits14": 384, "dinov2-vitb14": 768, "dinov2-vitl14": 1024}[space] == arch.dim
    assert arch.url.endswith(f"dinov2_{space[7:]}_pretrain.pth")
