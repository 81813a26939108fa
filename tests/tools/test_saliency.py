"""Saliency maps: exact for linear models, per image, for classifiers and discriminators, from the CLI."""
import pytest
import torch
from torch import nn

from ganforge.cli import main
from ganforge.errors import ConfigError
from ganforge.tools.saliency import draw_saliency, saliency_maps


def linear_classifier(channels: int, side: int, classes: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, classes))


def test_saliency_of_a_linear_classifier_is_abs_weight_per_pixel():
    model = linear_classifier(1, 5, 4)
    x = torch.rand(3, 1, 5, 5)
    result = saliency_maps(model, x, target=2)
    w = model[1].weight  # (4, 25): d logit_k / d x = w_k, whatever x
    torch.testing.assert_close(result.maps, w[2].abs().view(1, 5, 5).expand(3, 5, 5))
    torch.testing.assert_close(result.scores, model(x)[:, 2].detach())


def test_saliency_takes_the_max_over_channels_and_explains_the_predicted_class():
    model = linear_classifier(3, 4, 5, seed=1)
    x = torch.rand(2, 3, 4, 4)
    result = saliency_maps(model, x)
    logits = model(x).detach()
    predicted = logits.argmax(1)
    assert result.targets.tolist() == predicted.tolist()
    w = model[1].weight.view(5, 3, 4, 4)
    expected = torch.stack([w[k].abs().amax(0) for k in predicted.tolist()])
    torch.testing.assert_close(result.maps, expected)
    torch.testing.assert_close(result.probs, torch.softmax(logits, 1).gather(1, predicted[:, None])[:, 0])


def test_saliency_of_a_discriminator_logit():
    torch.manual_seed(0)
    linear = nn.Linear(2 * 3 * 3, 1)

    class D(nn.Module):  # ganforge's D interface: images -> logits (N,)
        def forward(self, x, c=None):
            return linear(x.flatten(1)).view(-1)

    x = torch.rand(4, 2, 3, 3)
    result = saliency_maps(D(), x)
    assert result.targets is None
    expected = linear.weight.view(2, 3, 3).abs().amax(0)
    torch.testing.assert_close(result.maps, expected.expand(4, 3, 3))
    torch.testing.assert_close(result.probs, torch.sigmoid(linear(x.flatten(1)).view(-1)).detach())


def test_each_map_depends_on_its_own_image_and_the_mode_is_restored():
    # Batch norm in training mode would mix the batch; saliency evaluates in eval mode, then restores.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    model.train()
    x = torch.rand(3, 1, 6, 6)
    together = saliency_maps(model, x, target=1).maps
    alone = saliency_maps(model, x[1:2], target=1).maps
    torch.testing.assert_close(together[1:2], alone)
    assert model.training
    assert all(p.grad is None for p in model.parameters())  # only the input was differentiated


def test_bad_target_and_bad_output_shape_are_clear_errors():
    with pytest.raises(ConfigError, match="out of range: this classifier has 4 classes"):
        saliency_maps(linear_classifier(1, 2, 4), torch.rand(1, 1, 2, 2), target=4)
    with pytest.raises(ConfigError, match=r"\(N, K\) class logits or \(N,\) logits"):
        saliency_maps(nn.Identity(), torch.rand(1, 1, 2, 2))


def test_draw_saliency_writes_a_png(tmp_path):
    images = torch.rand(2, 3, 8, 8)
    path = tmp_path / "s.png"
    draw_saliency(images, torch.rand(2, 8, 8), ["a", "b"], str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    """A softmax-regression classifier trained for one epoch on the 8x8 digits (a second or two)."""
    from ganforge.classify import ClassifyConfig, train

    out = tmp_path_factory.mktemp("runs") / "softmax-digits"
    train(ClassifyConfig(model="softmax", data="digits", epochs=1, device="cpu"), out=str(out), progress=False)
    return str(out)


def test_cli_saliency_of_a_classifier_run_is_its_abs_weights(classifier_run, tmp_path, capsys):
    from ganforge.classify import load_classifier
    from ganforge.tools.run_models import load_run_network

    net = load_run_network(classifier_run)
    assert (net.kind, net.channels, net.resolution) == ("classifier", 1, 8)
    model, _ = load_classifier(classifier_run)
    w = model[1].weight.view(10, 8, 8)
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(saliency_maps(net.module, x, target=3).maps, w[3].abs().expand(2, 8, 8))

    out = tmp_path / "sal.png"
    assert main(["saliency", classifier_run, "brick", "chelsea", "-o", str(out), "--device", "cpu"]) == 0
    assert out.exists() and "saliency of 2 image(s)" in capsys.readouterr().out


def test_cli_saliency_of_a_gan_discriminator(tiny_overrides, tmp_path, capsys):
    from ganforge import config as config_mod
    from ganforge.runs import train

    cfg = config_mod.merge(config_mod.Config(), tiny_overrides)
    train(cfg, out=str(tmp_path / "gan"), progress=False)
    out = tmp_path / "d.png"
    assert main(["saliency", str(tmp_path / "gan"), "gravel", "-o", str(out)]) == 0
    assert out.exists() and "discriminator" in capsys.readouterr().out
    assert main(["saliency", str(tmp_path / "gan"), "gravel", "-o", str(out), "--target", "1"]) == 2
    assert "--target picks a class" in capsys.readouterr().err


def test_cli_saliency_bad_inputs(classifier_run, tmp_path, capsys):
    assert main(["saliency", str(tmp_path / "nope"), "brick", "-o", str(tmp_path / "x.png")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["saliency", classifier_run, str(tmp_path / "missing.png"), "-o", str(tmp_path / "x.png")]) == 2
    assert "no such image file" in capsys.readouterr().err
    (tmp_path / "bad.png").write_text("not an image")
    assert main(["saliency", classifier_run, str(tmp_path / "bad.png"), "-o", str(tmp_path / "x.png")]) == 2
    assert "cannot read image" in capsys.readouterr().err


def test_saliency_of_a_projection_discriminator_judges_a_chosen_class(tiny_overrides, tmp_path, capsys):
    """A class-conditional D scores "a real image of class K": --class picks K, and the maps differ by class."""
    from ganforge.presets import resolve_config
    from ganforge.runs import train
    from ganforge.tools.run_models import load_run_network
    from ganforge.tools.saliency import saliency_maps

    train(resolve_config("cgan-projection", [dict(tiny_overrides, steps=2, image_size=8)]), out=str(tmp_path / "cgan"), progress=False)
    run = str(tmp_path / "cgan")
    assert main(["saliency", run, "gravel", "-o", str(tmp_path / "d.png")]) == 2
    assert "--class K (0..9)" in capsys.readouterr().err
    assert main(["saliency", run, "gravel", "-o", str(tmp_path / "d.png"), "--class", "3"]) == 0
    assert "judging them as class 3" in capsys.readouterr().out
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    maps = [saliency_maps(load_run_network(run, class_=k).module, x).maps for k in (3, 7)]
    assert not torch.allclose(maps[0], maps[1])
