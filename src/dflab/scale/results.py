"""The results file of `dflab batch`: one JSON line per file, appended as files finish, resumable.

A line is the file's `dflab scan --json` document, or `{"path", "error"}` when it could not be scanned (with
--register, a "registered" object is added). Resuming reads the paths already present and skips them. A run
killed while writing may leave a last line without its newline: it is cut off (that file is scanned again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dflab.errors import DflabError, UsageError


def json_line(doc: dict[str, Any]) -> str:
    """The same bytes `dflab scan --json` prints (compact separators, numpy values as plain numbers)."""
    return json.dumps(doc, separators=(",", ":"), default=_json_default)


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def scan_document(scanner, path: str, register: bool = False, lab=None) -> dict[str, Any]:
    """What one file contributes: its scan document or its error, never an exception for bad input."""
    try:
        doc = scanner.scan(path).to_json()
    except DflabError as exc:
        return {"path": str(path), "error": str(exc)}
    if register:
        import dflab

        try:
            result = dflab.register(path, lab=lab)
            doc["registered"] = {"record": result.record, "hashes": result.hashes, "existing": result.existing}
        except DflabError as exc:
            doc["registered"] = {"error": str(exc)}
    return doc


class ResultsFile:
    """RESULTS.jsonl opened for appending; `done` holds the paths it already answers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise UsageError(f"--out {self.path} exists and is not a file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {self.path.parent}: {exc.strerror}") from None
        self.done: set[str] = self._read_done()
        self._handle = self.path.open("a", encoding="utf-8")

    def _read_done(self) -> set[str]:
        if not self.path.exists():
            return set()
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1  # an unfinished last line: forget it, that file is scanned again
            with self.path.open("r+b") as handle:
                handle.truncate(keep)
            data = data[:keep]
        done = set()
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            try:
                done.add(str(json.loads(line)["path"]))
            except (ValueError, KeyError, TypeError):
                raise UsageError(f"{self.path} line {number} is not a dflab batch result; use another --out") from None
        return done

    def write(self, line: str) -> None:
        self._handle.write(line + "\n")
        self._handle.flush()  # a killed run keeps every finished line

    def close(self) -> None:
        self._handle.close()
