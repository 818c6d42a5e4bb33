"""The paper-scale suites: each states its protocol and its scales (their smoke scales run end to end:
tests/e2e/test_paper_suites_bench.py)."""
import pytest

from ganbench.errors import SpecError
from ganbench.spec import load_suite
from ganbench.tricks.base import make_trick
from helpers import PAPER_SUITES


@pytest.mark.parametrize("name", [*PAPER_SUITES, "tricks-mnist"])
def test_paper_suites_state_their_protocol(name):
    s = load_suite(name, scale="smoke")
    assert all(k in s.description for k in ("Protocol:", "Budget:", "Evaluation:", "Inception-v3", "VGG16"))
    assert s.name == f"{name}-smoke" and s.seeds == (0,)
    doc = load_suite(name)
    assert len(doc.seeds) >= 3 and doc.scale_set == {}


def test_an_unknown_scale_is_a_one_line_error():
    with pytest.raises(SpecError, match="has no scale 'tiny'; its scales: cpu, smoke"):
        load_suite("losses-mnist", scale="tiny")


def test_real_mnist_cpu_scales_state_what_they_run():
    """The committed real-MNIST results' settings, as the suites expand them: losses-mnist --scale cpu (9 methods x
    3 seeds, width-16 DCGAN, 3,000 updates, Adam 1e-3 except the presets' own rates, ganbench-mnist features),
    pacgan-stacked-mnist --scale cpu (DCGAN, PacDCGAN2, PacDCGAN4 x 3 seeds, 6,000 updates) and budget-mnist (4
    formulations: defaults x 3 seeds and 7 searched settings)."""
    specs = load_suite("losses-mnist", scale="cpu").expand()
    assert len(specs) == 27 and {s.features for s in specs} == {"ganbench-mnist"}
    assert all(s.steps == 3000 and s.arch_options["width"] == 16 and s.eval_samples == 10000 for s in specs)
    rates = {s.method: (s.optimizer, s.lr_g, s.lr_d) for s in specs}
    assert rates["ns"] == rates["hinge"] == rates["ns+dragan"] == ("adam", 1e-3, 1e-3)
    assert rates["wgan"] == ("rmsprop", 5e-5, 5e-5) and rates["wgan-gp"] == ("adam", 1e-4, 1e-4)
    stacked = load_suite("pacgan-stacked-mnist", scale="cpu").expand()
    assert sorted({s.method for s in stacked}) == ["DCGAN", "PacDCGAN2", "PacDCGAN4"] and len(stacked) == 9
    assert all(s.steps == 6000 and s.eval_samples == 26000 and s.lr_g == 2e-4 for s in stacked)
    assert {s.features for s in stacked} == {"ganbench-stacked-mnist"}
    budget = load_suite("budget-mnist").expand()
    assert len(budget) == 4 * (3 + 7) and {s.features for s in budget} == {"ganbench-mnist"}
    assert len({(s.lr_g, s.beta1) for s in budget if s.method == "NS GAN"}) == 8


def test_tricks_mnist_cpu_scale_is_losses_mnist_cpu_with_one_trick_per_row():
    """tricks-mnist --scale cpu: the baseline's runs are losses-mnist --scale cpu's ns runs (the same run ids, so
    the same numbers), each other row that baseline plus one trick at its default, ttur with its own rates.
    Its smoke scale is not run end to end like the GPU suites': its tricks are all in tricks-cifar10's smoke run
    and its data set in losses-mnist's."""
    losses = {s.seed: s.run_id for s in load_suite("losses-mnist", scale="cpu").expand() if s.method == "ns"}
    specs = load_suite("tricks-mnist", scale="cpu").expand()
    assert len(specs) == 27 and {s.seed: s.run_id for s in specs if s.method == "ns"} == losses
    tricks = {s.method: [t.name for t in s.tricks] for s in specs}
    assert len(tricks) == 9 and all(v == [m.removeprefix("ns+")] for m, v in tricks.items() if m != "ns")
    ttur = make_trick("ttur", dict(next(t for s in specs for t in s.tricks if t.name == "ttur").params))
    assert (ttur.lr_g, ttur.lr_d) == (1e-4, 4e-4)  # Heusel et al.'s rates replace the suite's 1e-3 for both
    cifar = {t.name for s in load_suite("tricks-cifar10", scale="smoke").expand() for t in s.tricks}
    assert {t for v in tricks.values() for t in v} <= cifar
    assert all(s.steps == 3000 and s.arch_options["width"] == 16 and s.eval_samples == 10000 and
               s.features == "ganbench-mnist" and (s.lr_g, s.lr_d) == (1e-3, 1e-3) for s in specs)
