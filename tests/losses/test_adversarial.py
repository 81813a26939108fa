"""Each loss against a hand computation on fixed logits."""
import math

import pytest
import torch
from torch.testing import assert_close

from ganforge.errors import ConfigError
from ganforge.losses import LOSSES, get_loss

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.0])


def sig(x):
    return 1 / (1 + math.exp(-x))


def mean(xs):
    return sum(xs) / len(xs)


def test_bce_discriminator_loss_by_hand():
    # -log D(x) - log(1 - D(G(z))) averaged per term
    want = mean([-math.log(sig(r)) for r in REAL.tolist()]) + mean([-math.log(1 - sig(f)) for f in FAKE.tolist()])
    for name in ("minimax", "nonsaturating"):
        assert_close(get_loss(name).d(REAL, FAKE)["loss"], torch.tensor(want))


def test_one_sided_label_smoothing_moves_only_the_real_target():
    t = 0.9
    want_real = mean([-(t * math.log(sig(r)) + (1 - t) * math.log(1 - sig(r))) for r in REAL.tolist()])
    want_fake = mean([-math.log(1 - sig(f)) for f in FAKE.tolist()])
    out = get_loss("nonsaturating").d(REAL, FAKE, real_target=t)
    assert_close(out["real"], torch.tensor(want_real))
    assert_close(out["fake"], torch.tensor(want_fake))


def test_minimax_and_nonsaturating_generator_losses_by_hand():
    minimax = mean([math.log(1 - sig(f)) for f in FAKE.tolist()])
    nonsat = mean([-math.log(sig(f)) for f in FAKE.tolist()])
    assert_close(get_loss("minimax").g(REAL, FAKE)["loss"], torch.tensor(minimax))
    assert_close(get_loss("nonsaturating").g(None, FAKE)["loss"], torch.tensor(nonsat))  # no use for the reals


def test_minimax_saturates_where_nonsaturating_does_not():
    # When D confidently rejects fakes (logit -10), the minimax gradient vanishes (Goodfellow sec. 3).
    logit = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(get_loss("minimax").g(None, logit)["loss"], logit)
    (g_ns,) = torch.autograd.grad(get_loss("nonsaturating").g(None, logit)["loss"], logit)
    assert abs(g_mm.item()) < 1e-4 and abs(g_ns.item()) > 0.99


def test_least_squares_by_hand():
    d = get_loss("least-squares").d(REAL, FAKE)["loss"]
    want = 0.5 * mean([(r - 1) ** 2 for r in REAL.tolist()]) + 0.5 * mean([f**2 for f in FAKE.tolist()])
    assert_close(d, torch.tensor(want))
    assert_close(get_loss("least-squares").g(None, FAKE)["loss"], torch.tensor(0.5 * mean([(f - 1) ** 2 for f in FAKE.tolist()])))


def test_wasserstein_by_hand():
    out = get_loss("wasserstein").d(REAL, FAKE)
    assert_close(out["loss"], torch.tensor(mean(FAKE.tolist()) - mean(REAL.tolist())))
    assert_close(out["wasserstein"], torch.tensor(mean(REAL.tolist()) - mean(FAKE.tolist())))
    assert_close(get_loss("wasserstein").g(None, FAKE)["loss"], torch.tensor(-mean(FAKE.tolist())))


def test_hinge_by_hand():
    want = mean([max(0, 1 - r) for r in REAL.tolist()]) + mean([max(0, 1 + f) for f in FAKE.tolist()])
    assert_close(get_loss("hinge").d(REAL, FAKE)["loss"], torch.tensor(want))
    assert_close(get_loss("hinge").g(None, FAKE)["loss"], torch.tensor(-mean(FAKE.tolist())))


def test_relativistic_pairs_each_real_with_a_generated_sample_by_hand():
    # RpGAN: D minimises mean log(1 + exp(-(r_i - f_i))); G the same with the pair's roles swapped
    loss = get_loss("relativistic")
    d_want = mean([math.log(1 + math.exp(-(r - f))) for r, f in zip(REAL.tolist(), FAKE.tolist())])
    g_want = mean([math.log(1 + math.exp(-(f - r))) for r, f in zip(REAL.tolist(), FAKE.tolist())])
    assert_close(loss.d(REAL, FAKE)["loss"], torch.tensor(d_want))
    assert_close(loss.g(REAL, FAKE)["loss"], torch.tensor(g_want))
    assert loss.g_needs_real and not loss.separable and not loss.smoothable
    # a constant shift of D's output changes nothing: only the difference of the pair counts
    assert_close(loss.d(REAL + 5, FAKE + 5)["loss"], loss.d(REAL, FAKE)["loss"])


def test_only_losses_with_a_real_label_can_be_smoothed():
    assert {n for n in LOSSES.list() if get_loss(n).smoothable} == {"minimax", "nonsaturating", "least-squares"}


def test_losses_stay_finite_for_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    for name in LOSSES.list():
        loss = get_loss(name)
        assert torch.isfinite(loss.d(big, big.flip(0))["loss"]), name
        assert torch.isfinite(loss.g(big, big.flip(0))["loss"]), name


def test_unknown_loss_lists_valid():
    with pytest.raises(ConfigError, match="hinge"):
        get_loss("hing3")


def test_relativistic_average_hinge_by_hand():
    # RaHinge: each side against the other side's mean; G's objective swaps the roles
    loss = get_loss("ra-hinge")
    mr, mf = mean(REAL.tolist()), mean(FAKE.tolist())
    d_want = mean([max(0, 1 - (r - mf)) for r in REAL.tolist()]) + mean([max(0, 1 + (f - mr)) for f in FAKE.tolist()])
    g_want = mean([max(0, 1 + (r - mf)) for r in REAL.tolist()]) + mean([max(0, 1 - (f - mr)) for f in FAKE.tolist()])
    assert_close(loss.d(REAL, FAKE)["loss"], torch.tensor(d_want))
    assert_close(loss.g(REAL, FAKE)["loss"], torch.tensor(g_want))
    assert loss.g_needs_real and not loss.separable and not loss.smoothable and not loss.probabilistic
    # a constant shift of D's output changes nothing; swapping the sides swaps D's and G's objectives
    assert_close(loss.d(REAL + 5, FAKE + 5)["loss"], loss.d(REAL, FAKE)["loss"])
    assert_close(loss.d(FAKE, REAL)["loss"], loss.g(REAL, FAKE)["loss"])
