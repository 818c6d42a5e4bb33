"""Specs and suites: presets, layering, hashing, and bad input."""
import pytest

from ganbench.errors import GanbenchError, SpecError
from ganbench.spec import RunSpec, build_spec, find_suite, list_suites, load_suite, parse_set
from helpers import REPO


def test_defaults_come_from_the_dataset():
    s = build_spec({"dataset": "digits", "loss": "ns"})
    assert (s.arch, s.batch_size, s.eval_samples) == ("dcgan", 64, 2000)
    assert s.arch_options == {"width": 64, "d_norm": "none", "g_bn": True, "init": "normal", "g_act": "relu",
                              "upsample": "convT", "d_dropout": 0.0, "attention": 0, "patch": False, "vbn": 0,
                              "msg": False}


def test_presets_expand_and_later_layers_win():
    s = build_spec({"dataset": "ring8", "loss": "wgan"})
    assert (s.loss, s.method, s.optimizer, s.lr_d) == ("wasserstein", "wgan", "rmsprop", 5e-5)
    assert {t.name: dict(t.params) for t in s.tricks} == {"clip": {"c": 0.01}, "d-steps": {"k": 5}}
    s2 = build_spec({"dataset": "ring8", "loss": "wgan-gp"}, {"lr_d": 3e-4, "tricks": ["sn"]})
    assert s2.lr_d == 3e-4 and s2.beta2 == 0.9 and s2.method == "wgan-gp+sn"


def test_run_id_is_a_stable_hash_of_the_canonical_spec():
    a = build_spec({"dataset": "ring8", "loss": "ns", "seed": 1})
    b = RunSpec.from_json(a.to_json())
    assert a == b and a.run_id == b.run_id and a.run_id.startswith("ring8-ns-s1-")
    assert build_spec({"dataset": "ring8", "loss": "ns", "seed": 2}).run_id != a.run_id
    # an architecture option at its default is not part of the identity: specs written before the option existed
    # (no key) and after (default filled in) name the same run; a non-default value does change it
    old = a.to_json()
    old["arch_options"] = {k: v for k, v in old["arch_options"].items() if k != "d_dropout"}
    assert RunSpec.from_json(old).run_id == a.run_id
    assert build_spec({"dataset": "ring8", "loss": "ns", "seed": 1, "arch_options": {"d_dropout": 0.1}}).run_id != a.run_id


@pytest.mark.parametrize("fields,match", [
    ({"dataset": "ring9", "loss": "ns"}, "did you mean ring8"),
    ({"dataset": "ring8", "loss": "hinj"}, "did you mean hinge"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["spectral"]}, "unknown trick"),
    ({"dataset": "ring8", "loss": "ns", "lr": 1}, "unknown run-spec key 'lr'"),
    ({"dataset": "ring8", "loss": "ns", "steps": "many"}, "not an integer"),
    ({"dataset": "ring8", "loss": "ns", "steps": 0}, "allowed: integers >= 1"),
    ({"dataset": "digits", "loss": "ns", "batch_size": 5000}, "exceeds"),
    ({"dataset": "ring8", "loss": "ns", "arch": "dcgan"}, "dcgan needs a resolution"),
    ({"loss": "ns"}, "no 'dataset'"),
])
def test_bad_specs_are_one_line_errors(fields, match):
    with pytest.raises(GanbenchError, match=match) as e:  # every user-error class derives from it
        build_spec(fields)
    assert "\n" not in str(e.value)


def test_parse_set():
    assert parse_set(["lr_d=4e-4", "batch_size=128", "arch_options.width=32"]) == {
        "lr_d": 4e-4, "batch_size": 128, "arch_options": {"width": 32}}
    with pytest.raises(SpecError):
        parse_set(["novalue"])


def test_suites_expand():
    losses = load_suite("losses").expand()
    assert len(losses) == 3 * 9 * 3 and len({s.run_id for s in losses}) == len(losses)
    assert {s.method for s in losses} == {"ns", "mm", "wasserstein", "ls", "hinge", "rsgan", "ragan", "wgan", "wgan-gp"}
    digits = [s for s in losses if s.dataset == "digits"]
    assert all(s.steps == 1000 and s.arch_options["width"] == 16 for s in digits)


def test_tricks_suite_covers_every_trick_once_per_data_set():
    from ganbench.tricks import TRICKS

    specs = load_suite("tricks").expand()
    used = {t.name for s in specs for t in s.tricks}
    assert used == set(TRICKS.names())
    for s in specs:  # one trick per cell, on the ns baseline
        assert s.loss == "ns" and len(s.tricks) <= 1
    image_only = {"diffaugment", "consistency", "separate-batches", "upsample-conv", "self-attention", "patch-d"}
    assert not any(t.name in image_only for s in specs if s.dataset in ("ring8", "grid25") for t in s.tricks)
    bn = [s for s in specs if s.arch_options.get("d_norm") == "bn"]
    assert {s.method for s in bn} == {"ns [bn D]", "separate-batches [bn D]"} and len(bn) == 2 * 2 * 3


def test_suite_grid_blocks_exclude_and_add_trick(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("""
seeds: 1
base: {steps: 5, loss: ns}
grid:
  - {dataset: [ring8, grid25], loss: [ns]}
  - {dataset: [ring8, digits], tricks: [[], [sn], [diffaugment]]}
exclude:
  - {dataset: ring8, tricks: [diffaugment]}
  - {dataset: grid25, tricks: none}
overrides:
  - {when: {tricks: [sn]}, set: {steps: 7}}
""")
    suite = load_suite(str(p))
    got = {(s.dataset, s.method, s.steps) for s in suite.expand()}
    # block 1 gives ring8/grid25 ns, but "grid25 without tricks" is excluded; block 2's ring8 ns is block 1's
    assert got == {("ring8", "ns", 5), ("ring8", "ns+sn", 7), ("digits", "ns", 5), ("digits", "ns+sn", 7),
                   ("digits", "ns+diffaugment", 5)}
    extended = {s.method for s in load_suite(str(p), ["ttur"]).expand()}
    assert {"ns+ttur"} <= extended and len(extended) == 4
    with pytest.raises(SpecError, match="no tricks axis"):
        load_suite("losses", ["ttur"])


@pytest.mark.parametrize("text,match", [
    ("grid: [1, 2", "not valid YAML"),
    ("grid: [{dataset: [ring8]}, 3]", "list of such mappings"),
    ("grid: {dataset: [ring8]}\nexclude: {dataset: ring8}", "exclude must be a list"),
    ("- a list", "must be a YAML mapping"),
    ("grid: {dataset: [ring8]}\nbogus: 1", "unknown key 'bogus'"),
    ("grid: {datset: [ring8]}", "did you mean dataset"),
    ("grid: {dataset: []}", "non-empty list"),
    ("seeds: many", "seeds='many' must be"),
    ("grid: {dataset: [ring8], loss: [ns]}\noverrides: [{when: {dataset: ring8}}]", "each override"),
])
def test_malformed_suites(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(SpecError, match=match):
        load_suite(str(p))


def test_unknown_suite():
    with pytest.raises(SpecError, match="did you mean losses") as e:
        load_suite("loses")
    assert "\n" not in str(e.value)


def test_shipped_suites_are_found_by_name_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no suites/ here
    assert find_suite("losses").resolve() == REPO / "suites" / "losses.yaml"
    assert load_suite("smoke").name == "smoke"
    assert {"smoke", "losses", "tricks"} <= set(list_suites())


def test_the_shipped_suites_are_the_packaged_folder_in_an_installed_wheel(tmp_path, monkeypatch):
    """Installed from a wheel, ganbench/suites/ (the packaged top-level suites/) is where the suites come from; in
    a checkout there is no such folder and the checkout's suites/ is."""
    from ganbench.spec import suite

    assert suite.shipped_suites() == REPO / "suites"
    (tmp_path / "ganbench" / "suites").mkdir(parents=True)
    monkeypatch.setattr(suite.resources, "files", lambda package: tmp_path / package)
    assert suite.shipped_suites() == tmp_path / "ganbench" / "suites"


def test_a_suites_folder_in_the_current_directory_comes_first(tmp_path, monkeypatch):
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "smoke.yaml").write_text(
        "description: my own smoke\nbase: {dataset: ring8, steps: 2}\ngrid: {loss: [ns]}\n")
    (tmp_path / "suites" / "mine.yaml").write_text("description: mine\nbase: {dataset: ring8}\ngrid: {loss: [ns]}\n")
    monkeypatch.chdir(tmp_path)
    assert find_suite("smoke") == tmp_path / "suites" / "smoke.yaml"
    assert load_suite("smoke").description == "my own smoke" and load_suite("mine").name == "mine"
    listed = list_suites()
    assert listed["smoke"] == "my own smoke" and listed["mine"] == "mine" and "losses" in listed


def test_a_suite_of_ones_own_is_its_path(tmp_path, monkeypatch):
    (tmp_path / "my").mkdir()
    (tmp_path / "my" / "suite.yaml").write_text("name: mine\nbase: {dataset: ring8}\ngrid: {loss: [ns, hinge]}\n")
    monkeypatch.chdir(tmp_path)
    assert {s.loss for s in load_suite("my/suite.yaml").expand()} == {"ns", "hinge"}
    with pytest.raises(SpecError, match=r"unknown suite 'my/suite'.*given by its path, ending in .yaml") as e:
        load_suite("my/suite")
    assert "\n" not in str(e.value)
    with pytest.raises(SpecError, match="suite file 'my/nosuch.yaml' does not exist"):
        load_suite("my/nosuch.yaml")


def test_launch_cost_orders_the_expensive_runs_first():
    from ganbench.launch import cost

    def c(**kw):
        return cost(build_spec({"dataset": "ring8", "loss": "ns", **kw}))

    base = c()
    assert c(loss="wgan-gp") > 5 * base  # 5 D updates, each with a double backward
    assert c(tricks=["unrolled"]) > 3 * base and c(tricks=["large-batch"]) == 8 * base
    assert c(tricks=["sn"]) == base and cost(build_spec({"dataset": "stacked-digits", "loss": "ns"})) > base


def test_a_scale_may_override_per_cell(tmp_path):
    """A scale's `overrides` apply after its `set` to the cells they match (e.g. presets keep their own rates)."""
    from ganbench.spec import load_suite

    (tmp_path / "s.yaml").write_text(
        "name: s\nbase: {dataset: ring8, steps: 100}\ngrid: {loss: [ns, wgan]}\n"
        "scales:\n  cpu:\n    set: {lr_g: 1.0e-3, lr_d: 1.0e-3}\n"
        "    overrides:\n      - {when: {loss: wgan}, set: {lr_g: 5.0e-5, lr_d: 5.0e-5}}\n")
    specs = {s.method: s for s in load_suite(str(tmp_path / "s.yaml"), scale="cpu").expand()}
    assert (specs["ns"].lr_g, specs["wgan"].lr_g, specs["wgan"].lr_d, specs["wgan"].optimizer) == (1e-3, 5e-5, 5e-5, "rmsprop")
    (tmp_path / "bad.yaml").write_text((tmp_path / "s.yaml").read_text().replace("lr_g: 5.0e-5,", "lr_gg: 5.0e-5,"))
    with pytest.raises(SpecError, match="unknown run-spec key 'lr_gg'.*did you mean lr_g"):
        load_suite(str(tmp_path / "bad.yaml"), scale="cpu")


def test_features_field_scores_in_another_extractor_and_enters_the_run_id_only_when_given():
    from ganbench.build import build

    plain = build_spec({"dataset": "mnist", "loss": "ns", "steps": 2})
    scored = build_spec({"dataset": "mnist", "loss": "ns", "steps": 2, "features": "ganbench-mnist"})
    assert "features" not in plain.canonical() and plain.run_id != scored.run_id
    s = build(scored)
    assert s.data.info["extractor"] == "ganbench-mnist" and "pr_extractor" not in s.data.info
    assert s.data.fingerprint == build(plain).data.fingerprint
    with pytest.raises(SpecError, match="unknown feature extractor features='ganbench-mnsit'; did you mean ganbench-mnist"):
        build_spec({"dataset": "mnist", "loss": "ns", "features": "ganbench-mnsit"})
    with pytest.raises(SpecError, match="applies to image data sets"):
        build_spec({"dataset": "ring8", "loss": "ns", "features": "ganbench-mnist"})


def test_docs_suite_reference_is_the_schema():
    """docs/suites.md's suite reference is generated from the schema `load_suite` checks (spec.render_reference):
    docs and code cannot drift apart."""
    from ganbench.spec import render_reference

    text = (REPO / "docs" / "suites.md").read_text()
    block = text.split("<!-- suite-reference:begin -->\n")[1].split("<!-- suite-reference:end -->")[0]
    assert block == render_reference()
