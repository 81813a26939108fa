"""BigGAN's networks (nets/biggan.py): the reference's layer list, the hierarchical latent and the
shared embedding reaching each block, the truncation trick, and the errors for what it cannot build."""
import numpy as np
import pytest
import torch
from torch.testing import assert_close

from ganforge.cli import main
from ganforge.config import ModelConfig
from ganforge.errors import ConfigError, GanforgeError
from ganforge.nets import build_models
from ganforge.nets.biggan import GBlock, truncate_latent, z_chunks


def biggan(shape=(1, 32, 32), num_classes=10, z_dim=16, g=None, d=None, **cfg):
    conditional = {"conditional_g": "shared", "conditional_d": "projection"} if num_classes else {}
    model = ModelConfig(name="biggan", z_dim=z_dim, g=g or {"ch": 2, "shared_dim": 8}, d=d or {"ch": 2}, **conditional, **cfg)
    return build_models(model, shape, "image", num_classes=num_classes)


def test_parameter_counts_equal_the_reference_cifar10_nets():
    """ch 64 at 32x32, shared embedding 128, hierarchical z of 128, 10 classes, as BigGAN.py builds them:
    G: shared 10*128 + dense (32*4096 + 4096) + 3 blocks x [2 convs 3x3 (256*256*9 + 256), shortcut 1x1
       (256*256 + 256), 2 CBNs x 2 linears 160 -> 256 without bias] + output BN (2*256) + conv (256*3*9 + 3)
       = 1,280 + 135,168 + 3 * 1,409,792 + 512 + 6,915 = 4,373,251
    D: block 1 (3*256*9 + 256, 256*256*9 + 256, 3*256 + 256) + block 2 (2 x 590,080 + 65,792) + 2 blocks
       (2 x 590,080) + linear (256 + 1) + projection embedding 10*256
       = 598,272 + 1,245,952 + 2 * 1,180,160 + 257 + 2,560 = 4,207,361"""
    G, D = biggan((3, 32, 32), z_dim=128, g={"ch": 64, "shared_dim": 128}, d={"ch": 64})
    assert sum(p.numel() for p in G.parameters()) == 4_373_251
    assert sum(p.numel() for p in D.parameters()) == 4_207_361
    assert G.chunks == [32, 32, 32, 32]


def _block_io(G, z, c):
    """Each G block's (input, conditioning vector, output) for G(z, c), in eval mode (BatchNorm per sample)."""
    seen = []
    hooks = [b.register_forward_hook(lambda m, args, out: seen.append((args[0].clone(), args[1].clone(), out.clone())))
             for b in G.modules() if isinstance(b, GBlock)]  # fmt: skip
    G.eval()
    with torch.no_grad():
        x = G(z, c)
    for h in hooks:
        h.remove()
    return seen, x


def test_each_z_chunk_reaches_only_its_own_block_and_the_shared_embedding_every_block():
    torch.manual_seed(0)
    G, _ = biggan(z_dim=16)  # 32x32: 3 blocks, z in 4 chunks of 4
    z, c = torch.randn(2, 16), torch.tensor([3, 5])
    base, x = _block_io(G, z, c)
    e = G.shared(c)
    for _, cond, _ in base:  # [shared(c), z_i] in block i
        assert_close(cond[:, :8], e)
    for i, (_, cond, _) in enumerate(base):
        assert_close(cond[:, 8:], z[:, 4 * (i + 1): 4 * (i + 2)])
    for k in range(3):  # change chunk z_{k+1}: blocks before k see and give the same, block k's output moves
        z2 = z.clone()
        z2[:, 4 * (k + 1): 4 * (k + 2)] += 1.0
        changed, x2 = _block_io(G, z2, c)
        for i in range(k):
            assert_close(changed[i][2], base[i][2], rtol=0, atol=0)
        assert_close(changed[k][0], base[k][0], rtol=0, atol=0)  # the same input...
        assert not torch.allclose(changed[k][2], base[k][2])  # ...and another output
        assert not torch.allclose(x2, x)


def test_unconditional_g_without_hier_has_plain_batchnorms():
    G, _ = biggan(num_classes=0, g={"ch": 2, "hier": False})
    assert G.shared is None and G.chunks == [16]
    assert all(b.bn1.gain is None and b.bn1.bn.affine for b in G.blocks)
    assert G(torch.randn(2, 16)).shape == (2, 1, 32, 32)


def test_a_conditional_g_needs_labels():
    G, _ = biggan()
    with pytest.raises(GanforgeError, match="needs class labels"):
        G(torch.randn(2, 16))


def test_z_chunks_give_the_remainder_to_the_dense_layer():
    assert z_chunks(128, 3, True) == [32, 32, 32, 32]
    assert z_chunks(130, 3, True) == [34, 32, 32, 32]
    assert z_chunks(10, 3, False) == [10]
    with pytest.raises(ConfigError, match="model.z_dim=3 cannot be split into 4 chunks"):
        z_chunks(3, 3, True)


@pytest.mark.parametrize("cfg, message", [
    ({"conditional_g": "cbn", "conditional_d": "projection"}, "the biggan generator conditions on classes itself: model.conditional_g=shared"),
    ({"g": {"ch": 2, "init": "xavier"}}, "unknown model.g.init 'xavier'; valid: normal, ortho"),
    ({"g": {"ch": 2, "shared_dim": 0}, "conditional_g": "shared", "conditional_d": "projection"}, "model.g.shared_dim .* at least 1, got 0"),
])  # fmt: skip
def test_what_the_family_cannot_build_is_an_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_models(ModelConfig(name="biggan", z_dim=16, **{"g": {"ch": 2}, "d": {"ch": 2}, **cfg}), (1, 32, 32), "image", num_classes=10)


def test_the_shared_condition_is_biggans_own():
    with pytest.raises(ConfigError, match="model.conditional_g=shared is built into the generator .* for dcgan use concat or cbn"):
        build_models(ModelConfig(name="dcgan", conditional_g="shared", conditional_d="projection"), (1, 28, 28), "image", num_classes=10)


def test_truncation_cuts_z_at_2_then_scales_it_by_psi_as_the_authors_sampler():
    z = torch.randn(50_000, 4, generator=torch.Generator().manual_seed(1))
    psi = 0.5
    t = truncate_latent(z, psi, generator=torch.Generator().manual_seed(2))
    assert t.abs().max() <= 2.0 * psi
    inside = z.abs() <= 2.0
    assert_close(t[inside], psi * z[inside], rtol=0, atol=0)  # components already inside are kept, scaled
    assert (~inside).sum() > 1000  # about 4.6 % of the components were redrawn
    # N(0, 1) truncated to [-2, 2]: mean 0, variance 1 - 2*2*phi(2)/(2*Phi(2) - 1) = 0.7737, and
    # P(|z| < 1 | |z| <= 2) = 0.6827 / 0.9545 = 0.7152 (200,000 draws: standard errors ~0.002 and ~0.001)
    cut = t / psi
    assert abs(cut.mean().item()) < 0.01
    assert abs(cut.var().item() - 0.7737) < 0.01
    assert abs((cut.abs() < 1).float().mean().item() - 0.7152) < 0.005
    again = truncate_latent(z, psi, generator=torch.Generator().manual_seed(2))
    assert torch.equal(t, again)  # seeded: the same redraws
    assert truncate_latent(z, 1.0) is z  # psi 1 is off: the N(0, I) draw as it is
    assert torch.equal(truncate_latent(z[:100], 0.0), torch.zeros(100, 4))
    with pytest.raises(ConfigError, match=r"truncation psi must be in \[0, 1\] .*got 1.5"):
        truncate_latent(z, 1.5)


def test_the_generator_exposes_the_truncation_trick():
    G, _ = biggan()
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    assert_close(G.truncate_latent(z, 0.5, torch.Generator().manual_seed(1)), truncate_latent(z, 0.5, torch.Generator().manual_seed(1)))


def test_biggan_on_unlabelled_data_is_a_one_line_error_naming_the_data(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), i * 60, dtype=np.uint8)).save(folder / f"{i}.png")
    assert main(["train", "--preset", "biggan-demo", "--data", str(folder), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge: error: ") and err.count("\n") == 1, err
    assert f"data '{folder}' has no class labels" in err and "model.conditional_g=''" in err
