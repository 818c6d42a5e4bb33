"""A generic name -> object registry with descriptions, did-you-mean errors and plugin loading."""
from __future__ import annotations

import difflib
import importlib
import re
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


_BUILTINS = (
    "ganbench.data.toy2d",
    "ganbench.data.digits",
    "ganbench.data.vision",
    "ganbench.data.folders",
    "ganbench.models.mlp",
    "ganbench.models.dcgan",
    "ganbench.models.resnet",
    "ganbench.models.sndcgan",
    "ganbench.models.infogan",
    "ganbench.losses",
    "ganbench.tricks.penalties",
    "ganbench.tricks.normalization",
    "ganbench.tricks.schedule",
    "ganbench.tricks.labels",
    "ganbench.tricks.inputs",
    "ganbench.tricks.init",
    "ganbench.tricks.latent",
    "ganbench.tricks.conditioning",
    "ganbench.tricks.averaging",
    "ganbench.tricks.collapse",
    "ganbench.tricks.augment",
    "ganbench.tricks.arch",
    "ganbench.presets",
    "ganbench.metrics.points",
    "ganbench.metrics.images",
    "ganbench.metrics.memorization",
    "ganbench.metrics.ndb",
    "ganbench.metrics.protocols",
)
_loaded: set[str] = set()


def load_builtins() -> None:
    """Import every built-in module once, so that each registers its entries, then the installed plugins."""
    for mod in _BUILTINS:
        if mod not in _loaded:
            importlib.import_module(mod)
            _loaded.add(mod)
    if "<entry-points>" not in _loaded:
        _loaded.add("<entry-points>")
        for ep in entry_points(group=PLUGIN_GROUP):
            load_plugin(ep.value.split(":")[0])


def load_plugin(module: str) -> None:
    """Import a plugin module the user named; it registers its own entries."""
    if module in _loaded:
        return
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise GanbenchError(f"cannot import plugin module {module!r}: {e}; is it on PYTHONPATH or installed?") from None
    _loaded.add(module)
