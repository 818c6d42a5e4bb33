"""The front door: every user mistake — a bad override, a broken suite file, an impossible name or path — ends with a
non-zero exit, no traceback, and an error of at most three lines that names what is wrong. Table-driven (each row
one mistake, run through the real entry point in-process), plus a property-based test that mutates valid suites
into invalid ones."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from ganbench import cli

VALID_SUITE = {"name": "tiny", "seeds": 1, "base": {"dataset": "ring8", "steps": 2, "eval_samples": 64},
               "grid": {"loss": ["ns", "hinge"]}}


@pytest.fixture(autouse=True)
def elsewhere(tmp_path, monkeypatch):
    """Each mistake is made in an empty directory: were one accepted, nothing lands in the checkout."""
    monkeypatch.chdir(tmp_path)


def call(capsys, *args: str) -> tuple[int, str]:
    """Run `ganbench ARGS` through cli.main (the console script's entry point) in this process: exit code and
    stderr."""
    argv = sys.argv
    sys.argv = ["ganbench", *args]
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


def refused(code: int, err: str, *words: str) -> None:
    assert code != 0, err
    assert "Traceback" not in err and 1 <= len(err.strip().splitlines()) <= 3, err
    for w in words:
        assert w.lower() in err.lower(), f"{w!r} not in: {err}"


# --set FIELD=VALUE on `ganbench run --dry-run`: (value, words the error must contain)
BAD_SETS = [
    ("steps=yes", "steps"), ("steps=true", "steps"), ("steps=10.7", "steps"), ("steps=0", "steps"), ("steps=abc", "steps"),
    ("lr_g=true", "lr_g"), ("lr_d=nan", "lr_d"), ("lr_g=-1", "lr_g"), ("lr_g=-1e-9", "lr_g"), ("lr_d=inf", "lr_d"),
    ("lr_g=[1]", "lr_g"), ("eval_samples=1", "eval_samples"), ("eval_samples=-5", "eval_samples"),
    ("beta1=1", "beta1"), ("beta2=-0.1", "beta2"), ("beta1=no", "beta1"), ("seed=-1", "seed"), ("seed=1.5", "seed"),
    ("batch_size=0", "batch_size"), ("batch_size=1000000", "batch_size"), ("z_dim=0", "z_dim"),
    ("log_every=0", "log_every"), ("quality_every=-1", "quality_every"), ("quality_samples=1", "quality_samples"),
    ("method=[a]", "method"), ("method=", "method"), ("loss=[ns]", "loss"), ("dataset={a: 1}", "dataset"),
    ("stpes=10", "did you mean steps"), ("hp_sample=1", "hp_sample"), ("tricks=nosuch", "nosuch"),
    ("arch=nosuch", "nosuch"), ("optimizer=nosuch", "nosuch"), ("features=nosuch", "features"),
    ("protocols=[nosuch]", "nosuch"), ("arch_options={a: 1, a: 2}", "twice"), ("steps", "key=value"),
    ("=5", "key=value"), ("width.x=3", "arch_options"),
]


@pytest.mark.parametrize("value,words", BAD_SETS, ids=[v for v, _ in BAD_SETS])
def test_a_bad_override_is_one_line_naming_the_field(capsys, value, words):
    refused(*call(capsys, "run", "-d", "ring8", "-l", "ns", "--dry-run", "--set", value), words)


BAD_COMMANDS = [
    (("run", "-d", "nosuch", "-l", "ns", "--dry-run"), "nosuch"),
    (("run", "-d", "ring8", "-l", "nsgan", "--dry-run"), "nsgan"),
    (("run", "-d", "ring8", "-l", "ns", "--steps", "yes", "--dry-run"), "--steps"),
    (("run", "-d", "ring8", "-l", "ns", "-t", "gp:lamb=3", "--dry-run"), "lamb"),
    (("run", "-d", "ring8", "-l", "ns", "-t", "gp:lam", "--dry-run"), "key=value"),
    (("run", "-d", "ring8", "-l", "ns", "--device", "cuda", "--steps", "1"), "cuda"),
    (("run", "-d", "ring8", "-l", "ns", "--device", "tpu9", "--steps", "1"), "tpu9"),
    (("run", "-d", "ring8", "-l", "ns", "--nope"), "--nope"),
    (("bogus",), "bogus"),
    (("bench", "nosuch-suite", "--dry-run"), "nosuch-suite"),
    (("bench", "losses", "--scale", "nosuch", "--dry-run"), "nosuch"),
    (("bench", "losses", "--workers", "0", "--dry-run"), "workers"),
    (("run", "-d", "ring8", "-l", "ns", "--plugin", "no_such_module_xyz", "--dry-run"), "no_such_module_xyz"),
    (("run", "-d", "ring8", "-l", "ns", "--feature-weights", "ganbench-mnst=x.pt", "--dry-run"), "ganbench-mnst"),
]


@pytest.mark.parametrize("args,words", BAD_COMMANDS, ids=[" ".join(a) for a, _ in BAD_COMMANDS])
def test_a_bad_command_line_is_one_line(capsys, args, words):
    refused(*call(capsys, *args), words)


def suite_with(**changes) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(VALID_SUITE))
    for key, value in changes.items():
        if value is ...:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


# Suite documents: (what is wrong, the document or its raw text, words the error must contain)
BAD_SUITES = [
    ("unknown top key", suite_with(sedes=3), "did you mean seeds"),
    ("seeds zero", suite_with(seeds=0), "seeds"),
    ("seeds negative", suite_with(seeds=-2), "seeds"),
    ("seeds repeated", suite_with(seeds=[1, 1]), "twice"),
    ("seeds yes", suite_with(seeds=True), "seeds"),
    ("seeds fraction", suite_with(seeds=1.5), "seeds"),
    ("seeds text", suite_with(seeds="three"), "seeds"),
    ("name escapes", suite_with(name="../evil"), "name"),
    ("name with slash", suite_with(name="a/b"), "name"),
    ("name empty", suite_with(name=""), "name"),
    ("name too long", suite_with(name="x" * 65), "name"),
    ("scale name escapes", suite_with(scales={"../up": {"set": {"steps": 1}}}), "scale name"),
    ("scale unknown key", suite_with(scales={"small": {"sett": {"steps": 1}}}), "did you mean set"),
    ("scale seeds zero", suite_with(scales={"small": {"seeds": 0}}), "seeds"),
    ("scale not a mapping", suite_with(scales={"small": [1]}), "scales"),
    ("grid axis not a list", suite_with(grid={"loss": "ns"}), "grid"),
    ("grid axis empty", suite_with(grid={"loss": []}), "grid"),
    ("grid unknown field", suite_with(grid={"los": ["ns"]}), "did you mean loss"),
    ("grid unknown loss", suite_with(grid={"loss": ["nss"]}), "nss"),
    ("base unknown field", suite_with(base={"dataset": "ring8", "stepz": 2}), "did you mean steps"),
    ("base not a mapping", suite_with(base=[1, 2]), "base"),
    ("base bad steps", suite_with(base={"dataset": "ring8", "steps": 10.7}), "steps"),
    ("base nan lr", suite_with(base={"dataset": "ring8", "lr_g": float("nan")}), "lr_g"),
    ("base unknown data set", suite_with(base={"dataset": "ring9"}), "ring9"),
    ("overrides not a list", suite_with(overrides={"when": {}}), "overrides"),
    ("override misspelt when", suite_with(overrides=[{"whenn": {"loss": "ns"}, "set": {"steps": 3}}]), "did you mean when"),
    ("override unknown field", suite_with(overrides=[{"when": {"los": "ns"}, "set": {"steps": 3}}]), "did you mean loss"),
    ("override bad value", suite_with(overrides=[{"when": {"loss": "ns"}, "set": {"steps": "yes"}}]), "steps"),
    ("exclude not a list", suite_with(exclude={"loss": "ns"}), "exclude"),
    ("two methods one label", suite_with(grid=[{"method": ["A"], "loss": ["ns"]}, {"method": ["A"], "loss": ["hinge"]}]),
     "method label"),
    ("baseline not a method", suite_with(baseline="nope"), "baseline"),
    ("baseline a list", suite_with(baseline=["ns"]), "baseline"),
    ("launch not a mapping", suite_with(launch=[1]), "launch"),
    ("launch unknown key", suite_with(launch={"partitoin": "gpu"}), "partitoin"),
    ("launch extra unknown", suite_with(launch={"extra": {"slurm_setupp": "x"}}), "slurm_setupp"),
    ("launch extra shell lines", suite_with(launch={"extra": {"slurm_setup": ["rm -rf ~"]}}), "slurm_setup"),
    ("launch extra newline", suite_with(launch={"extra": {"slurm_comment": "ok\n#SBATCH --wrap=evil"}}), "plain text"),
    ("launch extra quote", suite_with(launch={"extra": {"slurm_job_name": "a'; rm -rf ~"}}), "plain text"),
    ("launch workers zero", suite_with(launch={"workers": 0}), "workers"),
    ("top level a list", [1, 2], "mapping"),
    ("empty file", "", "empty"),
    ("invalid YAML", "name: [tiny\nseeds: 1\n", "not valid yaml"),
    ("duplicate key", "name: tiny\nseeds: 1\nseeds: 2\nbase: {dataset: ring8}\ngrid: {loss: [ns]}\n", "twice"),
    ("nested duplicate key", "name: tiny\nbase: {dataset: ring8, steps: 2, steps: 3}\ngrid: {loss: [ns]}\n", "twice"),
    ("binary", b"\x00\x01\x02\x03", "binary"),
    ("not UTF-8", b"name: \xff\xfe tiny\n", "utf-8"),
]


@pytest.mark.parametrize("what,doc,words", BAD_SUITES, ids=[w for w, _, _ in BAD_SUITES])
def test_a_bad_suite_is_one_line_naming_what_is_wrong(capsys, tmp_path, what, doc, words):
    path = tmp_path / "suite.yaml"
    if isinstance(doc, bytes):
        path.write_bytes(doc)
    else:
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    args = ["bench", str(path), "--results", str(tmp_path / "results"), "--dry-run"]
    if what.startswith("scale") and isinstance(doc, dict) and isinstance(doc.get("scales"), dict):
        args += ["--scale", next(iter(doc["scales"]))]
    refused(*call(capsys, *args), words)
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("*.json"))


@pytest.mark.parametrize("where", ["name", "scale"])
def test_a_suite_cannot_write_outside_results(capsys, tmp_path, where):
    """Names that try to climb out of --results are refused before anything is written anywhere."""
    inside = tmp_path / "inside"
    inside.mkdir()
    doc = suite_with(name="../../escaped") if where == "name" else suite_with(scales={"../../escaped": {"seeds": 1}})
    path = inside / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    before = sorted(p for p in tmp_path.rglob("*"))
    args = ["bench", str(path), "--results", str(inside / "results")]
    refused(*call(capsys, *args, *(["--scale", "../../escaped"] if where == "scale" else [])), "name")
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written, inside or out


def test_a_suite_that_is_a_directory_is_one_line(capsys, tmp_path):
    (tmp_path / "d.yaml").mkdir()
    refused(*call(capsys, "bench", str(tmp_path / "d.yaml"), "--dry-run"), "directory")


def test_results_that_is_a_file_is_refused_before_training(capsys, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(VALID_SUITE))
    (tmp_path / "file").write_text("x")
    refused(*call(capsys, "bench", str(suite), "--results", str(tmp_path / "file")), "results")
    refused(*call(capsys, "bench", str(suite), "--results", str(tmp_path / "file" / "sub")), "results")
    refused(*call(capsys, "run", "-d", "ring8", "-l", "ns", "--steps", "1", "--out", str(tmp_path / "file")), "out")


def test_the_table_holds_at_least_sixty_mistakes():
    assert len(BAD_SETS) + len(BAD_COMMANDS) + len(BAD_SUITES) + 2 >= 60


# ---------------------------------------------------------------- property: valid suites mutated into invalid ones

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from ganbench.spec import FIELDS, INT_MIN, SCALE_KEYS, SUITE_KEYS  # noqa: E402

NOT_AN_INT = st.one_of(st.booleans(), st.floats(allow_nan=True).filter(lambda x: x != x or not float(x).is_integer()),
                       st.text(alphabet="abcxyz", min_size=1, max_size=5), st.lists(st.integers(), max_size=2))
NOT_A_RATE = st.one_of(st.booleans(), st.sampled_from([float("nan"), float("inf"), -1.0, -1e-9]),
                       st.text(alphabet="abcxyz", min_size=1, max_size=5), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


def mutations():
    int_field = st.sampled_from(sorted(INT_MIN))
    below = int_field.flatmap(lambda k: st.tuples(st.just(k), st.integers(max_value=INT_MIN[k] - 1)))
    return st.one_of(
        st.tuples(st.just("base"), int_field, NOT_AN_INT),
        below.map(lambda kv: ("base", kv[0], kv[1])),
        st.tuples(st.just("base"), st.sampled_from(["lr_g", "lr_d"]), NOT_A_RATE),
        st.tuples(st.just("base"), st.sampled_from(["beta1", "beta2"]), st.floats(allow_nan=True).filter(lambda x: not 0 <= x < 1)),
        st.tuples(st.just("base"), KEY.filter(lambda k: k not in FIELDS), st.integers()),
        st.tuples(st.just("top"), KEY.filter(lambda k: k not in SUITE_KEYS), st.integers()),
        st.tuples(st.just("scale"), KEY.filter(lambda k: k not in SCALE_KEYS), st.integers()),
        st.tuples(st.just("top"), st.just("seeds"), st.one_of(st.integers(max_value=0), st.booleans(), st.floats(),
                                                               st.just([]), st.lists(st.integers(max_value=-1), min_size=1))),
        st.tuples(st.just("top"), st.just("name"), st.one_of(st.text(min_size=1).filter(lambda t: not t[:1].isalnum()),
                                                             st.text(min_size=65, max_size=80), st.just("a/../b"))),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutations())
def test_mutated_valid_suites_are_refused_in_one_line(capsys, tmp_path, mutation):
    where, key, value = mutation
    doc = suite_with(scales={"small": {"set": {"steps": 1}}})
    {"base": doc["base"], "top": doc, "scale": doc["scales"]["small"]}[where][key] = value
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, err = call(capsys, "bench", str(path), "--dry-run", *(["--scale", "small"] if where == "scale" else []))
    refused(code, err)


def test_out_onto_a_finished_run_of_another_spec_is_refused(capsys, tmp_path):
    out = str(tmp_path / "run")
    assert call(capsys, "run", "-d", "ring8", "-l", "ns", "--steps", "2", "--set", "eval_samples=64", "--out", out)[0] == 0
    refused(*call(capsys, "run", "-d", "ring8", "-l", "hinge", "--steps", "2", "--set", "eval_samples=64", "--out", out),
            "holds run ring8-ns-s0")
    assert call(capsys, "run", "-d", "ring8", "-l", "ns", "--steps", "2", "--set", "eval_samples=64", "--out", out)[0] == 0


def test_run_ids_are_short_plain_directory_names(tmp_path):
    """Whatever the data set's path or the method's label, a run_id is one plain file name."""
    import re

    from ganbench.spec import build_spec

    spec = build_spec({"dataset": "ring8", "loss": "ns", "method": "a/../" + "x" * 110 + " / é"})
    assert re.fullmatch(r"[a-zA-Z0-9_.+-]{1,171}", spec.run_id) and "/" not in spec.run_id
    import dataclasses

    deep = dataclasses.replace(spec, dataset="imagefolder:" + "/a-long-folder-name" * 30 + "@64")
    assert re.fullmatch(r"[a-zA-Z0-9_.+-]{1,171}", deep.run_id) and deep.run_id != spec.run_id
