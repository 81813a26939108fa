"""PacGAN packing: groups of m consecutive samples stacked along channels."""
import pytest
import torch
from torch.testing import assert_close

from ganforge.errors import ConfigError
from ganforge.train.packing import check_pack, pack


def test_pack_groups_consecutive_samples_along_channels():
    x = torch.randn(6, 3, 4, 4)
    packed = pack(x, 2)
    assert packed.shape == (3, 6, 4, 4)
    for g in range(3):
        assert_close(packed[g], torch.cat([x[2 * g], x[2 * g + 1]], 0))
    points = torch.randn(6, 2)
    assert_close(pack(points, 3), torch.cat([points[0::3], points[1::3], points[2::3]], 1))
    assert pack(x, 1) is x


def test_pack_must_divide_the_batch():
    with pytest.raises(ConfigError, match="pack=3 does not divide the batch of 8"):
        check_pack(3, 8)
    with pytest.raises(ConfigError, match="at least 1"):
        check_pack(0, 8)
