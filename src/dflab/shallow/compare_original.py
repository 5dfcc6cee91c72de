"""The typed comparison call: what was done to a copy of an original (given, or found in a lab's registry).

    import dflab
    result = dflab.compare("copy.mp4")                   # the original is traced in the registry
    result = dflab.compare("copy.mp4", "original.mp4")   # or named
    result.speed_factor, result.removed, result.to_json()

`to_json()` is exactly what `dflab compare --json` prints. The alignment itself is compare.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dflab.config import Limits
from dflab.errors import NotFound


@dataclass(frozen=True)
class CompareResult:
    """What was done to a copy of an original. The typed fields are common to every comparison; `details` holds
    the rest of the document in order (speed_factor, segments, removed, inserted, changed, durations, mode, ...),
    which depends on whether pictures or audio were aligned (shallow/compare.py)."""

    suspect: str
    original: str
    aligned: bool
    summary: str
    record: int | None  # the registered original's ledger record, when it was found by tracing
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def speed_factor(self) -> float | None:
        return self.details.get("speed_factor")

    @property
    def removed(self) -> list[dict[str, Any]]:
        return list(self.details.get("removed") or [])

    @property
    def inserted(self) -> list[dict[str, Any]]:
        return list(self.details.get("inserted") or [])

    @property
    def changed(self) -> list[dict[str, Any]]:
        return list(self.details.get("changed") or [])

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CompareResult:
        typed = ("suspect", "original", "aligned", "summary", "record")
        return cls(str(doc["suspect"]), str(doc["original"]), bool(doc["aligned"]), doc["summary"], doc.get("record"),
                   {k: v for k, v in doc.items() if k not in typed})  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"suspect": self.suspect, "original": self.original, "aligned": self.aligned, **self.details,
                "summary": self.summary, "record": self.record}  # fmt: skip




def compare(suspect: str | Path, original: str | Path | None = None, *, lab=None,
            limits: Limits | None = None) -> CompareResult:  # fmt: skip
    """Align `suspect` with `original` (default: its best registered video or audio match in the lab).
    `limits` apply to both files (Limits(allow_partial=True) compares what decodes of a cut copy)."""
    from dflab.provenance.facade import find_original
    from dflab.provenance.lab import lab_scope
    from dflab.shallow.compare import compare_files

    if not Path(suspect).exists():
        raise NotFound(f"{suspect} does not exist")
    record = None
    if original is not None:
        if not Path(original).exists():
            raise NotFound(f"{original} does not exist")
    else:
        with lab_scope(lab) as opened:
            original, record = find_original(suspect, lab=opened)
    doc = compare_files(suspect, original, limits)
    doc["record"] = record
    return CompareResult.from_json(doc)


__all__ = ["CompareResult", "compare"]
