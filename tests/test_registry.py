import pytest

from ganforge.errors import ConfigError
from ganforge.registry import Registry


def test_register_get_list():
    reg = Registry("thing")
    reg.register("alpha")(1)
    reg.register("beta")(2)
    assert reg.get("beta") == 2
    assert reg.list() == ["alpha", "beta"]
    assert reg.list("a*") == ["alpha"]


def test_duplicate_name_is_an_error():
    reg = Registry("thing")
    reg.register("alpha")(1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("alpha")(2)


def test_unknown_name_lists_valid_names_and_closest():
    reg = Registry("thing")
    for name in ("mnist5k", "digits"):
        reg.register(name)(name)
    with pytest.raises(ConfigError) as e:
        reg.get("mnist6k")
    assert "did you mean 'mnist5k'" in str(e.value)
    assert "digits, mnist5k" in str(e.value)
