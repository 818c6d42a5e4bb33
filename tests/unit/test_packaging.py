"""What a wheel holds: pyproject.toml names every package of ganbench/ (a package left out would be missing from an
installed ganbench) and packages the top-level suites/ as ganbench.suites, with its suite files."""
import tomllib

from helpers import REPO


def test_pyproject_lists_every_package_and_ships_the_suites():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "ganbench").rglob("__init__.py")}
    assert set(setuptools["packages"]) == packages | {"ganbench.suites"}
    assert setuptools["package-dir"] == {"ganbench.suites": "suites"}
    assert setuptools["package-data"]["ganbench.suites"] == ["*.yaml"]
    assert any((REPO / "suites").glob("*.yaml"))
