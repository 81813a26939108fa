"""Class-conditional nets: concat and conditional-BatchNorm G, concat / projection / ACGAN D; minibatch
discrimination; PacGAN's packed D input."""
import pytest
import torch
import torch.nn as nn
from torch.testing import assert_close

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_models
from ganforge.nets.conditional import ACGANDiscriminator, ConditionalBatchNorm, ProjectionD
from ganforge.nets.minibatch import MinibatchDiscrimination, MinibatchDiscriminator


def model(**kw) -> ModelConfig:
    return ModelConfig(**{"name": "dcgan", "z_dim": 4, "g": {"width": 4}, "d": {"width": 4}, **kw})


class TinyD(nn.Module):
    """D(x) = psi(phi(x)): phi = Linear(2, 3), psi = Linear(3, 1), weights set by hand."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
        with torch.no_grad():
            self.net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
            self.net[0].bias.zero_()
            self.net[1].weight.copy_(torch.tensor([[1.0, 1.0, 1.0]]))
            self.net[1].bias.fill_(0.5)


def test_projection_discriminator_computes_psi_plus_inner_product_exactly():
    D = ProjectionD(TinyD(), (2,), num_classes=2)
    with torch.no_grad():
        D.embed.weight.copy_(torch.tensor([[0.0, 0.0, 1.0], [0.1, 0.2, 0.3]]))
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0]])  # phi(x) = (1, 2, 3); psi(phi(x)) = 6 + 0.5
    # class 0: 6.5 + <(0, 0, 1), (1, 2, 3)> = 9.5; class 1: 6.5 + 0.1 + 0.4 + 0.9 = 7.9
    assert_close(D(x, torch.tensor([0, 1])), torch.tensor([9.5, 7.9]))


def test_acgan_discriminator_has_a_class_head_on_the_same_features():
    D = ACGANDiscriminator(TinyD(), (2,), num_classes=4)
    x = torch.tensor([[1.0, 2.0]])
    logits, classes = D(x, classes=True)
    assert_close(logits, torch.tensor([6.5]))
    assert_close(D(x), logits)  # the plain call is the usual (N,) logits
    assert_close(classes, D.classifier(torch.tensor([[1.0, 2.0, 3.0]])))
    assert classes.shape == (1, 4)


def test_conditional_batchnorm_applies_the_class_gamma_and_beta():
    cbn = ConditionalBatchNorm(nn.BatchNorm2d(3), num_classes=2)
    with torch.no_grad():
        cbn.gamma.weight[1].fill_(2.0)
        cbn.beta.weight[1].fill_(3.0)
    h = torch.randn(4, 3, 2, 2)
    cbn.labels = torch.tensor([0, 1, 0, 1])
    out = cbn(h)
    normed = nn.functional.batch_norm(h, None, None, training=True, eps=cbn.bn.eps)
    assert_close(out[[0, 2]], normed[[0, 2]])  # class 0 keeps BatchNorm2d's initial affine (1, 0)
    assert_close(out[[1, 3]], 2 * normed[[1, 3]] + 3)


@pytest.mark.parametrize("cond_g", ["concat", "cbn"])
def test_conditional_generator_output_depends_on_the_class(cond_g):
    G, D = build_models(model(conditional_g=cond_g, conditional_d="projection"), (1, 8, 8), "image", 3)
    G.eval()
    if cond_g == "cbn":  # per-class tables start equal: make class 2's differ
        with torch.no_grad():
            next(m for m in G.modules() if isinstance(m, ConditionalBatchNorm)).beta.weight[2].add_(1.0)
    z = torch.randn(2, 4).repeat(2, 1)
    out = G(z, torch.tensor([0, 0, 2, 2]))
    assert out.shape == (4, 1, 8, 8)
    assert not torch.allclose(out[:2], out[2:])
    if cond_g == "concat":  # exactly G'([z, onehot(c)])
        assert_close(out[2:], G.base(torch.cat([z[2:], torch.tensor([[0.0, 0.0, 1.0]] * 2)], 1)))


def test_concat_discriminator_sees_the_one_hot_as_extra_channels():
    G, D = build_models(model(conditional_g="concat", conditional_d="concat"), (1, 8, 8), "image", 3)
    assert D.base.main[0].in_channels == 1 + 3
    assert D(torch.randn(2, 1, 8, 8), torch.tensor([0, 2])).shape == (2,)


def test_conditional_models_need_labels_and_both_sides():
    with pytest.raises(ConfigError, match="needs labelled data"):
        build_models(model(conditional_g="concat", conditional_d="projection"), (1, 8, 8), "image", 0)
    with pytest.raises(ConfigError, match="set both"):
        build_models(model(conditional_g="concat"), (1, 8, 8), "image", 10)
    with pytest.raises(ConfigError, match="valid: '' \\(off\\), concat, projection, acgan"):
        build_models(model(conditional_g="concat", conditional_d="proj"), (1, 8, 8), "image", 10)
    with pytest.raises(ConfigError, match="needs a generator with BatchNorm layers"):
        build_models(model(name="mlp", g={}, d={}, conditional_g="cbn", conditional_d="concat"), (2,), "points", 8)


def test_minibatch_discrimination_shape_and_identical_samples():
    layer = MinibatchDiscrimination(in_features=6, kernels=3)
    f = torch.randn(5, 6)
    assert layer(f).shape == (5, 6 + 3)
    # Identical samples: every L1 distance is 0, so o(x_i)_b = sum over the 4 samples of exp(0) = 4.
    same = layer(torch.ones(4, 6))
    assert_close(same[:, 6:], torch.full((4, 3), 4.0))
    # Far-apart samples: only the j = i term is left.
    with torch.no_grad():
        layer.T.fill_(1.0)
    apart = layer(torch.tensor([[0.0] * 6, [100.0] * 6]))
    assert_close(apart[:, 6:], torch.ones(2, 3))


def test_minibatch_discrimination_option_builds_a_discriminator_on_the_family_trunk():
    _, D = build_models(model(minibatch_discrimination=7), (1, 8, 8), "image")
    assert isinstance(D, MinibatchDiscriminator) and D.head.in_features == D.minibatch.T.shape[0] + 7
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    D(x).sum().backward()
    assert D(x).shape == (4,) and x.grad is not None


def test_packed_discriminator_takes_pack_times_the_channels():
    _, D = build_models(model(), (3, 8, 8), "image", pack=2)
    assert D.main[0].in_channels == 6
    _, D = build_models(ModelConfig(name="mlp", z_dim=2), (2,), "points", pack=4)
    assert D.net[1].in_features == 8
    with pytest.raises(ConfigError, match="class-conditional D"):
        build_models(model(conditional_g="concat", conditional_d="concat"), (1, 8, 8), "image", 10, pack=2)
