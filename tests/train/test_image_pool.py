"""CycleGAN's history of generated images: fills first, then swaps with probability 1/2."""
import torch
from torch.testing import assert_close

from ganforge.train.image_pool import ImagePool


def images(start, n):
    return torch.arange(start, start + n, dtype=torch.float).view(n, 1, 1, 1)


def test_fills_then_returns_new_or_swapped_as_the_seeded_coin_says():
    pool = ImagePool(3, seed=7)
    assert_close(pool.query(images(0, 3)), images(0, 3))  # filling: the images themselves
    assert [int(x) for x in pool.images] == [0, 1, 2]
    # Replay the pool's draws with the same seed: coin < 0.5 -> the new image; else a stored one swaps in.
    g = torch.Generator().manual_seed(7)
    stored, want = [0.0, 1.0, 2.0], []
    for new in (3.0, 4.0, 5.0, 6.0, 7.0, 8.0):
        if torch.rand((), generator=g).item() < 0.5:
            want.append(new)
        else:
            slot = int(torch.randint(3, (), generator=g))
            want.append(stored[slot])
            stored[slot] = new
    got = pool.query(images(3, 6)).view(-1).tolist()
    assert got == want
    assert sorted(float(x) for x in pool.images) == sorted(stored)
    assert any(w < 3 for w in want) and any(w >= 3 for w in want)  # this seed both keeps and swaps


def test_state_round_trip_continues_identically_and_size_zero_is_off():
    a = ImagePool(4, seed=1)
    a.query(images(0, 6))
    b = ImagePool(4, seed=99)
    b.load_state_dict(a.state_dict())
    assert_close(a.query(images(10, 8)), b.query(images(10, 8)))
    off = ImagePool(0)
    assert_close(off.query(images(0, 2)), images(0, 2))
    assert off.images == []
