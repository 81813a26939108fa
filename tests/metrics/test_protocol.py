"""Protocol cards, weight hashes, the metric registry and its errors."""
import json
import math

import numpy as np
import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.metrics import METRICS, EvalInputs, ProtocolCard, compute_metrics, get_metric, list_metrics
from ganforge.metrics.protocol import state_dict_sha256


def test_card_json_is_valid_and_complete():
    card = ProtocolCard(
        "modes/kl", math.inf, 100, None, "test", "mnist-cnn", "ab" * 32, "none", 3,
        warnings=["few samples"], extra={"histogram": np.array([1, 2]), "t": torch.tensor([0.5]), "x": np.float32(2)},
    )
    data = json.loads(card.to_json())
    assert data == {
        "metric": "modes/kl", "value": "inf", "n_gen": 100, "n_ref": None, "ref_split": "test",
        "extractor": "mnist-cnn", "extractor_weights_sha256": "ab" * 32, "resize": "none", "seed": 3,
        "feature_space": None, "input_size": None,
        "warnings": ["few samples"], "extra": {"histogram": [1, 2], "t": [0.5], "x": 2.0},
    }


def test_cards_written_before_feature_spaces_still_load():
    old = {"metric": "fid", "value": 3.5, "n_gen": 100, "n_ref": 100, "ref_split": "test",
           "extractor": "inception-v3-compat", "extractor_weights_sha256": "ab" * 32, "resize": "uint8 ...",
           "seed": 0, "warnings": [], "extra": {}}  # fmt: skip
    card = ProtocolCard(**old)
    assert card.feature_space is None and card.input_size is None
    assert json.loads(card.to_json()) == {**old, "feature_space": None, "input_size": None}


def test_weights_hash_follows_the_tensors_not_the_file(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    h = state_dict_sha256(net)
    assert len(h) == 64 and h == state_dict_sha256(net.state_dict())
    torch.save(net.state_dict(), tmp_path / "w.pt")
    assert state_dict_sha256(torch.load(tmp_path / "w.pt", weights_only=True)) == h
    with torch.no_grad():
        net[0].weight[0, 0, 0, 0] += 1e-6
    assert state_dict_sha256(net) != h


def test_unknown_metric_names_list_the_valid_ones():
    assert {"fid", "is", "kid", "memorization", "modes", "pr"} <= set(METRICS.list())
    with pytest.raises(ConfigError) as e:
        get_metric("fdi")
    assert "did you mean 'fid'" in str(e.value) and str(e.value).endswith("valid: " + ", ".join(METRICS.list()))
    assert [name for name, _ in list_metrics()] == METRICS.list()


def test_a_bad_name_fails_before_any_metric_runs():
    inputs = EvalInputs(gen_features=torch.zeros(10, 2))  # 'fid' would fail on the missing reference
    with pytest.raises(ConfigError, match="unknown metric 'kdi'"):
        compute_metrics(["fid", "kdi"], inputs)


def test_a_missing_input_is_named():
    with pytest.raises(ConfigError, match="metric 'fid' needs ref_features"):
        compute_metrics(["fid"], EvalInputs(gen_features=torch.zeros(10, 2)))
