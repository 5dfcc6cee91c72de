"""A database in process memory for tests: one lock, and an undo log so a failed transaction leaves no trace.

Memory stores mutate their Python containers directly and register how to undo each change with
`on_rollback`; when a transaction fails, the undo steps run newest first. Nothing survives close().
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dflab.errors import UsageError


class MemoryDatabase:
    """Shared by the memory stores of one lab: their writes in one `transaction()` commit or vanish together."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._undo: list[Callable[[], None]] = []
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:  # writers serialise, like BEGIN IMMEDIATE
            callbacks: list[Callable[[], None]] = []
            mark = len(self._undo)
            commit_mark = len(self._after_commit)
            self._depth += 1
            try:
                yield
            except BaseException:
                while len(self._undo) > mark:
                    self._undo.pop()()
                del self._after_commit[commit_mark:]
                raise
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._undo.clear()
            if self._depth == 0:
                callbacks, self._after_commit[:] = list(self._after_commit), []
        if callbacks:
            for callback in callbacks:
                callback()

    def reading(self):
        """Held while a store reads: a reader never sees a transaction that may still roll back (no dirty reads,
        as with SQLite and PostgreSQL)."""
        return self._lock

    @property
    def in_transaction(self) -> bool:
        """Whether this thread has a transaction open (the lock is re-entrant, so only its holder can)."""
        return self._depth > 0 and self._lock._is_owned()

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Remember how to take back a change just made inside the open transaction."""
        if self._depth == 0:
            raise UsageError("memory store changes must happen inside a transaction")
        self._undo.append(undo)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the open transaction has committed (dropped if it rolls back); once per callback."""
        if self._depth == 0:
            raise UsageError("after_commit needs an open transaction")
        if callback not in self._after_commit:
            self._after_commit.append(callback)

    def close(self) -> None:
        pass
