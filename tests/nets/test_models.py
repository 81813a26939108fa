"""One parametrized test runs forward and backward through every registered model at its sizes."""
import pytest
import torch

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.nets import MODELS, build_models
from ganforge.nets.dcgan import base_and_doublings
from ganforge.train.sampling import TRUNCATION_MODELS

# (family, shape, g kwargs, d kwargs)
CASES = [
    ("mlp", (1, 28, 28), {}, {}),
    ("mlp", (2,), {}, {}),
    ("mlp", (3, 8, 8), {"hidden": [16]}, {"hidden": [16, 8]}),
    ("mlp", (1, 28, 28), {"hidden": [16, 32, 8], "norm": "batch", "activation": "leaky_relu"}, {"hidden": [8]}),
    ("dcgan", (1, 28, 28), {"width": 8}, {"width": 8}),
    ("dcgan", (3, 64, 64), {"width": 8}, {"width": 8}),
    ("dcgan", (3, 32, 32), {"width": 8, "upsample": "nearest", "extra_layers": 1}, {"width": 8, "extra_layers": 1, "norm": "layer"}),
    ("dcgan", (1, 8, 8), {"width": 8}, {"width": 8, "norm": "none"}),
    ("dcgan", (3, 48, 48), {"width": 8}, {"width": 8, "norm": "instance"}),
    ("dcgan", (1, 32, 32), {"width": 8, "attention_res": 16}, {"width": 8, "norm": "none", "attention_res": 8}),
    ("cs231n", (1, 28, 28), {}, {}),
    ("infogan", (1, 28, 28), {"width": 8, "hidden": 32}, {"width": 8, "hidden": 32}),  # Q head: tests/train/algorithms/test_infogan.py
    ("infogan", (3, 16, 16), {"width": 8, "hidden": 16}, {"width": 8, "hidden": 16}),
    ("began", (1, 28, 28), {"width": 4}, {"width": 4, "h": 8}),  # D(x): per-image reconstruction error
    ("began", (3, 32, 32), {"width": 4}, {"width": 4, "h": 8}),
    ("began", (1, 28, 28), {"width": 4, "skip": True}, {"width": 4, "h": 8, "skip": True}),  # sec. 3.5.1 skips
    ("sngan-cnn", (3, 16, 16), {"width": 4}, {"width": 4, "slope": 0.2}),
    ("sngan-resnet", (1, 32, 32), {"width": 8}, {"width": 8}),
    ("sngan-resnet", (3, 16, 16), {"width": 8, "attention_res": 8}, {"width": 8, "attention_res": 8}),
    ("sagan", (1, 32, 32), {"width": 8}, {"width": 8}),
    ("sagan", (3, 32, 32), {"width": 8, "attention_res": 32}, {"width": 8, "attention_res": 8}),
    # 4x4: one stage, so every weight is used; a grown net leaves the lower stages' toRGB/fromRGB idle
    # at alpha = 1, and tests/nets/test_progan_nets.py runs every stage and fade instead.
    ("progan", (1, 4, 4), {"fmap_max": 16}, {"fmap_max": 16}),
    # 4x4: one scale, so G(z) uses every weight; G(z) of larger images skips the coarse toRGBs that only
    # G(z, scales=True) uses, and tests/nets/test_msggan.py runs the whole pyramid instead.
    ("msggan", (1, 4, 4), {"fmap_max": 16}, {"fmap_max": 16}),
    ("unrolled-mnist", (3, 28, 28), {"width": 4}, {"width": 2}),
    ("dcgan-tf", (3, 28, 28), {"width": 4}, {"width": 4}),
    ("dcgan-tf", (6, 16, 16), {"width": 4}, {"width": 4}),
    # width 8 expands to 16 channels: one group of the default group_size 16
    ("r3gan", (1, 28, 28), {"width": 8}, {"width": 8}),
    ("r3gan", (3, 32, 32), {"widths": [16, 8, 8, 8], "blocks": 1, "output": "clamp"}, {"widths": [16, 8, 8, 8], "group_size": 8}),
    ("stylegan2", (1, 28, 28), {"w_dim": 8, "channel_base": 64, "channel_max": 8}, {"channel_base": 64, "channel_max": 8}),
    ("stylegan2", (3, 16, 16), {"w_dim": 8, "channel_base": 64, "channel_max": 8, "output": "tanh", "style_mixing": 0.0},
     {"channel_base": 64, "channel_max": 8, "architecture": "orig", "mbstd_group": 2, "mbstd_channels": 2}),
    # unconditional here: BatchNorm gains from the z chunks (hier), or plain BatchNorm (hier off);
    # class-conditional BigGAN: tests/nets/test_biggan.py
    ("biggan", (1, 32, 32), {"ch": 2}, {"ch": 2}),
    ("biggan", (3, 16, 16), {"ch": 2, "hier": False, "attention_res": 16, "init": "ortho"}, {"ch": 2, "attention_res": 8}),
]


def test_every_registered_family_is_covered():
    assert {case[0] for case in CASES} == set(MODELS.list())


@pytest.mark.parametrize("name, shape, g, d", CASES, ids=[f"{c[0]}-{'x'.join(map(str, c[1]))}" for c in CASES])
def test_forward_backward(name, shape, g, d):
    torch.manual_seed(0)
    kind = "points" if len(shape) == 1 else "image"
    G, D = build_models(ModelConfig(name=name, z_dim=16, g=g, d=d), shape, kind)
    z = torch.randn(4, 16)
    x = G(z)
    assert x.shape == (4, *shape)
    if kind == "image":
        assert x.min() >= -1 and x.max() <= 1
    logits = D(x)
    assert logits.shape == (4,)
    logits.sum().backward()
    for net in (G, D):
        grads = [p.grad for p in net.parameters() if p.requires_grad]
        assert grads and all(gr is not None and torch.isfinite(gr).all() for gr in grads)


def test_the_models_with_a_truncation_trick_are_those_the_sampling_error_names():
    """train/sampling.py names the models whose G has a truncation trick: a capability of G's modules
    (`truncation_psi` or `truncate_latent`), checked here on a generator of every registered model."""
    have = set()
    for name, shape, g, d in CASES:
        kind = "points" if len(shape) == 1 else "image"
        G, _ = build_models(ModelConfig(name=name, z_dim=16, g=g, d=d), shape, kind)
        if any(hasattr(m, "truncation_psi") or hasattr(m, "truncate_latent") for m in G.modules()):
            have.add(name)
    assert have == set(TRUNCATION_MODELS)


def test_dcgan_64_matches_pytorch_examples_topology():
    G, D = build_models(ModelConfig(name="dcgan"), (3, 64, 64), "image")
    # pytorch/examples dcgan with nz=100, ngf=ndf=64, nc=3 has exactly these parameter counts.
    assert sum(p.numel() for p in G.parameters()) == 3576704
    assert sum(p.numel() for p in D.parameters()) == 2765568


def test_unrolled_mnist_matches_the_pacgan_authors_d_025g_nets():
    # fjxmlzn/PacGAN unrolled_GAN_experiment/D=0.25G/model.py, z of 256, 3 channels: G has 289,795
    # parameters and D 585. Ours drop the biases of the layers a BatchNorm follows (G: the 1,024 of the
    # projection and 32 + 16 + 8 of the deconvs; D: 2 + 4 + 8), which the BatchNorm's shift makes redundant.
    G, D = build_models(ModelConfig(name="unrolled-mnist", z_dim=256), (3, 28, 28), "image")
    assert sum(p.numel() for p in G.parameters()) == 289_795 - 1_024 - 56
    assert sum(p.numel() for p in D.parameters()) == 585 - 14


def test_dcgan_tf_matches_the_pacgan_authors_veegan_experiment_nets():
    # fjxmlzn/PacGAN stacked_MNIST_experiments/VEEGAN_experiment/model.py (carpedm20's DCGAN-tensorflow at
    # 28x28, width 64, z 100, 3 channels) has 4,514,819 weights in G and 4,310,401 in D. Ours drop the
    # biases a BatchNorm follows: G's 2,048 (projection) + 256 + 128 + 64, D's 128 + 256 + 512.
    G, D = build_models(ModelConfig(name="dcgan-tf", z_dim=100), (3, 28, 28), "image")
    assert sum(p.numel() for p in G.parameters()) == 4_514_819 - 2_048 - 448
    assert sum(p.numel() for p in D.parameters()) == 4_310_401 - 896
    sides = [m.weight.shape[-1] for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert sides == [5, 5, 5, 5]  # and the image side comes out 28 through 2 -> 4 -> 7 -> 14 (the forward test)


def test_dcgan_tf_rejects_small_or_oblong_images():
    with pytest.raises(ConfigError, match="side 16 or more.*image_size=28"):
        build_models(ModelConfig(name="dcgan-tf"), (3, 8, 8), "image")


def test_unrolled_mnist_makes_only_28x28():
    with pytest.raises(ConfigError, match="28x28 images only.*image_size=28"):
        build_models(ModelConfig(name="unrolled-mnist"), (3, 32, 32), "image")


def test_dcgan_d_without_normalisation_can_move_its_score_of_flat_grey():
    # Bias-free convs and LeakyReLUs alone make D(a x) = a D(x), so D(0) = 0 whatever D learns, and a G
    # scored below zero escapes to flat mid-grey (cgan-projection was trapped so). With norm none D keeps
    # biases: one gradient step on D(grey) must move it.
    _, D = build_models(ModelConfig(name="dcgan", d={"width": 8, "norm": "none"}), (1, 28, 28), "image")
    grey = torch.zeros(4, 1, 28, 28)
    assert D(grey).abs().max() == 0  # biases start at zero (the DCGAN initialisation)
    opt = torch.optim.SGD(D.parameters(), lr=0.1)
    D(grey).mean().backward()
    opt.step()
    assert D(grey).abs().min() > 1e-3


@pytest.mark.parametrize("net, res", [("g", 4), ("g", 16), ("d", 16), ("d", 4)])
def test_dcgan_attention_sits_at_the_asked_resolution(net, res):
    from ganforge.nets.attention import SelfAttention

    kwargs = {"width": 8, "attention_res": res}
    G, D = build_models(ModelConfig(name="dcgan", g=kwargs if net == "g" else {"width": 8}, d=kwargs if net == "d" else {"width": 8}), (1, 32, 32), "image")
    blocks = [m for m in (G if net == "g" else D).modules() if isinstance(m, SelfAttention)]
    assert len(blocks) == 1
    seen = []
    blocks[0].register_forward_hook(lambda m, i, o: seen.append(o.shape[-1]))
    G(torch.randn(2, 100)) if net == "g" else D(torch.randn(2, 1, 32, 32))
    assert seen == [res]


def test_dcgan_attention_at_a_side_the_net_lacks_names_the_valid_ones():
    with pytest.raises(ConfigError, match=r"model.g.attention_res=32 is not a resolution .* valid: 0 \(none\), 4, 8, 16"):
        build_models(ModelConfig(name="dcgan", g={"attention_res": 32}), (1, 32, 32), "image")


@pytest.mark.parametrize("size, want", [(64, (4, 4)), (28, (7, 2)), (8, (4, 1)), (48, (6, 3)), (128, (4, 5))])
def test_dcgan_sizes(size, want):
    assert base_and_doublings(size) == want


@pytest.mark.parametrize("shape", [(1, 25, 25), (1, 6, 6)])
def test_dcgan_refuses_sizes_it_cannot_make_and_names_those_it_can(shape):
    with pytest.raises(ConfigError, match="dcgan cannot make .* e.g. 8, 12, 16, 20, 24, 28"):
        build_models(ModelConfig(name="dcgan"), shape, "image")


def test_unknown_model_keyword_names_valid_ones():
    with pytest.raises(ConfigError, match="widht.*did you mean 'width'"):
        build_models(ModelConfig(name="dcgan", g={"widht": 3}), (1, 28, 28), "image")


def test_wrong_model_keyword_type_names_the_key():
    with pytest.raises(ConfigError, match="model.g.width"):
        build_models(ModelConfig(name="dcgan", g={"width": "wide"}), (1, 28, 28), "image")


def test_image_only_family_refuses_points():
    with pytest.raises(ConfigError, match="cannot model points data; models that can: mlp"):
        build_models(ModelConfig(name="dcgan"), (2,), "points")


def test_unknown_family_lists_valid():
    with pytest.raises(ConfigError) as error:
        build_models(ModelConfig(name="dcgann"), (1, 28, 28), "image")
    assert "did you mean 'dcgan'" in str(error.value)
    assert str(error.value).endswith("valid: " + ", ".join(MODELS.list()))  # every family, sorted
