import torch
import torch.nn as nn
from torch.testing import assert_close

from ganforge.losses import clip_weights, drift_penalty, gradient_norm_penalty, gradient_penalty, orthogonal_penalty, r1_penalty


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, c=None):
        return x.flatten(1) @ self.w


def test_gradient_penalty_zero_for_unit_norm_linear_critic():
    torch.manual_seed(0)
    w = torch.randn(12)
    critic = Linear(w / w.norm())  # 1-Lipschitz with gradient norm exactly 1 everywhere
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    assert_close(gradient_penalty(critic, real, fake), torch.tensor(0.0), atol=1e-10, rtol=0)


def test_gradient_penalty_by_hand_for_scaled_linear_critic():
    w = torch.zeros(4)
    w[0] = 3.0  # gradient norm 3 everywhere: penalty (3 - 1)^2 = 4
    critic = Linear(w)
    assert_close(gradient_penalty(critic, torch.randn(6, 4), torch.randn(6, 4)), torch.tensor(4.0))


def test_gradient_penalty_backpropagates_into_the_critic():
    critic = Linear(torch.tensor([3.0, 0.0]))
    gp = gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = [4, 0]
    assert_close(critic.w.grad, torch.tensor([4.0, 0.0]))


def test_r1_penalty_by_hand():
    critic = Linear(torch.tensor([1.0, 2.0]))
    real = torch.randn(3, 2, requires_grad=True)
    assert_close(r1_penalty(critic(real), real), torch.tensor(5.0))  # ||w||^2


def test_r2_is_the_same_penalty_on_generated_samples_by_hand():
    critic = Linear(torch.tensor([3.0, -4.0]))
    fake = torch.randn(5, 2, requires_grad=True)
    assert_close(gradient_norm_penalty(critic(fake), fake), torch.tensor(25.0))  # ||w||^2 wherever it is taken
    assert r1_penalty is gradient_norm_penalty


def test_drift_penalty_is_the_mean_square_of_the_real_logits():
    assert_close(drift_penalty(torch.tensor([1.0, -3.0])), torch.tensor(5.0))


def test_weight_clipping_bounds_every_parameter():
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 1)
    clip_weights(net, 0.01)
    for p in net.parameters():
        assert p.abs().max() <= 0.01
    assert any((p.abs() == 0.01).any() for p in net.parameters())


def test_path_length_penalty_by_hand_on_a_linear_generator():
    """img = sum_k A_k ws_k (a linear G): J_{w_k}^T y = A_k^T y, so the length is
    sqrt(mean_k ||A_k^T y||^2), the mean moves by decay toward the batch's mean length, and the penalty
    is (length - new mean)^2 (StyleGAN2 eq. 4, as the reference computes it)."""
    from ganforge.losses import path_length_penalty

    torch.manual_seed(0)
    N, K, d, C, H, W = 3, 2, 4, 1, 2, 2
    A = torch.randn(K, C * H * W, d, requires_grad=True)  # G's weights
    ws = torch.randn(N, K, d, requires_grad=True)
    img = torch.einsum("kpd,nkd->np", A, ws).view(N, C, H, W)
    y = torch.randn(N, C, H, W)
    penalty, mean = path_length_penalty(img, ws, torch.tensor(0.5), 0.01, noise=y)
    yflat = y.view(N, -1)
    lengths = torch.stack([
        torch.stack([(A[k].T @ yflat[n]).square().sum() for k in range(K)]).mean().sqrt() for n in range(N)
    ])  # fmt: skip
    expected_mean = 0.5 + 0.01 * (lengths.mean() - 0.5)
    torch.testing.assert_close(mean, expected_mean)
    torch.testing.assert_close(penalty, (lengths - expected_mean).square())
    assert penalty.requires_grad and not mean.requires_grad  # the penalty trains G's weights; the mean is state
def test_orthogonal_penalty_is_zero_for_orthogonal_filters_of_any_norm():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 4), nn.Conv2d(3, 5, 3))  # conv filters: 5 rows of 3*3*3
    nn.init.orthogonal_(net[0].weight)
    nn.init.orthogonal_(net[1].weight)
    with torch.no_grad():
        net[1].weight.mul_(3.0)  # longer filters, still orthogonal: only their inner products count
        net[0].bias.fill_(5.0)  # biases are not weights it regularises
    assert_close(orthogonal_penalty(net), torch.tensor(0.0), atol=1e-10, rtol=0)


def test_orthogonal_penalty_and_its_gradient_by_hand():
    """W = [[1, 1], [1, 0]]: W W^T = [[2, 1], [1, 1]], off-diagonal squares 1 + 1 = 2; the gradient of
    ||W W^T * (1 - I)||_F^2 is 4 (W W^T * (1 - I)) W = 4 [[0, 1], [1, 0]] W = [[4, 0], [4, 4]]."""
    net = nn.Sequential(nn.Linear(2, 2), nn.Embedding(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
        net[1].weight.copy_(torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 2.0]]))  # an embedding: left out
    penalty = orthogonal_penalty(net)
    assert_close(penalty, torch.tensor(2.0))
    penalty.backward()
    assert_close(net[0].weight.grad, torch.tensor([[4.0, 0.0], [4.0, 4.0]]))
    assert net[1].weight.grad is None


def test_orthogonal_penalty_reads_the_raw_weight_under_spectral_norm():
    """As the authors' code: the parameter itself, not W / sigma(W)."""
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    nn.utils.parametrizations.spectral_norm(layer)
    assert_close(orthogonal_penalty(layer), torch.tensor(2.0))
