"""DiffAugment (Zhao et al. 2020): shapes, exact effects for known draws, gradients, the empty policy."""
import pytest
import torch
from torch.testing import assert_close

from ganforge.errors import ConfigError
from ganforge.train.diffaugment import brightness, cutout, diff_augment, parse_policy, translation


def const(u: float):
    """rand(*shape) that always draws u."""
    return lambda *shape: torch.full(shape, u)


def test_translation_shifts_with_zeros_coming_in():
    x = torch.arange(2 * 8 * 8, dtype=torch.float32).view(1, 2, 8, 8) + 1
    out = translation(x, const(0.9))  # 8 px, ratio 1/8: shift in [-1, 1]; u = 0.9 -> +1 down and right
    assert_close(out[..., 1:, 1:], x[..., :-1, :-1])
    assert (out[..., 0, :] == 0).all() and (out[..., :, 0] == 0).all()
    assert_close(translation(x, const(0.5)), x)  # u = 0.5 -> no shift


def test_cutout_zeroes_a_half_side_square():
    x = torch.ones(1, 1, 8, 8)
    out = cutout(x, const(0.5))  # a 4x4 square; centre 4 of [0, 8] -> rows and columns 2..5
    expected = torch.ones(8, 8)
    expected[2:6, 2:6] = 0
    assert_close(out[0, 0], expected)
    corner = cutout(x, const(0.0))  # centre 0: the square is clipped to rows and columns 0..1
    assert corner[0, 0, :2, :2].sum() == 0 and corner.sum() == 64 - 4


def test_brightness_adds_u_minus_half():
    x = torch.zeros(2, 3, 4, 4)
    assert_close(brightness(x, const(0.75)), torch.full_like(x, 0.25))


def test_every_policy_keeps_shapes_and_passes_gradients():
    policy = parse_policy("color,translation,cutout")
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    out = diff_augment(x, policy)
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_empty_policy_is_the_identity_and_bad_names_are_errors():
    x = torch.randn(2, 1, 8, 8)
    assert parse_policy("") == [] and diff_augment(x, parse_policy("")) is x
    with pytest.raises(ConfigError, match="valid: color, translation, cutout"):
        parse_policy("color,flip")
