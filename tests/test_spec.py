"""Specs and suites: presets, layering, hashing, and bad input."""
import pytest

from ganbench.errors import GanbenchError, SpecError
from ganbench.spec import RunSpec, build_spec, load_suite, parse_set


def test_defaults_come_from_the_dataset():
    s = build_spec({"dataset": "digits", "loss": "ns"})
    assert (s.arch, s.batch_size, s.eval_samples) == ("dcgan", 64, 2000)
    assert s.arch_options == {"width": 64, "d_norm": "none", "g_bn": True, "init": "normal"}


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


@pytest.mark.parametrize("fields,match", [
    ({"dataset": "ring9", "loss": "ns"}, "did you mean ring8"),
    ({"dataset": "ring8", "loss": "hinj"}, "did you mean hinge"),
    ({"dataset": "ring8", "loss": "ns", "tricks": ["spectral"]}, "unknown trick"),
    ({"dataset": "ring8", "loss": "ns", "lr": 1}, "unknown run-spec key 'lr'"),
    ({"dataset": "ring8", "loss": "ns", "steps": "many"}, "not a valid int"),
    ({"dataset": "ring8", "loss": "ns", "steps": 0}, "at least 1"),
    ({"dataset": "digits", "loss": "ns", "batch_size": 5000}, "exceeds"),
    ({"dataset": "ring8", "loss": "ns", "arch": "dcgan"}, "power-of-two"),
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


@pytest.mark.parametrize("text,match", [
    ("grid: [1, 2", "not valid YAML"),
    ("- a list", "must be a YAML mapping"),
    ("grid: {dataset: [ring8]}\nbogus: 1", "unknown key bogus"),
    ("grid: {datset: [ring8]}", "did you mean dataset"),
    ("grid: {dataset: []}", "non-empty list"),
    ("seeds: many", "seeds must be"),
    ("grid: {dataset: [ring8], loss: [ns]}\noverrides: [{when: {dataset: ring8}}]", "each override"),
])
def test_malformed_suites(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(SpecError, match=match):
        load_suite(str(p))


def test_unknown_suite():
    with pytest.raises(SpecError, match="did you mean losses"):
        load_suite("loses")
