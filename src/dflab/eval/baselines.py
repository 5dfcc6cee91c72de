"""Registry of baseline scorers that `dflab eval --baseline NAME` runs beside the dflab scanner.

A baseline is a function `fn(path: Path) -> float` (probability of manipulation in [0, 1]; an object with a
`.score` attribute is accepted too). A module that provides one calls `register_baseline("name", fn)` at import
time and is listed in BUILTIN_BASELINE_MODULES so that the CLI finds it without importing anything heavy up
front (the module itself should import torch & co. inside `fn`, or lazily on first call). Those modules live
in eval/ and import the scorer from the runtime (dflab.detect.learned.mesonet), never the other way round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from dflab.registry import Registry

Scorer = Callable[[Path], Any]

# Modules that register baselines when imported; a module that does not exist (yet) is skipped.
BUILTIN_BASELINE_MODULES = [
    "dflab.eval.mesonet_baseline",
]

BASELINES: Registry[Scorer] = Registry("baseline", BUILTIN_BASELINE_MODULES)


def register_baseline(name: str, fn: Scorer) -> Scorer:
    """Add a baseline scorer under `name`. Registering a name twice is an error (no silent overwrite)."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"baseline name {name!r} must be letters, digits, '-' or '_'")
    if not callable(fn):
        raise TypeError(f"baseline {name!r}: {fn!r} is not callable")
    return BASELINES.add(name, fn)


def unregister_baseline(name: str) -> None:
    """Remove a baseline (for tests that register temporary ones)."""
    BASELINES.remove(name)


def load_builtin_baselines() -> None:
    BASELINES.load_builtins()


def list_baselines(pattern: str | None = None) -> list[str]:
    return BASELINES.list(pattern)


def get_baseline(name: str) -> Scorer:
    """The scorer registered under `name`; UsageError listing the known names otherwise."""
    return BASELINES.get(name)
