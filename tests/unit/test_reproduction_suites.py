"""Every reproduction suite (a suite with a `reproduces` section): the expected ones exist, and a scale may leave out
cells (their smoke scales run end to end and write reproduction.md: tests/e2e/test_reproduction_bench.py)."""
from ganbench.spec import load_suite
from helpers import REPRODUCTIONS


def test_the_reproduction_suites_exist():
    """Among them the two 2-D reproductions (VEEGAN/PacGAN's and unrolled GAN's ring), of at least seven."""
    assert {"veegan-pacgan-2d", "unrolled-ring"} <= set(REPRODUCTIONS)
    assert len(REPRODUCTIONS) >= 7


def test_a_scale_may_leave_out_cells_that_repeat_others_code():
    """sngan-cifar10's smoke scale keeps one n_dis=1 and one n_dis=5 setting of each of its 7 methods."""
    full = load_suite("sngan-cifar10")
    smoke = load_suite("sngan-cifar10", scale="smoke")
    assert len(full.cells()) == 42 and len(smoke.cells()) == 14
    assert {c["method"][-3:] for c in smoke.cells()} == {"[A]", "[B]"}
