"""Registry-wide checks of every registered trick: each has a mechanism test in the test module of its family (the
ganbench/tricks module that registers it: tests/unit/tricks/test_tricks_<family>.py), and each description cites its
paper."""
import importlib

import pytest

from ganbench.tricks import TRICKS
from trickspecs import family_names, family_of


def test_every_trick_has_a_mechanism_test():
    mechanisms = {}
    for family in sorted({family_of(n) for n in TRICKS.names()}):
        module = importlib.import_module(f"test_tricks_{family}")  # a trick family without a test module fails here
        assert set(module.MECHANISMS) == set(family_names(family)), family
        mechanisms.update(module.MECHANISMS)
    assert set(mechanisms) == set(TRICKS.names())


@pytest.mark.parametrize("name", TRICKS.names())
def test_trick_has_paper_and_description(name):
    assert "20" in TRICKS.entry(name).description  # cites a year
