"""Registry of baseline scorers that `dflab eval --baseline NAME` runs beside the dflab scanner.

A baseline is a function `fn(path: Path) -> float` (probability of manipulation in [0, 1]; an object with a
`.score` attribute is accepted too). A module that provides one calls `register_baseline("name", fn)` at import
time and is listed in BUILTIN_BASELINE_MODULES so that the CLI finds it without importing anything heavy up
front (the module itself should import torch & co. inside `fn`, or lazily on first call).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from dflab.errors import UsageError

Scorer = Callable[[Path], Any]

_BASELINES: dict[str, Scorer] = {}

# Modules that register baselines when imported; a module that does not exist (yet) is skipped.
BUILTIN_BASELINE_MODULES = [
    "dflab.detect.learned.mesonet",
]


def register_baseline(name: str, fn: Scorer) -> Scorer:
    """Add a baseline scorer under `name`. Registering a name twice is an error (no silent overwrite)."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"baseline name {name!r} must be letters, digits, '-' or '_'")
    if name in _BASELINES:
        raise ValueError(f"baseline {name!r} registered twice")
    if not callable(fn):
        raise TypeError(f"baseline {name!r}: {fn!r} is not callable")
    _BASELINES[name] = fn
    return fn


def unregister_baseline(name: str) -> None:
    """Remove a baseline (for tests that register temporary ones)."""
    _BASELINES.pop(name, None)


def load_builtin_baselines() -> None:
    for module in BUILTIN_BASELINE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency, not a baseline module that does not exist yet
                raise


def list_baselines() -> list[str]:
    load_builtin_baselines()
    return sorted(_BASELINES)


def get_baseline(name: str) -> Scorer:
    """The scorer registered under `name`; UsageError listing the known names otherwise."""
    load_builtin_baselines()
    if name not in _BASELINES:
        known = ", ".join(sorted(_BASELINES)) or "none registered"
        raise UsageError(f"unknown baseline {name!r}; known: {known}")
    return _BASELINES[name]
