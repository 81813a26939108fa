"""MSG-GAN's networks: G's image at every scale, D reading the pyramid at its blocks, the flattened
pyramid the algorithm hands D's input pipeline."""
import pytest
import torch
from torch.testing import assert_close

from ganforge.errors import ConfigError
from ganforge.nets import MODELS
from ganforge.nets.msggan import COMBINES, flatten_scales, pyramid, unflatten_scales

TINY = {"fmap_base": 32, "fmap_max": 8}  # 8, 8, 4 feature maps at 4, 8, 16


def nets(shape, combine="simple"):
    family = MODELS.get("msggan")
    torch.manual_seed(0)
    return family.build_generator(8, shape, **TINY), family.build_discriminator(shape, **TINY, combine=combine)


def test_g_emits_every_scale_and_g_of_z_is_the_full_size_one():
    G, _ = nets((3, 16, 16))
    z = torch.randn(4, 8)
    scales = G(z, scales=True)
    assert [tuple(s.shape) for s in scales] == [(4, 3, 4, 4), (4, 3, 8, 8), (4, 3, 16, 16)]
    assert all(s.abs().max() <= 1 for s in scales)
    assert_close(G(z), scales[-1], rtol=0, atol=0)


@pytest.mark.parametrize("combine", COMBINES)
def test_d_reads_the_pyramid_and_every_weight_of_both_nets_learns(combine):
    G, D = nets((1, 16, 16), combine)
    logits = D(G(torch.randn(4, 8), scales=True))
    assert logits.shape == (4,)
    logits.sum().backward()
    for net in (G, D):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.parametrize("combine", COMBINES)
def test_each_coarse_scale_reaches_d_through_its_block(combine):
    """Changing only the 4x4 or the 8x8 image changes D's verdict: every scale is read."""
    _, D = nets((1, 16, 16), combine)
    x = pyramid(torch.rand(4, 1, 16, 16) * 2 - 1, 3)
    base = D(x)
    for k in (0, 1):
        changed = list(x)
        changed[k] = -changed[k]
        assert not torch.allclose(D(changed), base)


def test_full_size_images_are_seen_as_their_average_pooled_pyramid():
    _, D = nets((1, 16, 16))
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    scales = pyramid(x, 3)
    assert [s.shape[-1] for s in scales] == [4, 8, 16]
    assert_close(scales[0][0, 0, 0, 0], x[0, 0, :4, :4].mean())
    assert_close(D(x), D(scales), rtol=0, atol=0)


def test_flattened_pyramid_round_trips_and_survives_packing():
    G, _ = nets((1, 16, 16))
    scales = G(torch.randn(4, 8), scales=True)
    flat = flatten_scales(scales)
    assert flat.shape == (4, 1, 16 + 64 + 256)
    for a, b in zip(unflatten_scales(flat, [4, 8, 16]), scales):
        assert torch.equal(a, b)
    # PacGAN's packing regroups (N, C) -> (N/2, 2C): every scale is packed alike
    packed = unflatten_scales(flat.reshape(2, 2, -1), [4, 8, 16])
    assert torch.equal(packed[1], scales[1].reshape(2, 2, 8, 8))


def test_wrong_scales_and_bad_options_are_refused():
    G, D = nets((1, 16, 16))
    with pytest.raises(ValueError, match=r"sides \[4, 8, 16\]"):
        D(G(torch.randn(2, 8), scales=True)[1:])
    with pytest.raises(ConfigError, match="model.d.combine must be one of simple, lin_cat, cat_lin"):
        nets((1, 16, 16), combine="sum")
    with pytest.raises(ConfigError, match="msggan cannot make 28x28"):
        MODELS.get("msggan").check_shape((1, 28, 28))
