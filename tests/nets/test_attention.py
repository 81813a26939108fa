"""SAGAN's self-attention block (Zhang et al. 2019, sec. 3)."""
import torch

from ganforge.nets.attention import SelfAttention


def test_gamma_zero_is_the_identity():
    torch.manual_seed(0)
    block = SelfAttention(16)
    assert block.gamma.item() == 0.0  # initialised to 0 (sec. 3)
    x = torch.randn(2, 16, 5, 4)
    assert torch.equal(block(x), x)


def test_matches_the_papers_equations_position_by_position():
    torch.manual_seed(0)
    block = SelfAttention(16)  # C-bar = 2
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(2, 16, 3, 4)
    y = block(x)
    w = {name: getattr(block, name).weight.flatten(1) for name in "fghv"}  # 1x1 convs as matrices
    for n in range(2):
        cols = x[n].flatten(1)  # (C, N) with N = H*W positions x_i
        f, g, h = w["f"] @ cols, w["g"] @ cols, w["h"] @ cols
        for j in range(cols.shape[1]):
            s = torch.stack([f[:, i] @ g[:, j] for i in range(cols.shape[1])])  # s_ij over i
            beta = torch.exp(s) / torch.exp(s).sum()  # beta_{j,i}
            o_j = w["v"] @ (h * beta).sum(dim=1)  # v(sum_i beta_{j,i} h(x_i))
            torch.testing.assert_close(y[n].flatten(1)[:, j], 0.7 * o_j + cols[:, j], rtol=1e-4, atol=1e-5)


def test_gamma_learns_from_zero():
    """At gamma = 0 the output ignores attention, but gamma itself gets a gradient, so it can grow."""
    torch.manual_seed(0)
    block = SelfAttention(8)
    block(torch.randn(2, 8, 4, 4)).pow(2).sum().backward()
    assert block.gamma.grad is not None and block.gamma.grad.abs().item() > 0
