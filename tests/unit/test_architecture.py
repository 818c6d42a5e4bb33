"""The house's shape, read from the code: layers that import only downward (docs/architecture.md), no import circle,
few imports inside functions (each saying why), and no long functions."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ganbench"
MAX_FUNCTION_LINES = 60
MAX_INNER_IMPORTS = 25


def layers() -> list[list[str]]:
    """docs/architecture.md's layer list, top floor first."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    return [line.split() for line in block.group(1).splitlines() if line.strip()]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def imports(name: str, path: Path, mods: dict[str, Path]) -> list[tuple[str, ast.stmt, bool]]:
    """(imported ganbench module, statement, inside a function) for every import in the module at run time."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    inner = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f) if n is not f}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                parts = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
        out += [(t, node, id(node) in inner) for t in targets]
    return out


def unit(module: str) -> str:
    """The layer-list name of a module: ganbench.spec.run -> spec, ganbench -> __init__ (the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {t for t, _, _ in imports(name, path, mods) if t in mods and t != name}
            for name, path in mods.items()}


def test_every_module_is_on_a_floor():
    listed = {u for layer in layers() for u in layer}
    missing = sorted({unit(m) for m in modules()} - listed - {"__init__"})
    assert not missing, f"add these to docs/architecture.md's layers: {missing}"
    stale = sorted(listed - {unit(m) for m in modules()})
    assert not stale, f"docs/architecture.md lists modules that do not exist: {stale}"


def test_imports_only_go_down():
    floor = {u: len(layers()) - i for i, layer in enumerate(layers()) for u in layer}
    floor["__init__"] = 0
    up = [f"{a} -> {b}" for a, targets in graph().items() for b in targets if floor[unit(b)] > floor[unit(a)]]
    assert not up, "imports that climb a floor (move the code down, or the import's user up): " + "; ".join(sorted(up))


def test_no_import_circle():
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in g:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_the_circle_finder_finds_one(tmp_path, monkeypatch):
    """The test above is not vacuous: two modules that import each other are one circle."""
    g = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    monkeypatch.setattr(__import__(__name__), "graph", lambda: g)
    with pytest.raises(AssertionError, match=r"\['a', 'b'\]"):
        test_no_import_circle()


def test_few_imports_inside_functions_each_with_its_reason():
    mods = modules()
    inner = []
    for name, path in mods.items():
        lines = path.read_text().splitlines()
        seen = set()
        for _, node, in_function in imports(name, path, mods):
            if in_function and id(node) not in seen:
                seen.add(id(node))
                inner.append((f"{path.relative_to(ROOT)}:{node.lineno}", lines[node.lineno - 1]))
    unexplained = [where for where, line in inner if "#" not in line]
    assert not unexplained, f"imports inside functions without a reason on their line: {unexplained}"
    assert len(inner) <= MAX_INNER_IMPORTS, f"{len(inner)} imports inside functions: {[w for w, _ in inner]}"


def test_no_long_functions():
    long = []
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split where the parts have names): {long}"
