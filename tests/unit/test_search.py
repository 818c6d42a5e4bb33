"""Random hyper-parameter search in suites (ganbench.search; Lucic et al. 2018): the distributions, the expansion
(counts, order, determinism, prefix stability, the base sample's run ids), parameter skipping, validation, and the
lucic2018 suite's search (searched suites run through `bench`: tests/e2e/test_search_bench.py)."""
import dataclasses
import json

import numpy as np
import pytest

from ganbench.errors import SpecError
from ganbench.spec.search import DISTRIBUTIONS, Choice, IntUniform, LogUniform, Param, Uniform, parse_distribution
from ganbench.spec import RunSpec, build_spec, identity, load_suite

N = 4000  # draws per distribution test


def draws(dist, n=N):
    return [dist.draw(np.random.default_rng([7, i])) for i in range(n)]


# ---------------------------------------------------------------- distributions


def test_the_registry_holds_the_four_distributions():
    assert DISTRIBUTIONS.names() == ["choice", "int_uniform", "log_uniform", "uniform"]


def test_uniform_lies_in_range_with_the_uniform_mean_and_quartiles():
    x = np.array(draws(parse_distribution({"uniform": [2.0, 6.0]}, "t")))
    assert all(isinstance(v, float) for v in x[:5])
    assert x.min() >= 2.0 and x.max() < 6.0
    assert abs(x.mean() - 4.0) < 0.06 and np.allclose(np.quantile(x, [0.25, 0.75]), [3.0, 5.0], atol=0.1)


def test_log_uniform_lies_in_range_and_its_log_is_uniform():
    d = parse_distribution({"log_uniform": [1.0e-5, 1.0e-2]}, "t")
    x = np.array(draws(d))
    assert x.min() >= 1e-5 and x.max() <= 1e-2
    e = np.log10(x)  # uniform on [-5, -2]: each of the three decades holds a third of the draws
    counts = np.histogram(e, bins=[-5, -4, -3, -2])[0] / len(e)
    assert np.allclose(counts, 1 / 3, atol=0.03)
    assert abs(e.mean() + 3.5) < 0.05 and abs(e.var() - 9 / 12) < 0.05  # the uniform's mean and variance
    from scipy import stats

    assert stats.kstest(e, stats.uniform(loc=-5, scale=3).cdf).pvalue > 0.01
    assert all(float(f"{v:.6g}") == v for v in x[:50])  # rounded: a run's identity does not hang on the last bit


def test_int_uniform_hits_every_integer_equally_often_both_ends_included():
    x = draws(IntUniform(1, 5))
    assert all(type(v) is int for v in x[:5])
    freq = np.bincount(x, minlength=6)[1:] / len(x)
    assert set(x) == {1, 2, 3, 4, 5} and np.allclose(freq, 0.2, atol=0.03)


def test_choice_keeps_the_values_and_their_types():
    x = draws(Choice((True, False)))
    assert set(x) == {True, False} and all(type(v) is bool for v in x) and abs(np.mean(x) - 0.5) < 0.04
    assert set(draws(Choice(("adam", "rmsprop", "sgd")), 300)) == {"adam", "rmsprop", "sgd"}


@pytest.mark.parametrize("value,match", [
    ({"uniform": [1.0, 0.0]}, r"uniform takes \[low, high\], two numbers with low < high"),
    ({"uniform": [0.0]}, "uniform takes"),
    ({"log_uniform": [0.0, 1.0]}, "positive numbers"),
    ({"int_uniform": [1, 5.5]}, "two integers"),
    ({"choice": []}, "non-empty list"),
    ({"choice": [[1, 2]]}, "plain values"),
    ({"log_unifrom": [1, 2]}, "did you mean log_uniform"),
    ([1.0e-5, 1.0e-2], r"write a distribution as \{name: arguments\}"),
])
def test_bad_distributions_are_one_line_errors(value, match):
    with pytest.raises(SpecError, match=match):
        parse_distribution(value, "suite s.yaml search space 'lr_g'")


# ---------------------------------------------------------------- expansion

SUITE = """
seeds: 2
base: {{steps: 5, eval_samples: 64, batch_size: 32}}
grid:
  dataset: [ring8]
  loss: [ns]
  tricks: [[], [d-steps]]
search:
{search}
"""
SEARCH = """
  samples: {samples}
  seed: 3
  include_base: {include_base}
  space:
    lr_g: {{log_uniform: [1.0e-5, 1.0e-2]}}
    beta1: {{uniform: [0.0, 1.0]}}
    tricks.d-steps.k: {{int_uniform: [1, 5]}}
  tie: {{lr_d: lr_g}}
"""


def suite(tmp_path, samples=4, include_base="true", search=None, name="s"):
    p = tmp_path / f"{name}.yaml"
    text = search if search is not None else SEARCH.format(samples=samples, include_base=include_base)
    p.write_text(SUITE.format(search=text))
    return load_suite(str(p))


def no_search(tmp_path):
    p = tmp_path / "plain.yaml"
    p.write_text(SUITE.format(search="").split("search:")[0])
    return load_suite(str(p))


def test_expansion_counts_order_and_labels(tmp_path):
    specs = suite(tmp_path, samples=4).expand()
    assert len(specs) == 2 * 4 * 2  # cells x samples x seeds
    assert [s.hp_sample for s in specs] == [i for i in range(4) for _ in range(4)]  # sample by sample
    assert [(s.method, s.seed) for s in specs[:4]] == [("ns", 0), ("ns", 1), ("ns+d-steps", 0), ("ns+d-steps", 1)]
    assert {s.method for s in specs} == {"ns", "ns+d-steps"}  # a drawn trick parameter never renames the method
    assert all(s.lr_d == s.lr_g for s in specs)  # tied
    assert specs[4].run_id.startswith("ring8-ns-s0-h1-") and "-h" not in specs[0].run_id
    assert len({s.run_id for s in specs}) == len(specs)


def test_search_seeds_train_each_drawn_sample_with_its_own_seeds(tmp_path):
    text = SEARCH.format(samples=3, include_base="true") + "  seeds: [5]\n"
    specs = suite(tmp_path, search=text).expand()
    assert len(specs) == 2 * 2 + 2 * 2 * 1  # the base with the suite's 2 seeds, 2 drawn samples with one
    assert {s.seed for s in specs if s.hp_sample == 0} == {0, 1} and {s.seed for s in specs if s.hp_sample} == {5}


def test_the_expansion_is_deterministic(tmp_path):
    a = [s.run_id for s in suite(tmp_path, name="a").expand()]
    b = [s.run_id for s in suite(tmp_path, name="b").expand()]
    assert a == b


def test_fewer_samples_expand_to_a_prefix_of_more(tmp_path):
    five = suite(tmp_path, samples=5, name="five").expand()
    ten = suite(tmp_path, samples=10, name="ten").expand()
    assert [s.run_id for s in five] == [s.run_id for s in ten[: len(five)]]
    assert [s.to_json() for s in five] == [s.to_json() for s in ten[: len(five)]]


def test_sample_zero_is_the_base_and_keeps_its_run_ids(tmp_path):
    specs = suite(tmp_path).expand()
    base = no_search(tmp_path).expand()
    zero = [s for s in specs if s.hp_sample == 0]
    assert [s.run_id for s in zero] == [s.run_id for s in base]
    assert [dataclasses.replace(s, hp_sample=None) for s in zero] == base
    drawn = [s for s in specs if s.hp_sample == 1]
    assert all((s.lr_g, s.beta1) != (b.lr_g, b.beta1) for s, b in zip(drawn, base))


def test_without_the_base_sample_zero_is_drawn(tmp_path):
    specs = suite(tmp_path, include_base="false").expand()
    base = {(s.method, s.seed): s for s in no_search(tmp_path).expand()}
    assert all(s.lr_g != base[(s.method, s.seed)].lr_g for s in specs if s.hp_sample == 0)
    assert len(specs) == 2 * 4 * 2


def test_trick_parameters_are_drawn_only_where_the_cell_has_the_trick(tmp_path):
    specs = suite(tmp_path, samples=30).expand()
    plain = [s for s in specs if s.method == "ns"]
    with_trick = [s for s in specs if s.method == "ns+d-steps"]
    assert all(s.tricks == () for s in plain)
    ks = [dict(s.tricks[0].params)["k"] for s in with_trick if s.hp_sample]
    assert set(ks) == {1, 2, 3, 4, 5}
    # common random numbers: both cells get the same learning rate at the same sample
    lr = {(s.method, s.hp_sample): s.lr_g for s in specs}
    assert all(lr[("ns", i)] == lr[("ns+d-steps", i)] for i in range(30))


def test_two_parameters_of_one_trick_are_drawn_together(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("grid: {dataset: [ring8], loss: [ns], tricks: [[dragan]]}\n"
                 "search: {samples: 3, space: {tricks.dragan.lam: {log_uniform: [0.1, 100]}, "
                 "tricks.dragan.c: {uniform: [0.1, 1]}}}")
    specs = load_suite(str(p)).expand()
    params = [dict(s.tricks[0].params) for s in specs]
    assert params[0] == {"lam": 10.0, "c": 0.5} and len({(q["lam"], q["c"]) for q in params}) == 3
    assert {s.method for s in specs} == {"ns+dragan"}


def test_a_cell_without_any_searched_parameter_has_only_its_own_values(tmp_path):
    text = """
  samples: 6
  seeds: [9]
  space:
    tricks.d-steps.k: {int_uniform: [1, 5]}
"""
    specs = suite(tmp_path, search=text).expand()
    assert [(s.hp_sample, s.seed) for s in specs if s.method == "ns"] == [(0, 0), (0, 1)]  # not 5 identical reruns
    assert len([s for s in specs if s.method == "ns+d-steps"]) == 2 + 5


def test_a_sample_depends_only_on_the_search_seed_the_sample_and_the_parameter(tmp_path):
    s = suite(tmp_path, samples=3).search
    beta2 = (Param.parse("beta2", "t"), Uniform(0.9, 0.99))
    wider = dataclasses.replace(s, samples=50, space=s.space + (beta2,))
    for i in range(3):
        old, new = s.draw(i), wider.draw(i)
        assert {k: new[k] for k in old} == old  # more samples, one more parameter: the earlier values stay
    assert s.draw(1) != s.draw(2) and dataclasses.replace(s, seed=4).draw(1) != s.draw(1)


def test_hp_sample_is_left_out_of_the_identity_only_at_none_and_zero():
    spec = build_spec({"dataset": "ring8", "loss": "ns"})
    assert identity(spec.to_json()) == identity(dataclasses.replace(spec, hp_sample=0).to_json())
    assert "hp_sample" in identity(dataclasses.replace(spec, hp_sample=3).to_json())
    assert dataclasses.replace(spec, hp_sample=0).run_id == spec.run_id
    assert dataclasses.replace(spec, hp_sample=3).run_id != spec.run_id
    again = RunSpec.from_json(json.loads(json.dumps(dataclasses.replace(spec, hp_sample=3).to_json())))
    assert again.hp_sample == 3 and again.run_id == dataclasses.replace(spec, hp_sample=3).run_id


def test_sampled_values_are_validated_like_written_ones(tmp_path):
    text = """
  samples: 2
  space:
    beta1: {choice: [1.5]}
"""
    with pytest.raises(SpecError, match=r"hyper-parameter sample 1 \{'beta1': 1.5\}: beta1=1.5 is out of range; "
                                        r"allowed: \[0, 1\)"):
        suite(tmp_path, search=text).expand()


def test_hp_sample_cannot_be_written_by_hand(tmp_path):
    with pytest.raises(SpecError, match="hp_sample is set by a suite's search section"):
        build_spec({"dataset": "ring8", "loss": "ns", "hp_sample": 2})


BAD = [
    ("search: 3", "search must be a mapping"),
    ("search: {samples: 2, space: {lr_g: {uniform: [0.1, 1]}}, bogus: 1}", "unknown search key bogus; valid keys"),
    ("search: {space: {lr_g: {uniform: [0.1, 1]}}}", "search samples must be a positive integer"),
    ("search: {samples: 0, space: {lr_g: {uniform: [0.1, 1]}}}", "search samples must be a positive integer"),
    ("search: {samples: 2, seed: -1, space: {lr_g: {uniform: [0.1, 1]}}}", "search seed must be a non-negative"),
    ("search: {samples: 2, include_base: 1, space: {lr_g: {uniform: [0.1, 1]}}}", "include_base must be true or false"),
    ("search: {samples: 2}", "search space must map each parameter to a distribution"),
    ("search: {samples: 2, space: {dataset: {choice: [ring8]}}}", "cannot search 'dataset'"),
    ("search: {samples: 2, space: {lr_g: {uniform: [1, 0.1]}}}", "search space 'lr_g': uniform takes"),
    ("search: {samples: 2, space: {tricks.d-step.k: {int_uniform: [1, 5]}}}", "did you mean d-steps"),
    ("search: {samples: 2, space: {tricks.d-steps.n: {int_uniform: [1, 5]}}}",
     "trick 'd-steps' has no parameter 'n'; its parameters: k"),
    ("search: {samples: 2, space: {tricks.k: {int_uniform: [1, 5]}}}", "write a trick parameter as tricks.TRICK.PARAM"),
    ("search: {samples: 2, space: {lr_g: {uniform: [0.1, 1]}}, tie: {lr_d: lr_x}}", "'lr_x' is not a parameter of"),
    ("search: {samples: 2, space: {lr_g: {uniform: [0.1, 1]}, lr_d: {uniform: [0.1, 1]}}, tie: {lr_d: lr_g}}",
     "'lr_d' is drawn in the space itself"),
    ("search: {samples: 2, seeds: 0, space: {lr_g: {uniform: [0.1, 1]}}}", "seeds must be a positive count"),
]


@pytest.mark.parametrize("text,match", BAD)
def test_invalid_searches_are_one_line_errors_naming_the_suite(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text("grid: {dataset: [ring8], loss: [ns]}\n" + text)
    with pytest.raises(SpecError, match=match) as e:
        load_suite(str(p))
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_a_parameter_no_cell_has_is_an_error(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("grid: {dataset: [ring8], loss: [ns]}\n"
                 "search: {samples: 2, space: {tricks.clip.c: {log_uniform: [0.001, 1]}, arch_options.d_bn: "
                 "{choice: [true, false]}}}")
    with pytest.raises(SpecError, match="search parameter tricks.clip.c, arch_options.d_bn applies to no cell"):
        load_suite(str(p)).expand()


def test_a_scale_may_shrink_the_search(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.format(search=SEARCH.format(samples=100, include_base="true"))
                 + "scales:\n  smoke: {seeds: 1, search: {samples: 2}}\n")
    specs = load_suite(str(p), scale="smoke").expand()
    assert len(specs) == 2 * 2 * 1 and {s.hp_sample for s in specs} == {0, 1}
    full = load_suite(str(p)).search
    assert full.samples == 100 and load_suite(str(p), scale="smoke").search.space == full.space


# ---------------------------------------------------------------- the lucic2018 suite


def test_lucic2018_searches_the_studys_wide_ranges():
    """compare_gan v1's phase 1: 100 samples per model and data set, the defaults among them (trained with the
    suite's 10 seeds), the 99 others trained once; disc_iters is searched for every model."""
    full = load_suite("lucic2018")
    s = full.search
    assert (s.samples, s.include_base, s.seeds, full.seeds) == (100, True, (0,), tuple(range(10)))
    space = {p.path: d for p, d in s.space}
    assert space == {"lr_g": LogUniform(1e-5, 1e-2), "beta1": Uniform(0.0, 1.0),
                     "arch_options.d_bn": Choice((True, False)), "tricks.d-steps.k": IntUniform(1, 5),
                     "tricks.clip.c": LogUniform(1e-3, 1.0),
                     "tricks.gp.lam": LogUniform(0.1, 100.0), "tricks.dragan.lam": LogUniform(0.1, 100.0)}
    assert [(t.path, src) for t, src in s.tie] == [("lr_d", "lr_g")]
    # the fixtures' CelebA is too small for batch 64: expand the other three data sets at full scale
    specs = dataclasses.replace(full, exclude=({"dataset": "celeba"},)).expand()
    assert len(specs) == 18 * (10 + 99)
    drawn = [x for x in specs if x.hp_sample]
    assert {x.method for x in drawn} == {"MM GAN", "NS GAN", "LSGAN", "WGAN", "WGAN GP", "DRAGAN"}
    assert all(x.lr_d == x.lr_g and 1e-5 <= x.lr_g <= 1e-2 and 0 <= x.beta1 < 1 for x in drawn)
    assert {x.arch_options["d_bn"] for x in drawn} == {True, False}
    params = [(x.method, t.name, dict(t.params)) for x in drawn for t in x.tricks]
    assert {p["k"] for m, n, p in params if n == "d-steps"} == {1, 2, 3, 4, 5}
    assert {m for m, n, p in params if n == "d-steps"} == {"MM GAN", "NS GAN", "LSGAN", "WGAN", "WGAN GP", "DRAGAN"}
    assert all(1e-3 <= p["c"] <= 1 for m, n, p in params if n == "clip")
    assert all(0.1 <= p["lam"] <= 100 for m, n, p in params if n in ("gp", "dragan"))


def test_lucic2018_scales_stay_small():
    smoke = load_suite("lucic2018", scale="smoke")
    assert smoke.search.samples == 1 and len(smoke.expand()) == 6  # the six losses' defaults on MNIST: the pipeline check
    assert {x.dataset for x in smoke.expand()} == {"mnist"}
    check = load_suite("lucic2018", scale="search-smoke")
    specs = check.expand()
    assert check.search.samples == 2 and len(specs) == 6 * 2 and {x.dataset for x in specs} == {"mnist"}
    assert all(x.steps == 4 and x.eval_samples == 64 for x in specs)
    assert [x.run_id for x in specs if x.hp_sample == 0] == [x.run_id for x in smoke.expand() if x.dataset == "mnist"]
