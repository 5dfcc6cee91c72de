"""A ledger record: what the log says about one piece of media, and its canonical leaf bytes.

The leaf is canonical JSON (sorted keys, no spaces, UTF-8) so the same record always hashes the same, in
any language; every field is always present (absent optionals are null / empty) so there is exactly one
encoding per record. A record does not contain its own id: the id is the leaf index the log assigns.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dflab.errors import IntegrityError, UsageError

RECORD_VERSION = 1
MEDIA_TYPES = ("image", "video", "audio", "other")
_HEX = re.compile(r"^(?:[0-9a-f]{2})+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ACTION = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_FIELDS = (
    "v",
    "content_sha256",
    "action",
    "time",
    "media_type",
    "path",
    "perceptual_hashes",
    "watermark_payload",
    "manifest_sha256",
    "parents",
    "extra",
)


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN/Infinity: one byte string per value."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise UsageError(f"ledger record is not JSON-serialisable: {exc}") from None


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601 with microseconds and a Z suffix."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (streamed, so large videos are fine)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


@dataclass(frozen=True)
class Record:
    """One media record. Hex strings are lowercase; `parents` are ledger ids of the media this derives from."""

    content_sha256: str
    action: str = "register"
    time: str = field(default_factory=utc_now_iso)
    media_type: str = "other"
    path: str = ""
    perceptual_hashes: tuple[str, ...] = ()
    watermark_payload: str | None = None
    manifest_sha256: str | None = None
    parents: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Normalise sequences to tuples so a Record built from lists still compares equal to a parsed one.
        object.__setattr__(self, "perceptual_hashes", tuple(self.perceptual_hashes or ()))
        object.__setattr__(self, "parents", tuple(self.parents or ()))
        object.__setattr__(self, "extra", dict(self.extra or {}))
        problem = _validate(self)
        if problem:
            raise UsageError(f"invalid ledger record: {problem}")

    def to_json(self) -> dict[str, Any]:
        """The JSON-able dict that is hashed into the log (all fields, always)."""
        return {
            "v": RECORD_VERSION,
            "content_sha256": self.content_sha256,
            "action": self.action,
            "time": self.time,
            "media_type": self.media_type,
            "path": self.path,
            "perceptual_hashes": list(self.perceptual_hashes),
            "watermark_payload": self.watermark_payload,
            "manifest_sha256": self.manifest_sha256,
            "parents": list(self.parents),
            "extra": self.extra,
        }

    def leaf_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, obj: Any) -> Record:
        """Parse a record dict (as produced by to_json); raises IntegrityError if it is not one."""
        if not isinstance(obj, dict):
            raise IntegrityError(f"ledger record must be a JSON object, got {type(obj).__name__}")
        unknown = set(obj) - set(_FIELDS)
        missing = set(_FIELDS) - set(obj)
        if unknown or missing:
            raise IntegrityError(
                f"ledger record has unexpected fields {sorted(unknown)} / misses fields {sorted(missing)}"
            )
        if obj["v"] != RECORD_VERSION:
            raise IntegrityError(f"ledger record version {obj['v']!r} is not supported (expected {RECORD_VERSION})")
        try:
            return cls(**{k: obj[k] for k in _FIELDS if k != "v"})
        except (UsageError, TypeError) as exc:
            raise IntegrityError(str(exc)) from None

    @classmethod
    def from_leaf(cls, leaf: bytes) -> Record:
        try:
            obj = json.loads(leaf)
        except (ValueError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"stored ledger leaf is not JSON: {exc}") from None
        return cls.from_json(obj)

    @classmethod
    def for_file(cls, path: str | Path, **fields: Any) -> Record:
        """A record for a file on disk: its SHA-256 and the path as given; other fields by keyword."""
        fields.setdefault("path", str(path))
        return cls(content_sha256=sha256_file(path), **fields)


def _is_hex(value: Any) -> bool:
    return isinstance(value, str) and bool(_HEX.match(value))


def _validate(rec: Record) -> str | None:
    """The first thing wrong with a record, or None. Kept strict: a log entry is forever."""
    if not (isinstance(rec.content_sha256, str) and _SHA256.match(rec.content_sha256)):
        return f"content_sha256 must be 64 lowercase hex characters, got {rec.content_sha256!r}"
    if not (isinstance(rec.action, str) and _ACTION.match(rec.action)):
        return f"action must be a short lowercase word (register, generate, sign, edit, ...), got {rec.action!r}"
    if not isinstance(rec.time, str):
        return f"time must be an ISO 8601 UTC string, got {rec.time!r}"
    try:
        parsed = _dt.datetime.fromisoformat(rec.time.replace("Z", "+00:00"))
    except ValueError:
        return f"time is not ISO 8601: {rec.time!r}"
    if parsed.utcoffset() != _dt.timedelta(0):
        return f"time must be in UTC, got {rec.time!r}"
    if rec.media_type not in MEDIA_TYPES:
        return f"media_type must be one of {', '.join(MEDIA_TYPES)}, got {rec.media_type!r}"
    if not isinstance(rec.path, str):
        return f"path must be a string, got {type(rec.path).__name__}"
    if not all(_is_hex(h) for h in rec.perceptual_hashes):
        return "perceptual_hashes must be lowercase hex strings"
    if rec.watermark_payload is not None and not _is_hex(rec.watermark_payload):
        return f"watermark_payload must be lowercase hex, got {rec.watermark_payload!r}"
    if rec.manifest_sha256 is not None and not (
        isinstance(rec.manifest_sha256, str) and _SHA256.match(rec.manifest_sha256)
    ):
        return f"manifest_sha256 must be 64 lowercase hex characters, got {rec.manifest_sha256!r}"
    for parent in rec.parents:
        if isinstance(parent, bool) or not isinstance(parent, int) or parent < 0:
            return f"parents must be non-negative record ids, got {parent!r}"
    if not all(isinstance(k, str) for k in rec.extra):
        return "extra must be a JSON object with string keys"
    canonical_json(rec.to_json())  # raises UsageError if anything is not plain JSON / valid UTF-8
    return None
