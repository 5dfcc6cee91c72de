"""The typed provenance API: verify, trace and register a file against a lab's stores.

    import dflab
    result = dflab.verify("photo.jpg")          # VerifyResult; result.ok, result.problems, result.to_json()
    with dflab.Lab.default() as lab:            # one lab for many calls (the CLI does this)
        dflab.register("a.mp4", lab=lab)        # RegisterResult
        dflab.trace("copy.mp4", lab=lab)        # TraceResult with TraceMatch entries, best first
        dflab.compare("copy.mp4", lab=lab)      # CompareResult against the registered original

Every function takes `lab=` (dflab.lab.Lab); without one it opens the lab of the environment for the call and
closes it after. Each result's `to_json()` is exactly the document the matching `dflab ... --json` command
prints (the commands print it). `compare` (and its CompareResult) lives in dflab/shallow/compare_original.py:
aligning a copy with its original is shallow/'s work, and shallow sits above provenance in the layering; it
finds the original with `find_original` below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dflab.errors import NotFound, UsageError


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class VerifyResult:
    """One answer about a file from C2PA, watermark, registry and ledger (sections as documented in
    provenance/verify.py). `problems` lists what is wrong with it; `ok` is True when the list is empty."""

    path: str
    media_type: str
    verdict: str  # trusted, traced, signed-untrusted, tampered, unknown
    synthetic: bool | None
    summary: str
    problems: tuple[str, ...]
    c2pa: dict[str, Any]
    watermark: dict[str, Any]
    registry: dict[str, Any]
    ledger: dict[str, Any]
    # The open-and-check step's answer on the media itself (passed, or the error it gave a file whose
    # readable manifest still answers); docs/validation.md
    media_check: dict[str, Any] = field(default_factory=dict)
    # The consent a made output rests on (status "recorded" with its statements, or "not recorded"), from the
    # manifest or the ledger record; None for media the maker did not make (docs/methods.md, Provenance)
    consent: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        """What `dflab verify` exits with: 0 when nothing is wrong, 1 when something is."""
        return 0 if self.ok else 1

    @property
    def c2pa_state(self) -> str:
        return str(self.c2pa.get("state"))

    @property
    def ledger_records(self) -> list[int]:
        """Ledger record ids the sources name, in the order they were checked."""
        return [int(r["record"]) for r in self.ledger.get("records") or []]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> VerifyResult:
        return cls(doc["path"], doc["media_type"], doc["verdict"], doc["synthetic"], doc["summary"],
                   tuple(doc.get("problems") or ()), doc["c2pa"], doc["watermark"], doc["registry"], doc["ledger"],
                   dict(doc.get("media_check") or {}), doc.get("consent"))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "media_type": self.media_type, "verdict": self.verdict, "synthetic": self.synthetic,
                "summary": self.summary, "problems": list(self.problems), "c2pa": self.c2pa,
                "watermark": self.watermark, "registry": self.registry, "ledger": self.ledger,
                "media_check": self.media_check, "consent": self.consent}  # fmt: skip


@dataclass(frozen=True)
class RegisterResult:
    record: int  # the ledger record the file is registered as
    path: str
    media_type: str
    sha256: str
    hashes: int  # perceptual hashes indexed
    frames: int
    duration_s: float
    existing: bool  # the same bytes were registered before: this is that record
    audio_hashes: int = 0

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RegisterResult:
        return cls(**{name: doc[name] for name in _FIELDS_REGISTER if name in doc})

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS_REGISTER}


_FIELDS_REGISTER = ("record", "path", "media_type", "sha256", "hashes", "frames", "duration_s", "existing", "audio_hashes")
_AUDIO_KEYS = ("by", "score", "pitch_follows_speed", "matched_fraction")


@dataclass(frozen=True)
class TraceMatch:
    """One registered original a file derives from. Picture matches carry Hamming distances; audio matches
    (`by == "audio"`) carry a vote score instead and no distance."""

    record: int
    path: str
    media_type: str
    distance: int | None
    best_distance: int | None
    matched_frames: int
    variant: str
    exact: bool  # identical bytes
    time_ranges: list[list[float]]  # [query start, query end, original start, original end]
    speed_factor: float | None
    ledger: dict[str, Any] | None  # the ledger record, None when it cannot be read
    aligned_frames: int | None = None
    by: str = "frames"
    score: int | None = None
    pitch_follows_speed: bool | None = None
    matched_fraction: float | None = None
    # how the query was read when it matched: "as is", "mirrored", or "rect@x0,y0,x1,y1" (a pasted copy found at
    # that part of the picture, in fractions of its sides); None for audio matches
    query_view: str | None = None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TraceMatch:
        return cls(doc["record"], doc["path"], doc["media_type"], doc["distance"], doc["best_distance"],
                   doc["matched_frames"], doc["variant"], doc["exact"], doc["time_ranges"], doc["speed_factor"],
                   doc.get("ledger"), doc.get("aligned_frames"), doc.get("by", "frames"), doc.get("score"),
                   doc.get("pitch_follows_speed"), doc.get("matched_fraction"), doc.get("query_view"))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "record": self.record, "path": self.path, "media_type": self.media_type, "distance": self.distance,
            "best_distance": self.best_distance, "matched_frames": self.matched_frames, "variant": self.variant,
            "exact": self.exact, "time_ranges": self.time_ranges, "speed_factor": self.speed_factor,
        }  # fmt: skip
        if self.aligned_frames is not None:
            out["aligned_frames"] = self.aligned_frames
        if self.query_view is not None:
            out["query_view"] = self.query_view
        if self.by == "audio":
            out.update({key: getattr(self, key) for key in _AUDIO_KEYS})
        out["ledger"] = self.ledger
        return out


@dataclass(frozen=True)
class TraceResult:
    path: str
    media_type: str
    sha256: str
    frames: int  # query frames hashed
    threshold: int  # the Hamming match threshold
    matches: tuple[TraceMatch, ...]  # best first
    audio_quads: int | None = None  # set when the audio was fingerprinted (audio files, silent-picture fallback)
    audio_duration_s: float | None = None

    @property
    def best(self) -> TraceMatch | None:
        return self.matches[0] if self.matches else None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TraceResult:
        return cls(doc["path"], doc["media_type"], doc["sha256"], doc["frames"], doc["threshold"],
                   tuple(TraceMatch.from_json(m) for m in doc["matches"]), doc.get("audio_quads"),
                   doc.get("audio_duration_s"))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "media_type": self.media_type, "sha256": self.sha256,
                               "frames": self.frames, "threshold": self.threshold,
                               "matches": [m.to_json() for m in self.matches]}  # fmt: skip
        if self.audio_quads is not None:
            out["audio_quads"] = self.audio_quads
            out["audio_duration_s"] = self.audio_duration_s
        return out


# ---------------------------------------------------------------- calls


def verify(path: str | Path, *, lab=None, trust_anchors: bytes | None = None, registry_k: int = 5) -> VerifyResult:
    """Check a file's provenance (C2PA manifest, watermark, registry matches, ledger proofs).

    trust_anchors: CA certificate PEM(s) to trust instead of the lab's own CA. Raises NotFound, BadMedia or
    Unsupported when the file cannot be read; what is wrong with a readable file is in `problems`."""
    from dflab.provenance.verify import verify_file

    return VerifyResult.from_json(verify_file(path, trust_anchors, registry_k, lab=lab))


def trace(path: str | Path, *, lab=None, top: int = 5) -> TraceResult:
    """The registered originals `path` derives from, best first (at most `top`)."""
    from dflab.provenance.lab import lab_scope

    if top < 1:
        raise UsageError("--top must be at least 1")
    with lab_scope(lab) as opened:
        return TraceResult.from_json(opened.registry().trace(path, top=top))


def register(path: str | Path, *, lab=None, parents: Sequence[int] = ()) -> RegisterResult:
    """Record a file in the lab's ledger and registry, in one transaction. Identical bytes registered before
    (also by a concurrent writer) give the existing record with `existing=True`."""
    from dflab.provenance.lab import lab_scope

    with lab_scope(lab) as opened:
        return RegisterResult.from_json(opened.registry().register(path, parents=tuple(int(p) for p in parents)))


def find_original(suspect: str | Path, *, lab=None) -> tuple[Path, int]:
    """(path, record) of the best registered video or audio match of `suspect` (a registered still cannot be
    aligned in time)."""
    result = trace(suspect, lab=lab, top=5)
    timed = [m for m in result.matches if m.media_type in ("video", "audio")]
    if not timed:
        raise NotFound(f"{suspect} does not trace to any registered video or audio; pass --original FILE")
    best = timed[0]
    path = Path(best.path)
    if not path.is_file():
        raise NotFound(f"{suspect} traces to record {best.record} ({path}), but that file is no longer there; "
                       "pass --original FILE")  # fmt: skip
    return path, int(best.record)


__all__ = [
    "RegisterResult",
    "TraceMatch",
    "TraceResult",
    "VerifyResult",
    "find_original",
    "register",
    "trace",
    "verify",
]
