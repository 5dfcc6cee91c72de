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
                        max_frames: int = MAX_KEY_FRAMES) -> list[int]:
    """Positions of the most telling frames, most telling first: the strongest heat map's frame, then the
    peaks of the fused score at least MIN_KEY_FRAME_GAP frames apart; the first frame when nothing stands
    out. A greedy order, so the first k picks are the same whatever `max_frames` is."""
    if n_frames == 0:
        return []
    picks: list[int] = []
    best_map = strongest_heatmap(evidence)
    if best_map is not None and best_map.heatmap_frame is not None:
        picks.append(int(best_map.heatmap_frame))
    if len(timeline_scores) == n_frames:
        for pos in np.argsort(-np.asarray(timeline_scores), kind="stable"):
            if len(picks) >= max_frames:
                break
            if all(abs(int(pos) - p) > MIN_KEY_FRAME_GAP for p in picks):
                picks.append(int(pos))
    return picks[:max_frames] or [0]


def _fit(shape: tuple[int, ...], max_side: int) -> tuple[int, int]:
    """(width, height) no larger than max_side on the longer side, aspect ratio kept; never enlarged."""
    height, width = shape[:2]
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_key_frame(rgb: np.ndarray, frame_pos: int, time_s: float) -> KeyFrame:
    import cv2
    from PIL import Image

    width, height = _fit(rgb.shape, KEY_FRAME_MAX_SIDE)
    small = rgb if (width, height) == (rgb.shape[1], rgb.shape[0]) else cv2.resize(
        rgb, (width, height), interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(small)).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return KeyFrame(frame_pos=frame_pos, time_s=float(time_s), jpeg=buf.getvalue(), width=width, height=height,
                    scale=width / rgb.shape[1])


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


def make_lean(result: ScanResult, subject: AnalysedMedia) -> ScanResult:
    """Fill in what the result keeps of the decoded media, so nothing else of it needs to be kept."""
    media = subject.media
    positions = key_frame_positions(result.evidence, result.timeline_scores, len(media.frames))
    result.duration_s = media.duration_s
    result.frames_analysed = len(media.frames)
    result.complete = media.meta.get("complete")  # the loader's completeness keys (media/check.py)
    result.decoded_duration_s = media.meta.get("decoded_duration_s")
    result.declared_duration_s = media.meta.get("declared_duration_s")
    # Pixels read in frame order (the picks come most suspicious first): a streamed video then decodes them in
    # one forward pass instead of once from the start per pick.
    pixels = {p: media.frames[p].rgb for p in sorted(set(positions))}
    result.key_frames = [encode_key_frame(pixels[p], p, media.frames[p].time_s) for p in positions]
    result.face_boxes = face_boxes(subject)
    result.evidence = [shrink_heatmap(e) for e in result.evidence]
    return result
