"""Stand-ins for modules a package imports eagerly but dflab never uses, loaded for real on first use.

`import mediapipe` imports its drawing helpers (mediapipe.python.solutions.drawing_utils and
drawing_styles), which import matplotlib.pyplot: about 0.6 s of CPU, a sixth of a 10 s clip's face stage,
for code that only draws landmarks on pictures. A `DeferredModule` in sys.modules under the module's name
makes that import free; the first attribute read on it imports the real module, puts it in sys.modules
and on its parent package, and answers from it, so any code that does use the helpers gets them unchanged.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

MEDIAPIPE_DRAWING = ("mediapipe.python.solutions.drawing_utils", "mediapipe.python.solutions.drawing_styles")


class DeferredModule(types.ModuleType):
    """Imports the module it stands for when an attribute is first read from it."""

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):  # import machinery probing: no reason to load
            raise AttributeError(attr)
        return getattr(load_real(self.__name__), attr)


@contextmanager
def deferred(names: tuple[str, ...]) -> Iterator[None]:
    """While the package that imports them is imported inside this block: a DeferredModule in sys.modules
    for each name not imported yet, then set on its parent package as a real import would have."""
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = DeferredModule(name)
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
