"""The user cache directory (trained feature extractors, reference statistics)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """$GANBENCH_CACHE, else $XDG_CACHE_HOME/ganbench, else ~/.cache/ganbench; created on demand."""
    root = os.environ.get("GANBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "ganbench")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_safe(name: str) -> str:
    """`name` with every character other than letters, digits, '-', '_' and '.' replaced by '_' (for file names)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
