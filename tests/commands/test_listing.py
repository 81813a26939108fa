"""`ganforge presets | datasets | ...`: every name a preset uses can be looked up."""
import pytest

from ganforge.cli import main
from ganforge.errors import DataError
from ganforge.data import get_dataset
from ganforge.presets import list_presets, resolve_config


def listed_names(capsys, verb: str) -> dict[str, str]:
    assert main([verb]) == 0
    return dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines() if line.strip())


def test_datasets_lists_every_dataset_a_preset_names(capsys):
    listed = listed_names(capsys, "datasets")
    named = {}
    for preset in list_presets():
        cfg = resolve_config(preset)
        named[cfg.data] = preset
        if cfg.algo.get("data_b"):  # CycleGAN's second domain
            named[cfg.algo["data_b"]] = preset
    missing = {data: preset for data, preset in named.items() if data not in listed}
    assert not missing, f"named by presets but not listed: {missing}"
    assert "mnist-pairs" in named and "pix2pix" in listed["mnist-pairs"]


def test_paired_data_asked_for_as_one_domain_says_what_it_is():
    with pytest.raises(DataError, match="mnist-pairs is paired data .*pix2pix.*mnist-plain"):
        get_dataset("mnist-pairs")
