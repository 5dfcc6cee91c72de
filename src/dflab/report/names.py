"""File names for per-input outputs (reports) that never collide, whatever paths the inputs come from."""

from __future__ import annotations

import os
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^\w.\-]+")


def _from_path(path: str) -> str:
    """`a/x.png` -> `a__x.png`: the path as given, with its folders joined by "__" (no leading "/" or "..")."""
    parts = [p for p in Path(os.path.normpath(path)).parts if p not in ("/", "..", ".", "")]
    return "__".join(_UNSAFE.sub("_", part) for part in parts) or "input"


def unique_stems(paths: list[str]) -> list[str]:
    """One name per input: its file name, or, when distinct inputs share a file name, a name derived from the
    whole path (`a__x.png`, `b__x.png`); a counter settles what is still equal. The same file given twice
    gets the same name (its report is the same)."""
    resolved = [os.path.realpath(p) for p in paths]
    owners: dict[str, set[str]] = {}
    for path, real in zip(paths, resolved):
        owners.setdefault(Path(path).name, set()).add(real)
    stems: list[str] = []
    taken: dict[str, str] = {}  # stem -> the real path that owns it
    for path, real in zip(paths, resolved):
        stem = Path(path).name if len(owners[Path(path).name]) == 1 else _from_path(path)
        base, n = stem, 2
        while taken.get(stem, real) != real:
            stem, n = f"{base}-{n}", n + 1
        taken[stem] = real
        stems.append(stem)
    return stems
