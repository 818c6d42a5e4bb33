"""Reading the YAML a user writes (suites, --set values) strictly: safe_load's types only, a key given twice in one
mapping is an error (PyYAML silently keeps the last), and a file that is not UTF-8 YAML text (binary, a
directory, empty) is one line that says so."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ganbench.errors import SpecError


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # SafeLoader reports an unhashable key itself
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, StrictLoader.construct_mapping)


def loads(text: str, what: str) -> Any:
    """YAML text -> Python values (safe types), duplicate keys refused; errors are one SpecError line naming
    `what` and the line."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (StrictLoader is a SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise SpecError(f"{what} is not valid YAML{at}: {problem}") from None


def load(path: Path, what: str) -> Any:
    """A YAML file's values; one SpecError line when it is a directory, unreadable, not UTF-8 text, or empty."""
    if path.is_dir():
        raise SpecError(f"{what} {path} is a directory; give a .yaml file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(f"{what} {path} cannot be read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"{what} {path} is not UTF-8 text (byte {e.start}); give a YAML file") from None
    if "\0" in text:
        raise SpecError(f"{what} {path} is a binary file, not YAML")
    doc = loads(text, f"{what} {path}")
    if doc is None:
        raise SpecError(f"{what} {path} is empty")
    return doc
