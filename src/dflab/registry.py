"""One registry class for every plugin kind (detectors, hashers, watermarkers, baselines, ...).

    DETECTORS = Registry("detector", builtin_modules=["dflab.detect.cues.blink", ...])

    @DETECTORS.register("blink")
    class BlinkDetector: ...

    DETECTORS.create("blink", **config)   # calls the registered factory
    DETECTORS.list("*sync*")              # sorted names, optionally filtered by a shell-style pattern

Registering a name twice is an error (never a silent overwrite). Builtin plugins that live in modules with
heavy imports register themselves when those modules are imported, which happens lazily: the first `get`,
`create`, `list` or `in` imports every module in `builtin_modules`, so importing the registry stays cheap.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterator, MutableSequence
from typing import Generic, TypeVar

from dflab.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named plugins of one kind. `kind` is the word used in error messages ("detector", "hasher", ...)."""

    def __init__(self, kind: str, builtin_modules: MutableSequence[str] | None = None) -> None:
        self.kind = kind
        # Kept by reference: a module-level list such as detect.registry.BUILTIN_MODULES stays the one to edit.
        self.builtin_modules = builtin_modules if builtin_modules is not None else []
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@REGISTRY.register("name")` on a class or factory function; returns it unchanged."""

        def wrap(obj: T) -> T:
            self.add(name, obj)
            return obj

        return wrap

    def add(self, name: str, obj: T) -> T:
        """Register `obj` under `name`; ValueError when the name is taken (a programming error, not bad input)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = obj
        return obj

    def remove(self, name: str) -> None:
        """Forget `name` (for tests that register temporary plugins); unknown names are ignored."""
        self._entries.pop(name, None)

    def load_builtins(self) -> None:
        """Import the builtin modules (they register on import; a module imported before costs a dict lookup).
        A module that does not exist is skipped; one whose own imports fail raises, because that is a missing
        dependency, not a missing plugin."""
        for module in self.builtin_modules:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise

    def get(self, name: str) -> T:
        """The object registered under `name`; UsageError listing the known names otherwise."""
        self.load_builtins()
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "none registered"
            raise UsageError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._entries[name]

    def create(self, name: str, **config):
        """Call the factory registered under `name` with `config`."""
        return self.get(name)(**config)

    def list(self, pattern: str | None = None) -> list[str]:
        """Sorted registered names, only those matching the shell-style `pattern` when one is given."""
        self.load_builtins()
        names = sorted(self._entries)
        return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def __contains__(self, name: object) -> bool:
        self.load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} registered)"
