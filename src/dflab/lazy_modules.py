"""Stand-ins for modules a package imports eagerly but dflab never uses, loaded for real on first use.

`import mediapipe` imports its drawing helpers (mediapipe.python.solutions.drawing_utils and
drawing_styles), which import matplotlib.pyplot: about 0.6 s of CPU, a sixth of a 10 s clip's face stage,
for code that only draws landmarks on pictures. `import scipy.signal` imports scipy.stats (its peak finding
module takes `scoreatpercentile` from it, for `find_peaks_cwt` alone): about 0.26 s of CPU, held under the
GIL on a cue thread, for a package no scan reads. A `DeferredModule` in sys.modules under the module's name
makes that import free; the first attribute read on it imports the real module, puts it in sys.modules
and on its parent package, and answers from it, so any code that does use the module gets it unchanged.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

MEDIAPIPE_DRAWING = ("mediapipe.python.solutions.drawing_utils", "mediapipe.python.solutions.drawing_styles")
# scipy.signal's `from scipy.stats import scoreatpercentile` (signal/_peak_finding.py, used by find_peaks_cwt)
SCIPY_STATS_FOR_SIGNAL = {"scipy.stats": ("scoreatpercentile",)}

# One real import at a time: two threads that first read from the same stand-in must both get the whole module,
# never one half-initialised by the other.
_LOADING = threading.RLock()


class DeferredModule(types.ModuleType):
    """Imports the module it stands for when an attribute is first read from it. `functions`: names that a
    `from module import name` may take before anything is read (they are looked up when first called)."""

    def __init__(self, name: str, functions: tuple[str, ...] = ()) -> None:
        super().__init__(name)
        self._dflab_functions = frozenset(functions)

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):  # import machinery probing: no reason to load
            raise AttributeError(attr)
        if attr in self.__dict__.get("_dflab_functions", ()) and isinstance(sys.modules.get(self.__name__), DeferredModule):
            return _called_later(self.__name__, attr)
        return getattr(load_real(self.__name__), attr)


def _called_later(module: str, name: str):
    """A function that imports `module` and calls its `name` when first called (a `from module import name`
    needs an object now; the module is loaded only if the function is ever used)."""

    def call(*args, **kwargs):
        return getattr(load_real(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported when first called."
    return call


@contextmanager
def deferred(names: tuple[str, ...], functions: Mapping[str, tuple[str, ...]] | None = None) -> Iterator[None]:
    """While the package that imports them is imported inside this block: a DeferredModule in sys.modules
    for each name not imported yet, then set on its parent package as a real import would have.
    `functions[name]`: what the package takes from that module by name at import time (see DeferredModule)."""
    functions = functions or {}
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = DeferredModule(name, tuple(functions.get(name, ())))
    try:
        yield
    finally:
        for name in names:
            module = sys.modules.get(name)
            parent_name, _, child = name.rpartition(".")
            parent = sys.modules.get(parent_name)
            if isinstance(module, DeferredModule) and parent is not None and not hasattr(parent, child):
                setattr(parent, child, module)


def load_real(name: str) -> types.ModuleType:
    """The real module behind a name (importing it now if a DeferredModule stands in for it)."""
    with _LOADING:
        current = sys.modules.get(name)
        if current is not None and not isinstance(current, DeferredModule):
            return current
        sys.modules.pop(name, None)
        real = importlib.import_module(name)
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is not None:
            setattr(parent, child, real)
        return real


def scipy_signal() -> types.ModuleType:
    """scipy.signal, imported (the first time) with scipy.stats deferred: the same functions, without the
    statistics package that nothing in a scan reads. Safe from several threads: a second caller waits for the
    first one's import to finish, never sees the module half-initialised."""
    with _LOADING:
        if "scipy.signal" not in sys.modules:
            with deferred(tuple(SCIPY_STATS_FOR_SIGNAL), SCIPY_STATS_FOR_SIGNAL):
                import scipy.signal  # noqa: PLC0415 (heavy, lazy on purpose)
    import scipy.signal  # noqa: PLC0415 (imported by now; an import elsewhere in progress is waited for)

    return scipy.signal

