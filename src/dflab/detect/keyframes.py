"""From a full scan to a lean result: pick the key frames and keep them small, shrink heat maps, keep face boxes.

This is the only step that sees the decoded frames after detection; afterwards the result stands alone
(the HTML report renders from it). Sizes are chosen so that the pickled result of a 10 s 720p clip stays
well under 1 MB: up to MAX_KEY_FRAMES JPEGs at most KEY_FRAME_MAX_SIDE pixels on their longer side, and heat
maps (smooth by nature: Grad-CAM cells, blurred seams) at most HEATMAP_MAX_SIDE, in float16 (a display
needs no more than its 1/1000 steps over [0, 1]).
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence
from dflab.detect.key_frame_copies import KeyFrameCopies, key_frame_size, shrink
from dflab.detect.result import FaceBoxes, KeyFrame, ScanResult

MAX_KEY_FRAMES = 6
KEY_FRAME_MAX_SIDE = 480
HEATMAP_MAX_SIDE = 160
JPEG_QUALITY = 85
MIN_KEY_FRAME_GAP = 5  # analysed frames between two picks, so the key frames do not show one moment twice


def strongest_heatmap(evidence: list[Evidence]) -> Evidence | None:
    """The evidence whose heat map the report overlays: the most confident suspicion among those with one."""
    mapped = [e for e in evidence if e.heatmap is not None and e.confidence > 0]
    return max(mapped, key=lambda e: e.score * e.confidence, default=None)


def key_frame_positions(evidence: list[Evidence], timeline_scores: np.ndarray, n_frames: int,
                        max_frames: int = MAX_KEY_FRAMES, at_hand: set[int] | None = None) -> list[int]:
    """Positions of the most telling frames, most telling first: the strongest heat map's frame, then the
    peaks of the fused score at least MIN_KEY_FRAME_GAP frames apart; the first frame when nothing stands
    out. A greedy order, so the first k picks are the same whatever `max_frames` is. `at_hand`: the positions
    whose pixels need no decoding (detect/key_frame_copies.py); each peak moves to the nearest of them (the heat
    map's frame is taken wherever it is)."""
    if n_frames == 0:
        return []
    picks: list[int] = []
    best_map = strongest_heatmap(evidence)
    if best_map is not None and best_map.heatmap_frame is not None:
        picks.append(int(best_map.heatmap_frame))
    nearest = _nearest_in(sorted(at_hand)) if at_hand else (lambda pos: pos)
    if len(timeline_scores) == n_frames:
        for pos in np.argsort(-np.asarray(timeline_scores), kind="stable"):
            if len(picks) >= max_frames:
                break
            pos = nearest(int(pos))
            if all(abs(pos - p) > MIN_KEY_FRAME_GAP for p in picks):
                picks.append(pos)
    return picks[:max_frames] or [nearest(0)]


def _nearest_in(positions: list[int]):
    """pos -> the nearest of the sorted `positions` (the earlier one on a tie)."""
    import bisect

    def nearest(pos: int) -> int:
        at = bisect.bisect_left(positions, pos)
        candidates = positions[max(0, at - 1) : at + 1]
        return min(candidates, key=lambda p: (abs(p - pos), p))

    return nearest


def _fit(shape: tuple[int, ...], max_side: int) -> tuple[int, int]:
    """(width, height) no larger than max_side on the longer side, aspect ratio kept; never enlarged."""
    return key_frame_size(shape[0], shape[1], max_side)


def encode_key_frame(rgb: np.ndarray, frame_pos: int, time_s: float,
                     frame_shape: tuple[int, ...] | None = None) -> KeyFrame:  # fmt: skip
    """The key frame of `rgb`, the analysis frame or (with its `frame_shape`) a copy of it already at key-frame
    size (detect/key_frame_copies.py)."""
    from PIL import Image

    frame_shape = frame_shape or rgb.shape
    width, height = _fit(frame_shape, KEY_FRAME_MAX_SIDE)
    small = shrink(rgb, (width, height))
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(small)).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return KeyFrame(frame_pos=frame_pos, time_s=float(time_s), jpeg=buf.getvalue(), width=width, height=height,
                    scale=width / frame_shape[1])


def shrink_heatmap(evidence: Evidence) -> Evidence:
    """The same evidence with its heat map at most HEATMAP_MAX_SIDE pixels on the longer side, float16."""
    if evidence.heatmap is None:
        return evidence
    import cv2

    heat = np.asarray(evidence.heatmap, dtype=np.float32)
    width, height = _fit(heat.shape, HEATMAP_MAX_SIDE)
    if (width, height) != (heat.shape[1], heat.shape[0]):
        heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_AREA)
    return dataclasses.replace(evidence, heatmap=np.clip(heat, 0.0, 1.0).astype(np.float16))


def face_boxes(subject: AnalysedMedia) -> list[FaceBoxes]:
    return [
        FaceBoxes(
            track_id=track.track_id,
            frame_positions=np.array([o.frame_pos for o in track.observations], dtype=np.int32),
            times=np.array([o.time_s for o in track.observations], dtype=np.float64),
            boxes=np.array([o.box for o in track.observations], dtype=np.float32).reshape(-1, 4),
        )
        for track in subject.tracks
    ]


def make_lean(result: ScanResult, subject: AnalysedMedia, copies: KeyFrameCopies | None = None) -> ScanResult:
    """Fill in what the result keeps of the decoded media, so nothing else of it needs to be kept. `copies`: small
    copies of a streamed video's frames made during its first pass; the key frames are then taken from them and
    from the frames the cues' prefetch holds, and only a heat map's frame found in neither is decoded again."""
    media = subject.media
    if copies is not None and callable(getattr(media.frames, "held", None)):
        return _lean_from_copies(result, subject, copies)
    positions = key_frame_positions(result.evidence, result.timeline_scores, len(media.frames))
    # Pixels read in frame order (the picks come most suspicious first): a streamed video then decodes them in
    # one forward pass instead of once from the start per pick.
    pixels = {p: media.frames[p].rgb for p in sorted(set(positions))}
    result.key_frames = [encode_key_frame(pixels[p], p, media.frames[p].time_s) for p in positions]
    return _keep_the_rest(result, subject)


def _lean_from_copies(result: ScanResult, subject: AnalysedMedia, copies: KeyFrameCopies) -> ScanResult:
    frames = subject.media.frames
    held = frames.held_positions()
    positions = key_frame_positions(result.evidence, result.timeline_scores, len(frames),
                                    at_hand=held | copies.positions())  # fmt: skip
    frame_shape = getattr(frames, "frame_shape", None)
    key_frames = {}
    for pos in sorted(set(positions)):  # in frame order: a frame decoded again is found in one forward pass
        full = frames.held(pos) if pos in held else None  # the analysis pixels, as before
        copy = copies.get(pos) if full is None else None
        if copy is not None and frame_shape is not None:
            key_frames[pos] = encode_key_frame(copy, pos, frames[pos].time_s, frame_shape)
        else:
            key_frames[pos] = encode_key_frame(full if full is not None else frames[pos].rgb, pos, frames[pos].time_s)
    result.key_frames = [key_frames[p] for p in positions]
    return _keep_the_rest(result, subject)


def _keep_the_rest(result: ScanResult, subject: AnalysedMedia) -> ScanResult:
    media = subject.media
    result.duration_s = media.duration_s
    result.frames_analysed = len(media.frames)
    result.complete = media.meta.get("complete")  # the loader's completeness keys (media/check.py)
    result.decoded_duration_s = media.meta.get("decoded_duration_s")
    result.declared_duration_s = media.meta.get("declared_duration_s")
    result.face_boxes = face_boxes(subject)
    result.evidence = [shrink_heatmap(e) for e in result.evidence]
    return result
