"""Linking per-frame face observations into tracks (pure: no models, no I/O).

Each frame, open tracks are matched to the new observations with the Hungarian algorithm on a cost
that mixes box overlap and centre distance (so a face that moves fast between sampled frames, where
boxes no longer overlap, still links). A track that has not been matched for more than `max_gap_s`
is closed; unmatched observations open new tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dflab.faces.detect import box_iou
from dflab.faces.types import FaceObservation

MAX_GAP_S = 0.5
MAX_CENTRE_SHIFT = 0.6  # centre movement allowed between matched boxes, in units of the box size
MIN_SIZE_RATIO = 0.5  # boxes whose sizes differ more than 2x are not the same face


@dataclass
class _OpenTrack:
    observations: list[FaceObservation] = field(default_factory=list)

    @property
    def last(self) -> FaceObservation:
        return self.observations[-1]


def match_cost(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Cost in [0, 2] of linking box a to box b, or +inf when they cannot be the same face."""
    size_a = max(a[2] - a[0], a[3] - a[1], 1e-6)
    size_b = max(b[2] - b[0], b[3] - b[1], 1e-6)
    if min(size_a, size_b) / max(size_a, size_b) < MIN_SIZE_RATIO:
        return np.inf
    shift = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2) / ((size_a + size_b) / 2)
    iou = box_iou(a, b)
    if iou <= 0.0 and shift > MAX_CENTRE_SHIFT:
        return np.inf
    return (1.0 - iou) + min(shift, 1.0)


def link_tracks(
    frames: list[list[FaceObservation]],
    max_gap_s: float = MAX_GAP_S,
    cuts: set[int] | frozenset[int] = frozenset(),
) -> list[list[FaceObservation]]:
    """Group observations (one list per analysed frame, in time order) into tracks, in order of start.

    `cuts` holds frame positions where a new shot starts: every open track ends before them.
    """
    linker = TrackLinker(max_gap_s)
    for pos, observations in enumerate(frames):
        if pos in cuts:
            linker.cut()
        linker.add(observations)
    return linker.tracks()


class TrackLinker:
    """`link_tracks` one frame at a time, so a caller can follow the tracks while the frames still stream
    (detect/frames_ahead.py). `open` and `closed` hold the tracks so far (each a `_OpenTrack`)."""

    def __init__(self, max_gap_s: float = MAX_GAP_S) -> None:
        self.max_gap_s = max_gap_s
        self.open: list[_OpenTrack] = []
        self.closed: list[_OpenTrack] = []

    def cut(self) -> None:
        """A new shot starts: every open track ends."""
        self.closed.extend(self.open)
        self.open = []

    def add(self, observations: list[FaceObservation]) -> list[_OpenTrack]:
        """Link one frame's observations; returns the track each joined (same order)."""
        if not observations:
            return []
        from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

        now = observations[0].time_s
        still_open = []
        for track in self.open:
            (still_open if now - track.last.time_s <= self.max_gap_s + 1e-9 else self.closed).append(track)
        self.open = still_open
        joined: list[_OpenTrack | None] = [None] * len(observations)
        if self.open:
            cost = np.array([[match_cost(t.last.box, o.box) for o in observations] for t in self.open])
            finite = np.where(np.isfinite(cost), cost, 1e6)
            rows, cols = linear_sum_assignment(finite)
            for r, c in zip(rows, cols):
                if np.isfinite(cost[r, c]):
                    self.open[r].observations.append(observations[c])
                    joined[c] = self.open[r]
        for c, obs in enumerate(observations):
            if joined[c] is None:
                joined[c] = _OpenTrack([obs])
                self.open.append(joined[c])
        return joined

    def tracks(self) -> list[list[FaceObservation]]:
        tracks = self.closed + self.open
        tracks.sort(key=lambda t: (t.observations[0].frame_pos, t.observations[0].box[0]))
        return [t.observations for t in tracks]
