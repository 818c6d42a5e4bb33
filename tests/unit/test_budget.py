"""The budget curve (ganbench.budget; Lucic et al. 2018): the expected best of k hyper-parameter samples against
known answers, its bootstrap band, and the files it writes."""
import itertools

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganbench.budget import (anchor_values, best_of_k_weights, best_samples, budget_curve, budget_table, has_search,
                             sample_values, write_budget)


def runs(values, method="m", dataset="d", seeds=1, metric="fid", rng=None):
    """A runs table: one hyper-parameter sample per value, `seeds` runs each scattered around it."""
    rows = []
    for i, v in enumerate(values):
        for s in range(seeds):
            noise = 0.0 if rng is None else rng.normal(scale=0.01)
            rows.append({"dataset": dataset, "method": method, "seed": s, "hp_sample": i, metric: v + noise})
    return pd.DataFrame(rows)


def test_the_expected_minimum_of_k_uniform_draws_is_one_over_k_plus_one():
    """E[min of k U(0,1)] = 1/(k+1); here over 3,000 samples, within their bootstrap band."""
    x = np.random.default_rng(0).uniform(size=3000)
    c = budget_curve(runs(x), "fid", higher_is_better=False, replicates=300).set_index("k")
    for k in (1, 2, 5, 10, 20, 50, 100):
        assert c.at[k, "mean"] == pytest.approx(1 / (k + 1), abs=0.015)
        assert c.at[k, "lo"] - 0.003 <= 1 / (k + 1) <= c.at[k, "hi"] + 0.003
    # the maximum of k: k/(k+1)
    h = budget_curve(runs(x), "fid", higher_is_better=True, replicates=300).set_index("k")
    assert all(h.at[k, "mean"] == pytest.approx(k / (k + 1), abs=0.015) for k in (1, 2, 5, 10, 20))


@pytest.mark.parametrize("values", [[3.0, 1.0, 2.0], [5.0, 5.0, 1.0, 9.0], [0.3, 0.1, 0.7, 0.2, 0.9]])
def test_the_expectation_is_exact_over_every_draw_with_replacement(values):
    """The closed form equals the average of the best over all n^k ordered draws (Lucic et al.'s resampling in
    the limit)."""
    c = budget_curve(runs(values), "fid", False).set_index("k")
    h = budget_curve(runs(values), "fid", True).set_index("k")
    for k in range(1, len(values) + 1):
        draws = list(itertools.product(values, repeat=k))
        assert c.at[k, "mean"] == pytest.approx(np.mean([min(d) for d in draws]), rel=1e-12)
        assert h.at[k, "mean"] == pytest.approx(np.mean([max(d) for d in draws]), rel=1e-12)


def test_it_matches_lucic_et_als_resampling():
    """Sample k of the models with replacement, report the best, repeat: the Monte Carlo mean converges to it."""
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 20.0, size=40) + 10  # FID-like: skewed, positive
    c = budget_curve(runs(x), "fid", False).set_index("k")
    for k in (1, 3, 10, 40):
        mc = x[rng.integers(0, len(x), size=(200_000, k))].min(axis=1).mean()
        assert c.at[k, "mean"] == pytest.approx(mc, rel=0.01)


def test_the_weights_are_probabilities():
    w = best_of_k_weights(7, np.arange(1, 8))
    assert np.allclose(w.sum(axis=1), 1) and (w >= 0).all() and np.allclose(w[0], 1 / 7)


def test_k_equal_to_one_is_the_mean_over_samples_of_the_mean_over_seeds():
    rng = np.random.default_rng(2)
    df = runs(rng.normal(50, 10, size=12), seeds=3, rng=rng)
    c = budget_curve(df, "fid", False).set_index("k")
    per_sample = df.groupby("hp_sample")["fid"].mean()
    assert c.at[1, "mean"] == pytest.approx(per_sample.mean(), rel=1e-12) and c.at[1, "samples"] == 12
    assert c.at[12, "mean"] < c.at[1, "mean"] and c.index.max() == 12


@pytest.mark.parametrize("higher", [False, True])
def test_the_curve_is_monotone_and_its_band_contains_it(higher):
    rng = np.random.default_rng(3)
    df = pd.concat([runs(rng.lognormal(3, 1, size=n), method=f"m{n}") for n in (2, 9, 60)])
    c = budget_curve(df, "fid", higher)
    for _, m in c.groupby("method"):
        step = np.diff(m["mean"].to_numpy())
        assert (step >= -1e-12).all() if higher else (step <= 1e-12).all()
        assert (m["lo"] <= m["mean"] + 1e-9).all() and (m["mean"] <= m["hi"] + 1e-9).all()
        assert (m["q_lo"] <= m["q_hi"]).all() and (m["lo"] <= m["hi"]).all()


def test_higher_is_better_mirrors_lower_is_better():
    x = np.random.default_rng(4).normal(size=25)
    lo = budget_curve(runs(x), "fid", False, seed=5)
    hi = budget_curve(runs(-x), "fid", True, seed=5)
    assert np.allclose(lo["mean"], -hi["mean"]) and np.allclose(lo["lo"], -hi["hi"])
    assert np.allclose(lo["q_hi"], -hi["q_lo"])


def test_deterministic_for_a_seed_and_each_method_on_its_own_stream():
    rng = np.random.default_rng(5)
    a, b = runs(rng.normal(size=30), method="a"), runs(rng.normal(size=20), method="b")
    one = budget_curve(pd.concat([a, b]), "fid", False, seed=0)
    assert one.equals(budget_curve(pd.concat([a, b]), "fid", False, seed=0))
    other = budget_curve(pd.concat([a, b]), "fid", False, seed=1)
    assert np.allclose(one["mean"], other["mean"]) and not np.allclose(one["lo"], other["lo"])
    alone = budget_curve(a, "fid", False, seed=0)
    assert np.allclose(alone[["lo", "hi"]], one[one.method == "a"][["lo", "hi"]])  # adding b left a's band alone


def test_quantiles_of_one_draw_are_the_samples_quantiles():
    x = np.arange(1, 201, dtype=float)
    c = budget_curve(runs(x), "fid", False).set_index("k")
    assert (c.at[1, "q_lo"], c.at[1, "q_hi"]) == (5.0, 195.0)  # inverse CDF at 2.5% and 97.5%
    assert c.at[200, "q_lo"] == 1.0


def test_diverged_samples_are_left_out_and_counted():
    df = runs([1.0, 2.0, np.nan, 4.0], seeds=2)
    df.loc[(df.hp_sample == 1) & (df.seed == 1), "fid"] = np.nan  # one seed of sample 1 diverged: 2.0 stays
    c = budget_curve(df, "fid", False).set_index("k")
    assert c.at[1, "mean"] == pytest.approx(7 / 3) and (c["samples"] == 3).all() and (c["failed"] == 1).all()
    assert sample_values(df, "fid")["value"].isna().sum() == 1


def test_the_best_sample_per_method():
    df = pd.concat([runs([30.0, 10.0, np.nan, 20.0], method="a", seeds=2), runs([5.0, 50.0], method="b")])
    best = best_samples(df, "fid", higher_is_better=False).set_index("method")
    assert best.loc["a", ["hp_sample", "value", "seeds"]].tolist() == [1, 10.0, 2]
    assert best.loc["b", ["hp_sample", "value", "seeds"]].tolist() == [0, 5.0, 1]
    assert best_samples(df, "fid", higher_is_better=True).set_index("method").loc["a", "hp_sample"] == 0


def test_anchor_values_give_sample_zero_and_the_best_sample():
    df = pd.concat([runs([30.0, 10.0, np.nan, 20.0], method="a", seeds=2), runs([np.nan, 50.0], method="b")])
    a = anchor_values(df, "fid", higher_is_better=False)
    assert a.loc["a", ["sample0", "best", "best_sample"]].tolist() == [30.0, 10.0, 1]
    assert np.isnan(a.at["b", "sample0"]) and a.loc["b", ["best", "best_sample"]].tolist() == [50.0, 1]
    table = budget_table(budget_curve(df, "fid", False), a).set_index("method")
    assert table.at["a", "sample 0"] == "30.00" and table.at["a", "best sample"] == "10.00 (#1)"
    assert table.at["b", "sample 0"] == "failed"


def test_without_an_hp_sample_column_each_method_is_one_sample():
    df = runs([3.0, 4.0]).drop(columns="hp_sample")
    assert not has_search(df) and has_search(runs([3.0, 4.0]))
    assert budget_curve(df, "fid", False).to_dict("list")["mean"] == [3.5]  # the two runs are seeds of one sample


def test_write_budget_writes_the_table_and_the_figure(tmp_path):
    rng = np.random.default_rng(6)
    df = pd.concat([runs(rng.uniform(20, 80, size=30), method="ns"), runs(rng.uniform(10, 90, size=7), method="ls"),
                    runs([55.0], method="default-only"), runs(rng.uniform(0, 1, size=5), dataset="ring8", method="ns",
                                                               metric="modes")])
    higher, main = {"fid": False, "modes": True}, {"d": "fid", "ring8": "modes"}
    written = write_budget(tmp_path, df, higher, main)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "budget.csv", "budget.md", "plots/budget_d.png", "plots/budget_ring8.png"]
    csv = pd.read_csv(tmp_path / "budget.csv")
    assert list(csv.columns[:6]) == ["dataset", "metric", "method", "k", "mean", "lo"]
    assert len(csv) == 30 + 7 + 1 + 5
    md = (tmp_path / "budget.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| method"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "method", "samples", "failed", "sample 0", "best sample", "k=1", "k=2", "k=5", "k=10", "k=20", "k=30"]
    ns = next(line for line in md.splitlines() if line.startswith("| ns "))
    ls = next(line for line in md.splitlines() if line.startswith("| ls "))
    assert ls.count("[") == 3  # ls has 7 samples: values at k = 1, 2, 5, none at 10, 20, 30
    assert md.index("| ns ") < md.index("| default-only")  # best at the largest budget first (lower FID)
    assert "## ring8" in md and "`modes` (higher is better)" in md and "plots/budget_d.png" in md
    assert ns.count("[") == 6
    assert Image.open(tmp_path / "plots" / "budget_d.png").size[0] > 300


def test_write_budget_writes_nothing_without_a_search(tmp_path):
    df = pd.concat([runs([50.0], method="a", seeds=3), runs([40.0], method="b", seeds=3)])
    assert write_budget(tmp_path, df, {"fid": False}, {"d": "fid"}) == []
    assert not (tmp_path / "budget.csv").exists()
