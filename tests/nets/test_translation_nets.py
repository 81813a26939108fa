"""The image-to-image networks: shapes at 128 and 256 px, the published parameter counts, the 70x70 patch."""
import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.nets.patchgan import build_patch_discriminator, receptive_field, smallest_side
from ganforge.nets.resnet_generator import build_resnet_generator, default_blocks
from ganforge.nets.unet import build_unet_generator


def count(net):
    return sum(p.numel() for p in net.parameters())


@pytest.mark.slow  # builds 70M parameters
def test_published_parameter_counts():
    # The authors' code (junyanz/pytorch-CycleGAN-and-pix2pix) prints these for resnet_9blocks,
    # the n_layers=3 PatchGAN (instance norm; batch norm on 6 input channels for pix2pix) and unet_256.
    assert count(build_resnet_generator(3, 3, 256)) == 11_378_179
    assert count(build_patch_discriminator(3, 256)) == 2_764_737
    assert count(build_patch_discriminator(6, 256, norm="batch")) == 2_768_705
    assert count(build_unet_generator(3, 3, 256)) == 54_414_019


def test_blocks_follow_the_paper():
    assert (default_blocks(128), default_blocks(256), default_blocks(512)) == (6, 9, 9)
    assert len([m for m in build_resnet_generator(3, 3, 128, width=4).modules() if type(m).__name__ == "ResidualBlock"]) == 6


@pytest.mark.parametrize("size, patches", [(128, 14), pytest.param(256, 30, marks=pytest.mark.slow)])
def test_shapes_forward_backward(size, patches):
    torch.manual_seed(0)
    x = torch.randn(1, 3, size, size)
    G = build_resnet_generator(3, 3, size, width=2)
    U = build_unet_generator(3, 3, size, width=2)
    D = build_patch_discriminator(3, size, width=2)
    Dc = build_patch_discriminator(6, size, width=2, norm="batch")
    y, u = G(x), U(x)
    assert y.shape == u.shape == x.shape and y.abs().max() <= 1 and u.abs().max() <= 1
    logits = D(y)
    assert logits.shape == (1, 1, patches, patches)
    assert Dc(torch.cat([x, u], 1)).shape == (1, 1, patches, patches)
    (logits.mean() + u.mean()).backward()
    for net in (G, U, D):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_patch_receptive_field_is_70():
    assert receptive_field(3) == 70
    # Empirically: one output logit changes only with the 70x70 input patch in front of it.
    D = build_patch_discriminator(1, 96, width=2, norm="none").double()
    x = torch.randn(1, 1, 96, 96, dtype=torch.double, requires_grad=True)
    D(x)[0, 0, 4, 4].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    assert rows.max() - rows.min() + 1 <= 70


def test_unet_and_resnet_refuse_sizes_they_cannot_make():
    with pytest.raises(ConfigError, match="power of two"):
        build_unet_generator(3, 3, 48)
    with pytest.raises(ConfigError, match="multiple of 4"):
        build_resnet_generator(3, 3, 30)


def test_patchgan_refuses_images_smaller_than_its_last_map():
    """A side below 3 * 2^n_layers leaves the normalized stride-1 map at 1x1: instance norm cannot train."""
    assert smallest_side(3) == 24 and smallest_side(2) == 12
    with pytest.raises(ConfigError, match=r"image_size 16 is too small for a PatchGAN of model.d.n_layers=3: it needs at least 24 px"):
        build_patch_discriminator(3, 16)
    D = build_patch_discriminator(3, 24, width=2)
    assert D(torch.randn(2, 3, 24, 24)).shape == (2, 1, 1, 1)
