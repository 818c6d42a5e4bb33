"""Suites: loading a suite file against its schema, grid expansion, overrides, exclusions, scales and search, into
the RunSpecs of its cells."""
from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from ganbench import yamlfile
from ganbench.errors import SpecError
from ganbench.spec.fields import (FIELD_HELP, FIELDS, FLOAT_RANGE, INT_MIN, SCALARS, check_keys, check_scalar,
                                  parse_tricks)
from ganbench.spec.resolve import build_spec
from ganbench.spec.run import RunSpec
from ganbench.spec.claims import parse as parse_reproduces
from ganbench.spec.search import parse_search


# A suite file's keys, and a scale's, with what each holds: the schema `load_suite` checks against, and the source
# of docs/suites.md's suite reference (render_reference; a test keeps the two equal).
SUITE_KEYS = {
    "name": "the suite's name (default: the file's stem); names its results directory: 1-64 letters, digits, '.', '_', '-'",
    "description": "free text; its first line is what `ganbench list suites` prints",
    "seeds": "a count N (seeds 0..N-1) or a list of distinct non-negative integers; every cell runs each seed",
    "base": "run-spec fields every cell starts from",
    "grid": "axes to cross ({field: [values]}), or a list of such blocks whose cells are united",
    "overrides": "a list of {when: {field: value(s)}, set: {field: value}}: fields set on the cells that match",
    "exclude": "a list of {field: value(s)} conditions: matching cells are left out",
    "scales": "named variants ({name: scale}), chosen with --scale; results go to <suite>-<scale>/",
    "reproduces": "the paper this suite sets its numbers against: citation, published numbers, claims, margin",
    "launch": "how to execute it: workers, devices, partition, time_min, gpus_per_task, cpus_per_task, "
              "runs_per_task, array_parallelism, extra (known submitit parameters, plain values), batch_seeds (true: "
              "each cell's seeds as one stacked model where the cell allows it, `bench --batch-seeds`; "
              "`--no-batch-seeds` overrides)",
    "search": "a random hyper-parameter search: samples, space, tie, include_base, seeds, seed",
    "baseline": "the method label every other method on a data set is tested against",
}
SCALE_KEYS = {
    "description": "what the scale is for (reproduction reports quote it)",
    "seeds": "this scale's seeds (a count or a list), instead of the suite's",
    "set": "run-spec fields set on every cell last",
    "overrides": "per-cell {when, set} applied after `set`",
    "exclude": "more cells to leave out at this scale",
    "differences": "how this scale departs from the paper's protocol (listed in the reproduction report)",
    "search": "search keys replacing the suite's (e.g. {samples: 2})",
}


def render_reference() -> str:
    """docs/suites.md's suite reference, from the schema: suite keys, scale keys, run-spec fields with their types and
    allowed ranges."""
    lines = ["| suite key | holds |", "|---|---|", *[f"| `{k}` | {v} |" for k, v in SUITE_KEYS.items()], "",
             "| scale key | holds |", "|---|---|", *[f"| `{k}` | {v} |" for k, v in SCALE_KEYS.items()], "",
             "| run-spec field | type and range | what |", "|---|---|---|"]
    for name in FIELDS:
        if name in INT_MIN:
            kind = f"integer >= {INT_MIN[name]}"
        elif name in FLOAT_RANGE:
            low, high, closed = FLOAT_RANGE[name]
            kind = (f"number in {'[' if closed else '('}{low:g}, {high:g})" if math.isfinite(high)
                    else f"number {'>=' if closed else '>'} {low:g}")
        elif SCALARS.get(name) is str:
            kind = "text"
        else:
            kind = {"tricks": "list", "arch_options": "mapping", "protocols": "list of names"}.get(name, "integer")
        lines.append(f"| `{name}` | {kind} | {FIELD_HELP.get(name, '')} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Suite:
    """Grids of runs: base fields, blocks of axes to cross (their union), per-cell overrides, excluded cells, the
    seeds, and an optional random hyper-parameter search that draws settings for every cell."""

    name: str
    description: str
    seeds: tuple[int, ...]
    base: dict[str, Any]
    grid: tuple[dict[str, list[Any]], ...]
    overrides: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    exclude: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    path: str = ""
    extra_tricks: tuple[str, ...] = ()  # added from the command line (--add-trick): one more value on a tricks axis
    scale_set: dict[str, Any] = field(default_factory=dict)  # a scale's fields (--scale), set on every cell last
    scale_overrides: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # and the scale's per-cell overrides
    reproduces: Any = None  # a ganbench.reproduction.Reproduction: the paper's numbers this suite is set against
    launch: dict[str, Any] = field(default_factory=dict)  # how to execute it (ganbench.launch.Launch fields)
    search: Any = None  # a ganbench.spec.search.Search: hyper-parameter samples drawn for every cell
    baseline: str | None = None  # the method every other method on a data set is tested against (leaderboard)
    given: dict[str, Any] = field(default_factory=dict)  # fields set on every cell from the command line, very last
    variant: str = ""  # what the command line changed (bench --set/--seeds), in words; empty: the suite as written

    def cells(self) -> list[dict[str, Any]]:
        """Every cell of every grid block (before seeds), excluded ones left out."""
        out = []
        for block in self.grid:
            block = dict(block)
            if self.extra_tricks and "tricks" in block:
                block["tricks"] = list(block["tricks"]) + [[t] for t in self.extra_tricks]
            axes = list(block)
            for values in itertools.product(*(block[a] for a in axes)):
                cell = dict(zip(axes, values))
                if not any(_matches(e, {**self.base, **cell}) for e in self.exclude):
                    out.append(cell)
        return out

    def expand(self) -> list[RunSpec]:
        """Every cell x seed as a validated RunSpec, in a stable order, without duplicates. With a search: every
        hyper-parameter sample x cell x seed, sample by sample (so the expansion with fewer samples is a prefix of
        the one with more), each sample's drawn values layered after the cell's overrides and before the scale's
        fields (a smoke scale's tiny settings still win)."""
        cells = [(cell, self._layers(cell) + [None] + self._scale_layers(cell), f"suite {self.name!r}, cell {cell}")
                 for cell in self.cells()]  # None: where a search sample's drawn values go
        search = self.search
        bases = [build_spec(*[x for x in layers if x is not None], {"seed": self.seeds[0]}, where=where)
                 for _, layers, where in cells]
        if search is not None:
            unused = search.unused(bases)
            if unused:
                raise SpecError(f"suite {self.path or self.name}: search parameter {', '.join(unused)} applies to no "
                                "cell (no cell's architecture has that option or uses that trick); remove it or "
                                "fix its name")
        specs: dict[str, RunSpec] = {}
        for i in range(search.samples if search is not None else 1):
            for (cell, layers, where), base in zip(cells, bases):
                for spec in self._sample(i, layers, where, base):
                    specs.setdefault(spec.run_id, spec)
        check_labels(specs.values(), f"suite {self.path or self.name}")
        return list(specs.values())

    def check_baseline(self, specs: list[RunSpec], baseline: str | None = None) -> str | None:
        """`baseline` (else the suite's own) if it is one of the suite's method labels, else a SpecError."""
        baseline = baseline or self.baseline
        methods = sorted({cell.method for cell in specs})
        if baseline is not None and baseline not in methods:
            raise SpecError(f"suite {self.path or self.name}: baseline {baseline!r} is not a method of the suite; "
                            f"its methods: {', '.join(methods)}")
        return baseline

    def _scale_layers(self, cell: dict[str, Any]) -> list[dict[str, Any]]:
        """A cell's run-spec layers from its scale: the scale's fields, then the scale's overrides it matches."""
        return [self.scale_set, *[o["set"] for o in self.scale_overrides if _matches(o["when"], {**self.base, **cell})],
                self.given]

    def _layers(self, cell: dict[str, Any]) -> list[dict[str, Any]]:
        """A cell's run-spec layers before the search and the scale: base, the cell, the overrides it matches."""
        return [self.base, cell, *[o["set"] for o in self.overrides if _matches(o["when"], {**self.base, **cell})]]

    def _sample(self, i: int, layers: list[dict[str, Any]], where: str, base: RunSpec) -> list[RunSpec]:
        """Hyper-parameter sample i of a cell (whose spec without the search is `base`), one RunSpec per seed:
        built and validated once, the seeds set on copies (nothing else depends on the seed). A cell that has none
        of the searched parameters has one sample, its own values: [] for the others."""
        search = self.search
        if search is None:
            return [dataclasses.replace(base, seed=seed) for seed in self.seeds]
        layer = search.layer(i, base)
        drawn = {k: v for k, v in layer.items() if k != "method"}
        if drawn:
            where = f"{where}, hyper-parameter sample {i} {drawn}"
            spec = build_spec(*[layer if x is None else x for x in layers], {"seed": self.seeds[0]}, where=where)
        elif i == 0:
            spec = base
        else:
            return []
        seeds = self.seeds if not drawn or search.seeds is None else search.seeds
        return [dataclasses.replace(spec, seed=seed, hp_sample=i) for seed in seeds]


def check_labels(specs: Iterable[RunSpec], where: str) -> None:
    """Runs that differ in anything but their seed and search sample must differ in their method label (or data
    set): a leaderboard row pools the runs of one label, and two settings pooled in one row would be one wrong
    number."""
    seen: dict[tuple, RunSpec] = {}
    for spec in specs:
        other = seen.setdefault((spec.dataset, spec.method, spec.seed, spec.hp_sample), spec)
        if other.run_id != spec.run_id:
            differ = [f for f in FIELDS if getattr(other, f) != getattr(spec, f)]
            raise SpecError(f"{where}: two cells share the method label {spec.method!r} on {spec.dataset} but differ "
                            f"in {', '.join(differ)}; give each its own `method:` label")


def _matches(when: Mapping[str, Any], cell: Mapping[str, Any]) -> bool:
    """Whether a cell has every listed field at one of the listed values. For `tricks` the values are trick names
    (the cell matches when it uses any of them) or `none` (a cell without tricks)."""
    for k, v in when.items():
        allowed = v if isinstance(v, list) else [v]
        if k == "tricks":
            names = set(parse_tricks(cell.get("tricks")))
            if not (names & set(allowed) or (not names and "none" in allowed)):
                return False
        elif cell.get(k) not in allowed:
            return False
    return True


def shipped_suites() -> Path:
    """The folder of the suites that come with ganbench: ganbench/suites/ inside an installed wheel (where
    pyproject.toml packages the repository's top-level suites/), else the top-level suites/ of the checkout this
    ganbench was imported from (a source tree, an editable install). Always the one beside the imported code."""
    packaged = Path(str(resources.files("ganbench") / "suites"))
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "suites"


def suites_dirs() -> list[Path]:
    """Where suites are looked up by name, the first holding NAME.yaml winning: ./suites in the current directory,
    then the suites that come with ganbench."""
    return [Path.cwd() / "suites", shipped_suites()]


def find_suite(name: str) -> Path:
    """The file of a suite: a path ending in .yaml or .yml as given, else the suite of that name in suites_dirs();
    an unknown name is a SpecError naming the closest known suites."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise SpecError(f"suite file {name!r} does not exist")
        return p  # what it holds (a directory, binary, empty) is yamlfile.load's to refuse
    for d in suites_dirs():
        if (d / f"{name}.yaml").is_file():
            return d / f"{name}.yaml"
    known = sorted({f.stem for d in suites_dirs() if d.is_dir() for f in d.glob("*.yaml")})
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"known suites: {', '.join(known)}"
    if len(p.parts) > 1:  # a path, not a name: a suite file of one's own needs its suffix
        hint += " (a suite file of your own is given by its path, ending in .yaml)"
    raise SpecError(f"unknown suite {name!r}; {hint}")


def list_suites() -> dict[str, str]:
    """Suite name -> description, for `ganbench list suites`."""
    out: dict[str, str] = {}
    for d in reversed(suites_dirs()):
        for f in sorted(d.glob("*.yaml")) if d.is_dir() else []:
            try:
                out[f.stem] = load_suite(f).description.splitlines()[0]
            except Exception as e:  # a broken suite file is listed with its error, not fatal
                out[f.stem] = f"(unreadable: {e})"
    return dict(sorted(out.items()))


def load_suite(name_or_path: str | Path, add_tricks: Iterable[str] = (), scale: str | None = None,
               given: Mapping[str, Any] | None = None, seeds: int | list[int] | None = None) -> Suite:
    """Read and check a suite YAML (safe_load) by name or path; `add_tricks` extends its tricks axis; `scale` names
    one of its `scales` (e.g. smoke: a few steps and samples), whose fields are set on every cell and whose results
    live apart (suite name + '-' + scale). `given` (run-spec fields, `bench --set`) is set on every cell after
    everything else, and `seeds` (a count N for seeds 0..N-1, `bench --seeds`, or a list) replaces the suite's
    seeds: the changed cells have run ids of their own beside the suite's in the same results directory."""
    path = find_suite(str(name_or_path))
    doc = yamlfile.load(path, "suite")
    if not isinstance(doc, dict):
        raise SpecError(f"suite {path} must be a YAML mapping with keys {', '.join(sorted(SUITE_KEYS))}")
    check_known(doc, SUITE_KEYS, f"suite {path}")
    blocks = _grid_blocks(doc.get("grid") or {}, f"suite {path}")
    base = doc.get("base") or {}
    if not isinstance(base, dict):
        raise SpecError(f"suite {path}: base must be a mapping of run-spec fields")
    check_keys(base, f"suite {path} base", suite=True)
    overrides = check_overrides(doc.get("overrides"), f"suite {path}")
    exclude = _excludes(doc.get("exclude") or [], f"suite {path}")
    add_tricks = tuple(add_tricks)
    if add_tricks and not any("tricks" in block for block in blocks):
        raise SpecError(f"suite {path} has no tricks axis in its grid; --add-trick needs one (see suites/tricks.yaml)")
    scales = _scales(doc.get("scales") or {}, f"suite {path}")
    at = _at_scale(doc, scales, scale, path)
    launch = doc.get("launch") or {}
    if not isinstance(launch, dict):
        raise SpecError(f"suite {path}: launch must be a mapping, e.g. {{partition: gpu, time_min: 120, gpus_per_task: 1}}")
    search = None if at["search"] is None else parse_search(at["search"], f"suite {path}")
    baseline = doc.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise SpecError(f"suite {path}: baseline must be one method name (a cell's method label), e.g. `baseline: ns`")
    given = check_given(dict(given or {}), search)
    if seeds is not None:
        at["seeds"] = parse_seeds(seeds, "--seeds")
    variant = describe_given(given, seeds)
    reproduces = _reproduces(doc, scales, scale, path)
    if reproduces is not None and variant:
        changed = f"changed on the command line: {variant}"
        reproduces = dataclasses.replace(reproduces, variant="; ".join(filter(None, [reproduces.variant, changed])),
                                         differences=reproduces.differences + (changed,))
    return Suite(
        name=at["name"], description=str(doc.get("description", "")).strip(), seeds=tuple(at["seeds"]), base=base,
        grid=tuple(blocks), overrides=tuple(overrides), exclude=tuple(exclude + at["exclude"]), path=str(path),
        extra_tricks=add_tricks, scale_set=at["set"], scale_overrides=tuple(at["overrides"]), reproduces=reproduces,
        launch=launch, search=search, baseline=baseline, given=given, variant=variant,
    )


def check_given(given: dict[str, Any], search: Any) -> dict[str, Any]:
    """Fields set on every cell from the command line (`bench --set`), checked as `ganbench run --set` checks them;
    a field the suite's search draws cannot be set (every sample would be the same setting)."""
    if "seed" in given:
        raise SpecError("--set seed: a suite's seeds are its own; run others with --seeds N (seeds 0..N-1)")
    check_keys(given, "--set", suite=True)
    for k, v in given.items():
        if k in SCALARS:
            check_scalar(k, v, "--set")
    if search is not None:
        drawn = [p for p, _ in search.space] + [p for p, _ in search.tie]
        for p in drawn:
            if (p.kind == "field" and p.key in given) or (
                    p.kind == "arch_option" and p.key in (given.get("arch_options") or {})):
                raise SpecError(f"--set {p.path}: the suite's search draws {p.path}; every sample would get the same "
                                "value (remove it from --set, or from the suite's search)")
    return given


def describe_given(given: Mapping[str, Any], seeds: int | list[int] | None) -> str:
    """What --set and --seeds changed, in words (leaderboard and reproduction notes): steps=50; seeds 0..2."""
    parts = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in given.items()]
    if seeds is not None:
        count = isinstance(seeds, int)
        parts.append(f"seeds 0..{seeds - 1}" if count and seeds > 1 else "seed 0" if count else f"seeds {list(seeds)}")
    return "; ".join(parts)


def _grid_blocks(grid: Any, where: str) -> list[dict]:
    """A suite's grid as a list of blocks (a single mapping, or a list of them whose cells are united)."""
    blocks = grid if isinstance(grid, list) else [grid]
    for block in blocks:
        if not isinstance(block, dict) or not all(isinstance(v, list) and v for v in block.values()):
            raise SpecError(f"{where}: grid must map each axis to a non-empty list of values "
                            "(or be a list of such mappings, whose cells are united)")
        check_keys(block, f"{where} grid", suite=True)
    return blocks


def _excludes(exclude: Any, where: str) -> list[dict]:
    if not isinstance(exclude, list) or not all(isinstance(e, dict) and e for e in exclude):
        raise SpecError(f"{where}: exclude must be a list of {{field: value(s)}} conditions")
    for e in exclude:
        check_keys(e, f"{where} exclude", suite=True)
    return list(exclude)


def _scales(scales: Any, where: str) -> dict[str, dict]:
    if not isinstance(scales, dict) or not all(isinstance(v, dict) for v in scales.values()):
        raise SpecError(f"{where}: scales must map each name to {{set: {{field: value}}, seeds: ..., description: "
                        f"...}}; a scale's keys: {', '.join(sorted(SCALE_KEYS))}")
    for scale_name, scale_doc in scales.items():
        check_name(scale_name, f"{where}: scale name")
        check_known(scale_doc, SCALE_KEYS, f"{where} scale {scale_name!r}")
    return scales


def _at_scale(doc: dict, scales: dict[str, dict], scale: str | None, path: Path) -> dict[str, Any]:
    """What a scale changes: the suite's name, seeds, the fields set and overridden on every cell, its search and
    the cells it leaves out (the suite's own at no scale)."""
    at = {"name": check_name(doc.get("name", path.stem), f"suite {path}: name"),
          "seeds": parse_seeds(doc.get("seeds", [0]), f"suite {path}"), "set": {}, "overrides": [],
          "search": doc.get("search"), "exclude": []}
    if scale is None:
        return at
    if scale not in scales:
        known = ", ".join(sorted(scales)) or "none"
        raise SpecError(f"suite {path} has no scale {scale!r}; its scales: {known}")
    where = f"suite {path} scale {scale!r}"
    at["set"] = dict(scales[scale].get("set") or {})
    check_keys(at["set"], where, suite=True)
    at["overrides"] = check_overrides(scales[scale].get("overrides"), where)
    at["seeds"] = parse_seeds(scales[scale].get("seeds", at["seeds"]), where)
    at["search"] = scaled_search(at["search"], scales[scale].get("search"), where)
    at["name"] = f"{at['name']}-{scale}"
    at["exclude"] = _excludes(scales[scale].get("exclude") or [], where)  # a pipeline check may leave out cells
    return at


def _reproduces(doc: dict, scales: dict[str, dict], scale: str | None, path: Path):
    """The paper the suite reproduces (spec.claims.Reproduction), labelled as a cheaper variant at a scale, with
    what the scale changes; None when it reproduces none."""
    if doc.get("reproduces") is None:
        return None
    reproduces = parse_reproduces(doc["reproduces"], f"suite {path}")
    if scale is None:
        return reproduces
    extra = scales[scale].get("differences") or []
    return dataclasses.replace(
        reproduces, variant=f"{scale} ({str(scales[scale].get('description', '')).strip()})",
        differences=reproduces.differences + tuple(map(str, [extra] if isinstance(extra, str) else extra)))


# Suite and scale names become directory names under --results: a short, plain character set.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(value: Any, where: str) -> str:
    """A suite or scale name, checked: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (it
    becomes a directory name: never '..', never a path)."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise SpecError(f"{where} {value!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                        "digit (it names a results directory)")
    return value


def check_known(doc: Mapping[str, Any], keys: set[str], where: str) -> None:
    """Every key of `doc` is one of `keys`; an unknown one is a SpecError with the closest known key."""
    for k in doc:
        if k not in keys:
            close = difflib.get_close_matches(str(k), sorted(keys), n=2)
            hint = f"did you mean {' or '.join(close)}?" if close else f"valid keys: {', '.join(sorted(keys))}"
            raise SpecError(f"{where}: unknown key {k!r}; {hint}")


def parse_seeds(value: Any, where: str) -> list[int]:
    """`seeds:` as a count (N: seeds 0..N-1) or a non-empty list of distinct non-negative integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise SpecError(f"{where}: seeds={value!r} is out of range; allowed: a count >= 1 or a list of seeds")
        return list(range(value))
    if (not isinstance(value, list) or not value
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in value)):
        raise SpecError(f"{where}: seeds={value!r} must be a count >= 1 or a non-empty list of non-negative integers")
    if len(set(value)) != len(value):
        raise SpecError(f"{where}: seeds={value!r} lists a seed twice")
    return value


def check_overrides(overrides: Any, where: str) -> list[dict[str, Any]]:
    """A list of {when: {field: value}, set: {field: value}} overrides, checked."""
    overrides = overrides or []
    if not isinstance(overrides, list):
        raise SpecError(f"{where}: overrides must be a list of {{when: {{field: value}}, set: {{field: value}}}}")
    for o in overrides:
        if isinstance(o, dict):
            check_known(o, {"when", "set"}, f"{where} override")
        if not (isinstance(o, dict) and set(o) == {"when", "set"} and isinstance(o["when"], dict) and isinstance(o["set"], dict)):
            raise SpecError(f"{where}: each override must be {{when: {{field: value}}, set: {{field: value}}}}")
        check_keys(o["when"], f"{where} override 'when'", suite=True)
        check_keys(o["set"], f"{where} override 'set'", suite=True)
    return overrides


def scaled_search(search: Any, scale_search: Any, where: str) -> Any:
    """A suite's `search:` with a scale's `search:` keys on top (e.g. {samples: 2} for a smoke scale); a scale may
    give a whole search to a suite that has none."""
    if scale_search is None:
        return search
    if not isinstance(scale_search, dict):
        raise SpecError(f"{where}: search must be a mapping of search keys to set, e.g. {{samples: 2}}")
    return {**(search if isinstance(search, dict) else {}), **scale_search}
