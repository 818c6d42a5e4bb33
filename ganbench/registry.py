"""A generic name -> object registry with descriptions, did-you-mean errors and plugin loading."""
from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import os
import re
import sys
import traceback
from pathlib import Path
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, Iterator, TypeVar

from ganbench.errors import GanbenchError

T = TypeVar("T")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
PLUGIN_GROUP = "ganbench.plugins"


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object with its one-line description."""

    name: str
    obj: T
    description: str


def _first_line(obj: Any) -> str:
    """The docstring's first paragraph as one line (it names the paper)."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else ""


class Registry(Generic[T]):
    """Maps names to objects of one kind (losses, tricks, ...); duplicates are errors."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, obj: T | None = None, *, description: str | None = None) -> Callable[[T], T] | T:
        """Register `obj` under `name`; used bare as a decorator when `obj` is None."""

        def add(o: T) -> T:
            if not _NAME.match(name):
                raise ValueError(f"invalid {self.kind} name {name!r}: use lower-case letters, digits, '-', '_' or '.'")
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = Entry(name, o, description or _first_line(o))
            return o

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Remove an entry (for tests and plugin reloading)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """The object registered as `name`, or a one-line error naming the closest valid names."""
        try:
            return self._entries[name].obj
        except KeyError:
            raise GanbenchError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """The did-you-mean message for an unknown name."""
        close = difflib.get_close_matches(str(name), list(self._entries), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"valid names: {', '.join(sorted(self._entries))}"
        return f"unknown {self.kind} {name!r}; {hint} (see `ganbench list {self.kind}s`)"

    def entry(self, name: str) -> Entry[T]:
        self.get(name)
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


_loaded: set[str] = set()
_user_plugins: list[str] = []


def load_builtins() -> None:
    """Register every built-in entry (ganbench.builtins imports their modules; imported here, not at the top,
    because those modules import this one), then the installed plugins, once per process."""
    if "ganbench.builtins" not in _loaded:
        importlib.import_module("ganbench.builtins")
        _loaded.add("ganbench.builtins")
    if "<entry-points>" not in _loaded:
        _loaded.add("<entry-points>")
        for ep in entry_points(group=PLUGIN_GROUP):
            load_plugin(ep.value.split(":")[0], named=False)


def plugin_ref(plugin: str) -> str:
    """How a plugin is named to every process that loads it: a module name as given, a .py file by its absolute
    path (worker processes and Slurm jobs may start elsewhere)."""
    return str(Path(plugin).expanduser().resolve()) if _is_file_plugin(plugin) else plugin


def _is_file_plugin(plugin: str) -> bool:
    return plugin.endswith(".py") or "/" in plugin or os.sep in plugin


def load_plugin(plugin: str, named: bool = True) -> None:
    """Import a plugin the user named — a module (importable: installed or on PYTHONPATH) or a path to a .py file —
    once per process; it registers its own entries. A plugin that cannot be found, fails to import, has a syntax
    error or registers a name that exists: one GanbenchError line naming its file and line. `named`: the user named
    it (every worker process loads it too, see user_plugins)."""
    ref = plugin_ref(plugin)
    if ref in _loaded:
        return
    if _is_file_plugin(plugin):
        path = Path(ref)
        if not path.is_file():
            raise GanbenchError(f"plugin file {plugin} does not exist; give a .py file or an importable module name")
        name = "ganbench_plugin_" + re.sub(r"\W", "_", path.stem) + "_" + hashlib.sha256(ref.encode()).hexdigest()[:8]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as e:
            sys.modules.pop(name, None)
            raise GanbenchError(_plugin_failure(plugin, str(path), e)) from None
    else:
        try:
            found = importlib.util.find_spec(plugin)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise GanbenchError(f"cannot import plugin module {plugin!r}: no such module; is it on PYTHONPATH or "
                                "installed? (or give the path to its .py file)")
        try:
            importlib.import_module(plugin)
        except BaseException as e:
            raise GanbenchError(_plugin_failure(plugin, found.origin or plugin, e)) from None
    _loaded.add(ref)
    if named:  # installed (entry-point) plugins load with the built-ins in every process anyway
        _user_plugins.append(ref)


def _plugin_failure(plugin: str, origin: str, error: BaseException) -> str:
    """One line: which plugin failed, where in its file, and why."""
    if isinstance(error, SyntaxError):
        return f"plugin {plugin}: syntax error at {error.filename}:{error.lineno}: {error.msg}"
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if os.path.abspath(f.filename) == os.path.abspath(origin)] or frames[-1:]
    where = f" at {own[-1].filename}:{own[-1].lineno}" if own else ""
    why = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, ValueError) and "already registered" in why:
        return f"plugin {plugin}{where}: {why}; give its entry another name"
    return f"plugin {plugin} failed to import{where}: {type(error).__name__}: {why}"


def user_plugins() -> tuple[str, ...]:
    """The plugins this process loaded because the user named them (each as plugin_ref gives it), in order: every
    worker process loads them too."""
    return tuple(_user_plugins)
