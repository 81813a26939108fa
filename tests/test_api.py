"""The Python API a notebook uses, end to end."""
import torch

import ganforge as gf


def test_api_builds_trains_loads_and_generates(tmp_path):
    data = gf.get_dataset("digits", image_size=16)
    G, D = gf.build_models(gf.Config().model, data.shape(), data.kind)
    assert G(torch.randn(2, 100)).shape == (2, 1, 16, 16) and D(data.dataset.images[:3]).shape == (3,)
    assert gf.get_loss("hinge").d(torch.zeros(2), torch.zeros(2))["loss"].item() == 2.0

    cfg = gf.resolve_config("dcgan-demo", [{"data": "digits", "image_size": 16, "steps": 3, "batch_size": 16,
                                            "model": {"g": {"width": 8}, "d": {"width": 8}}}])  # fmt: skip
    result = gf.train(cfg, out=str(tmp_path / "run"), progress=False)
    run = gf.load_run(result.run_dir)
    assert run.step == 3 and run.shape == (1, 16, 16)
    a, b = gf.generate(run, 5, seed=1), gf.generate(run, 5, seed=1)
    assert a.shape == (5, 1, 16, 16) and torch.equal(a, b)
    assert "dcgan-demo" in gf.list_presets() and "mnist5k" in dict(gf.list_datasets())
