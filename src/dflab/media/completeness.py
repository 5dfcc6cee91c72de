"""Whether a file decoded whole: the one rule every command applies, as pure functions.

A file is complete when every stream dflab reads reaches the end its container declares (within a frame or
two) and no packet failed to decode. Anything else, a file cut short by any amount or damaged in the middle,
is partial: refused with PartialMedia unless Limits.allow_partial is set, in which case the caller goes on
with what decoded and reports `complete: false` with both durations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dflab.config import Limits
from dflab.errors import PartialMedia

# "A frame or two" of slack, plus half a frame for timestamp rounding. Measured on the 366 audio and video
# files of shared/data: the largest honest shortfall is exactly 2.0 frames (the AAC track of an AVI).
SLACK_FRAMES = 2.5
# PCM has no codec frame; 10 ms is the frame of most speech codecs (and 25 ms of slack loses no syllable).
PCM_FRAME_S = 0.010
# A stream whose rate is unknown (broken header) still gets a bounded tolerance.
UNKNOWN_FRAME_S = 0.040


@dataclass(frozen=True)
class Completeness:
    """How much of a file decoded. Durations are of the stream judged (video if any, else audio), in seconds;
    declared is None where the container does not say (raw ADTS, MP3 without a Xing/Info header)."""

    complete: bool
    decoded_duration_s: float | None
    declared_duration_s: float | None
    reason: str = ""  # one line: what is missing or damaged ("" when complete)

    def to_json(self) -> dict:
        return {
            "complete": self.complete,
            "decoded_duration_s": _round(self.decoded_duration_s),
            "declared_duration_s": _round(self.declared_duration_s),
        }


WHOLE_STILL = Completeness(True, 0.0, 0.0)  # an image that passed the structure check


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def frame_duration_s(fps: float = 0.0, frame_size: int = 0, sample_rate: int = 0) -> float:
    """One frame of a stream: 1/fps for video, frame_size/sample_rate for framed audio codecs, 10 ms for PCM."""
    if fps > 0:
        return 1.0 / fps
    if sample_rate > 0:
        return frame_size / sample_rate if frame_size > 1 else PCM_FRAME_S
    return UNKNOWN_FRAME_S


@dataclass(frozen=True)
class StreamReach:
    """One stream's declared length against how far it could be read."""

    kind: str  # "video" | "audio"
    declared_s: float | None
    reached_s: float | None  # None: nothing at all came out of it
    frame_s: float

    @property
    def short_by_s(self) -> float:
        if self.declared_s is None:
            return 0.0
        return max(0.0, self.declared_s - (self.reached_s or 0.0))

    @property
    def cut(self) -> bool:
        return self.short_by_s > SLACK_FRAMES * self.frame_s


def judge(streams: list[StreamReach], damage: str = "") -> Completeness:
    """Completeness from the streams' reach (the first stream is the one whose durations are reported) and any
    damage seen while reading ("" for none: a demuxer that broke off, packets the decoder refused)."""
    main = streams[0]
    reasons = []
    for stream in streams:
        if stream.cut:
            what = "its" if stream is main else f"its {stream.kind} track's"
            reasons.append(
                f"only {stream.reached_s or 0.0:.2f} s of {what} declared {stream.declared_s:.2f} s can be read"
            )
    if damage:
        reasons.append(damage)
    return Completeness(not reasons, main.reached_s, main.declared_s, "; ".join(reasons))


def combine(first: Completeness, second: Completeness) -> Completeness:
    """Two looks at one file (the packets, then the decoded frames): partial if either is, the shorter reach."""
    if first.complete and second.complete:
        return first if (first.decoded_duration_s or 0) <= (second.decoded_duration_s or 0) else second
    reached = [c.decoded_duration_s for c in (first, second) if c.decoded_duration_s is not None]
    reasons = [c.reason for c in (first, second) if c.reason]
    declared = first.declared_duration_s if first.declared_duration_s is not None else second.declared_duration_s
    return Completeness(False, min(reached) if reached else None, declared, "; ".join(dict.fromkeys(reasons)))


def partial_error(path: Path, completeness: Completeness) -> PartialMedia:
    return PartialMedia(f"{path} is truncated or damaged: {completeness.reason}")


def require_complete(path: Path, completeness: Completeness, limits: Limits) -> Completeness:
    """`completeness` itself when the file is whole or partial media is allowed; PartialMedia otherwise."""
    if not completeness.complete and not limits.allow_partial:
        raise partial_error(path, completeness)
    return completeness
