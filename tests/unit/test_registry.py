import pytest

from ganbench.errors import GanbenchError
from ganbench.registry import Registry


def test_register_get_and_describe():
    r = Registry("widget")

    @r.register("alpha")
    def alpha():
        """The first widget.

        More text."""

    assert r.get("alpha") is alpha
    assert r.entry("alpha").description == "The first widget."
    assert r.names() == ["alpha"] and "alpha" in r and len(r) == 1


def test_duplicate_is_an_error_not_an_overwrite():
    r = Registry("widget")
    r.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        r.register("a", 2)
    assert r.get("a") == 1


def test_unknown_name_suggests_close_names():
    r = Registry("loss")
    for n in ("hinge", "ns", "wasserstein"):
        r.register(n, n)
    with pytest.raises(GanbenchError, match="did you mean wasserstein") as e:
        r.get("wasserstien")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("bad", ["Upper", "has space", "", "../x"])
def test_names_are_checked(bad):
    with pytest.raises(ValueError):
        Registry("widget").register(bad, 1)
