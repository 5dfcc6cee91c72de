"""Pure maths for video tracing: fit orig_time = speed * query_time + offset to matched frame pairs.

A derived clip can be re-timed (one speed for the whole clip) and cut (pieces removed, so the offset jumps),
so the mapping is a set of parallel lines. For each candidate speed (slopes of pairs of matches that are close
in query time, so a slope never spans a cut, plus 1.0) the query frames are covered greedily by parallel lines;
the speed whose lines explain the most match weight wins, each extra line costing a little so that noise does
not become a "cut". Weights are threshold + 1 - distance: in a static shot one query frame is close to many
original frames, and the nearest one is the best guess of the true time. A query frame belongs to one line,
and a line is split where the query side has a gap (an insert, or footage that did not match).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FramePair:
    query_s: float
    orig_s: float
    distance: int


@dataclass(frozen=True)
class Segment:
    query_start: float
    query_end: float
    orig_start: float
    orig_end: float
    frames: int  # matched query frames in this segment

    def as_list(self) -> list[float]:
        return [round(float(v), 3) for v in (self.query_start, self.query_end, self.orig_start, self.orig_end)]


@dataclass(frozen=True)
class TimeMapping:
    speed: float | None  # d(orig)/d(query); None when the matched frames span too little time to tell
    segments: list[Segment]
    matched_frames: int  # query frames on some segment


class _Pairs:
    """Pairs sorted by query frame, with per-frame max-weight reductions vectorised."""

    def __init__(self, pairs: list[FramePair], threshold: int) -> None:
        pairs = sorted(pairs, key=lambda p: (p.query_s, p.orig_s))
        self.q = np.array([p.query_s for p in pairs], float)
        self.o = np.array([p.orig_s for p in pairs], float)
        self.w = np.array([threshold + 1 - p.distance for p in pairs], float)
        self.frame_times, self.starts, self.frame_of = np.unique(self.q, return_index=True, return_inverse=True)
        self.frame_best = np.maximum.reduceat(self.w, self.starts)

    def frame_weights(self, slope: float, offsets: np.ndarray, tol: float) -> np.ndarray:
        """(len(offsets), frames): the best weight each frame has on each line (0 if none is near)."""
        near = np.abs(self.o[None, :] - slope * self.q[None, :] - offsets[:, None]) <= tol
        return np.maximum.reduceat(np.where(near, self.w[None, :], 0.0), self.starts, axis=1)


def fit_time_mapping(
    pairs: list[FramePair],
    threshold: int,
    tolerance_s: float = 0.35,
    max_gap_s: float = 2.0,
    min_segment_frames: int = 3,
    speed_range: tuple[float, float] = (0.25, 4.0),
    line_cost_frames: float = 1.0,
    max_slopes: int = 60,
) -> TimeMapping:
    """Speed and matched segments from (query time, original time, distance) candidates.

    `threshold` is the largest distance that counts as a match; `tolerance_s` is how far a pair may sit from a
    line and still be on it (a bit over half a registered frame step); a new line must explain at least
    `min_segment_frames` query frames and costs `line_cost_frames` average frame weights.
    """
    pairs = [p for p in pairs if p.distance <= threshold]
    if not pairs:
        return TimeMapping(None, [], 0)
    data = _Pairs(pairs, threshold)
    times = data.frame_times
    if len(times) < 2 or times[-1] - times[0] < 1.0:
        best = int(np.argmax(data.w))
        length = times[-1] - times[0]
        return TimeMapping(None, [Segment(times[0], times[-1], data.o[best], data.o[best] + length, len(times))], len(times))

    line_cost = line_cost_frames * float(data.frame_best.mean())
    best_total, best_slope, best_lines = -np.inf, 1.0, []
    for slope in _candidate_slopes(data, speed_range, max_slopes):
        lines, total = _cover(data, slope, tolerance_s, min_segment_frames, line_cost)
        if total > best_total + 1e-9 or (abs(total - best_total) <= 1e-9 and abs(slope - 1) < abs(best_slope - 1)):
            best_total, best_slope, best_lines = total, slope, lines
    if not best_lines:
        return TimeMapping(None, [], 0)

    # Refine: one least-squares slope over all lines (each keeps its intercept), then re-centre the offsets.
    members = [_members(data, best_slope, offset, tolerance_s, frames) for offset, frames in best_lines]
    slope = _common_slope(data.q, data.o, members) or best_slope
    if not speed_range[0] <= slope <= speed_range[1]:
        slope = best_slope
    segments: list[Segment] = []
    for idx in members:
        offset = float(np.median(data.o[idx] - slope * data.q[idx]))
        line_times = np.unique(data.q[idx])
        for run in _split_runs(line_times, max_gap_s):
            if len(run) >= min(min_segment_frames, len(line_times)):
                # the fitted line may put the original's first frame a hair before 0 s (-0.001): no time is negative
                segments.append(Segment(run[0], run[-1], max(0.0, slope * run[0] + offset),
                                        max(0.0, slope * run[-1] + offset), len(run)))
    segments.sort(key=lambda s: s.query_start)
    span = sum(s.query_end - s.query_start for s in segments)
    return TimeMapping(float(slope) if span >= 1.0 else None, segments, sum(s.frames for s in segments))


def _candidate_slopes(data: _Pairs, speed_range: tuple[float, float], max_slopes: int) -> list[float]:
    """Slopes of pairs 0.5-5 s apart in query time (never across a long cut), most supported first, plus 1.0."""
    dq = data.q[None, :] - data.q[:, None]
    local = (dq >= 0.5) & (dq <= 5.0)
    i, j = np.nonzero(local)
    slopes = (data.o[j] - data.o[i]) / (data.q[j] - data.q[i])
    weight = np.minimum(data.w[i], data.w[j])
    ok = (slopes >= speed_range[0]) & (slopes <= speed_range[1])
    rounded = np.round(slopes[ok], 2)
    support: dict[float, float] = {1.0: 0.0}
    for slope, wt in zip(rounded, weight[ok]):
        support[float(slope)] = support.get(float(slope), 0.0) + float(wt)
    ranked = sorted(support, key=lambda s: -support[s])[:max_slopes]
    return ranked if 1.0 in ranked else [*ranked, 1.0]


def _cover(data: _Pairs, slope: float, tol: float, min_frames: int, line_cost: float):
    """Greedy parallel lines under one slope: [(offset, explained frame mask)], and the weight they explain."""
    remaining = np.ones(len(data.frame_times), bool)
    lines: list[tuple[float, np.ndarray]] = []
    total = 0.0
    while remaining.sum() >= min(min_frames, 2 if not lines else min_frames):
        pair_ok = remaining[data.frame_of]
        offsets = np.unique(np.round(data.o[pair_ok] - slope * data.q[pair_ok], 3))
        weights = data.frame_weights(slope, offsets, tol) * remaining[None, :]
        # A frame counts for a line only if the line passes near one of its best matches (within 4 bits).
        weights = np.where(weights >= data.frame_best[None, :] - 4, weights, 0.0)
        scores = weights.sum(axis=1)
        best = int(np.argmax(scores))
        explained = weights[best] > 0
        needed = 2 if not lines else min_frames
        if explained.sum() < needed or (lines and scores[best] <= line_cost):
            break
        lines.append((float(offsets[best]), explained))
        total += float(scores[best]) - (line_cost if len(lines) > 1 else 0.0)
        remaining &= ~explained
    return lines, total


def _members(data: _Pairs, slope: float, offset: float, tol: float, frames: np.ndarray) -> np.ndarray:
    """Indices of the best pair on the line for each frame the line explains."""
    residual = np.abs(data.o - slope * data.q - offset)
    chosen = []
    for f in np.nonzero(frames)[0]:
        lo = data.starts[f]
        hi = data.starts[f + 1] if f + 1 < len(data.starts) else len(data.q)
        cand = [k for k in range(lo, hi) if residual[k] <= tol]
        if cand:
            chosen.append(max(cand, key=lambda k: (data.w[k], -residual[k])))
    return np.array(chosen, dtype=int)


def _common_slope(q: np.ndarray, o: np.ndarray, groups: list[np.ndarray]) -> float | None:
    """Least-squares slope shared by several groups, each with its own intercept."""
    num = den = 0.0
    for idx in groups:
        if len(idx) < 2:
            continue
        dq = q[idx] - q[idx].mean()
        num += float(dq @ (o[idx] - o[idx].mean()))
        den += float(dq @ dq)
    return num / den if den > 0 else None


def _split_runs(times: np.ndarray, max_gap_s: float) -> list[np.ndarray]:
    if len(times) == 0:
        return []
    cuts = np.where(np.diff(times) > max_gap_s)[0] + 1
    return np.split(times, cuts)
