"""BEGAN's networks (Berthelot et al. 2017): the initialisation that lets D's autoencoder see its input,
and the optional skip connections of sec. 3.5.1."""
import pytest
import torch
import torch.nn as nn
from torch.testing import assert_close

from ganforge.errors import ConfigError
from ganforge.nets.began import build_discriminator, build_generator


def test_every_layer_starts_glorot_uniform_with_zero_bias():
    D = build_discriminator((1, 28, 28), width=8, h=16)
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 18  # encoder: 1 + 3 x 2 + 2 downsamplings + FC; decoder: FC + 3 x 2 + output conv
    for m in layers:
        fan_out, fan_in = m.weight.shape[0] * m.weight[0, 0].numel(), m.weight[0].numel()
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.9 * bound
        assert not m.bias.any()


def test_the_untrained_autoencoder_reconstruction_depends_on_its_input():
    """With torch's default init the reconstruction varied ~1e-5 across images (D's output was one
    constant image, an L1 plateau it never left); Glorot's keeps ~1e-2."""
    torch.manual_seed(0)
    D = build_discriminator((1, 28, 28), width=16, h=64)
    x = torch.rand(32, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        spread = D.reconstruct(x).std(0).mean()
    assert spread > 1e-3, spread


def test_skip_concatenates_upsampled_h0_after_each_upsampling():
    """With the h0 half of each post-upsampling conv zeroed, the skip decoder is the plain one."""
    torch.manual_seed(0)
    plain, skip = build_generator(8, (1, 28, 28), width=4), build_generator(8, (1, 28, 28), width=4, skip=True)
    state = plain.state_dict()
    grown = []
    for name, w in skip.state_dict().items():
        if w.shape != state[name].shape:  # a first conv after an upsampling: 2n inputs [x, h0]
            assert w.shape[1] == 2 * state[name].shape[1] == 8
            state[name] = torch.cat([state[name], torch.zeros_like(state[name])], 1)
            grown.append(name)
    assert len(grown) == 2  # 28 = 7 x 2^2: two upsamplings
    skip.load_state_dict(state)
    z = torch.rand(5, 8) * 2 - 1
    assert_close(skip(z), plain(z))
    with torch.no_grad():  # and the h0 half is read: a nonzero one changes the image
        skip.state_dict()[grown[0]][:, 4:] += 0.1
    assert not torch.allclose(skip(z), plain(z))


def test_out_bias_starts_g_and_the_decoder_at_the_data_mean():
    """mnist5k's mean pixel is -0.74 (81 % of pixels are black): started there instead of mid-grey, G's
    first images are dark like the data, not grey blobs the autoencoder passes through unchanged."""
    torch.manual_seed(0)
    G = build_generator(16, (1, 28, 28), width=8, out_bias=-0.74)
    D = build_discriminator((1, 28, 28), width=8, h=16, out_bias=-0.74)
    with torch.no_grad():
        fake = G(torch.rand(64, 16) * 2 - 1)
        assert abs(fake.mean() + 0.74) < 0.05, fake.mean()
        assert abs(D.reconstruct(fake).mean() + 0.74) < 0.05
    plain = build_generator(16, (1, 28, 28), width=8)
    with torch.no_grad():
        assert abs(plain(torch.rand(64, 16) * 2 - 1).mean()) < 0.1  # without it: mid-grey


def test_out_bias_outside_the_pixel_range_is_refused():
    for bad in (-1.0, 1.5):
        with pytest.raises(ConfigError, match="out_bias"):
            build_generator(16, (1, 28, 28), width=8, out_bias=bad)
        with pytest.raises(ConfigError, match="out_bias"):
            build_discriminator((1, 28, 28), width=8, out_bias=bad)
