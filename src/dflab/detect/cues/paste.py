"""Hard paste seams. The crudest face edit cuts a region out of one picture (or the same one, mirrored, resized or
recoloured) and pastes it over the face with no blending: along the cut the picture jumps from one content to
another in a perfectly straight line. Natural faces have edges (jaw, brows, lips, glasses) but they curve, so
none stays the sharpest edge of its neighbourhood along one pixel column or row for long. The cue measures, around
each face (its landmarks' extent plus a margin), the longest run of rows in which one column is a local maximum of
the colour step between neighbouring pixels and a clear step (and the same for rows), as a share of the face's
size. A rectangle pasted with a hard edge gives runs of most of its sides, in both directions.

Blended swaps (Poisson, feathered masks, the self-blended training faces) leave no such seam: this cue is for
cut-and-paste edits, the blend boundary cue (boundary.py) for blended ones. Pictures only: a video's paste is
judged by its frames' face model and boundary cues. Its score is only a measurement mapped to [0, 1]; the
face_manipulated finding's fitted combiner (dflab train findings) decides what it is worth.
"""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector
from dflab.detect.timeline import sigmoid

MARGIN = 0.2  # the region judged: the landmarks' extent grown by this share of the face's size on every side
MIN_STEP = 18.0  # a clear step: RGB distance between neighbouring pixels (0-255 scale); JPEG q50 blocking in skin is < 10
NEIGHBOURHOOD = 2  # a seam pixel is the largest step within +-2 pixels across the seam
MIN_FACE_PX = 40  # below this the face is too small for a run of pixels to mean anything
# straightness = mean of the longest vertical and the longest horizontal run, each as a share of the face's height
# / width; a rectangle pasted over a face gives 0.6-1.0, natural faces (development reals) below 0.3
SEAM_CENTRE, SEAM_SCALE = 0.35, 0.06
CONFIDENCE = 0.6
BAR_STD = 3.0  # a border row or column this uniform (grey std, 0-255) is padding, not picture
BAR_EDGE = 6  # pixels next to a bar left out with it (JPEG q50 ringing, a half-size copy's blur)


def longest_runs(steps: np.ndarray) -> np.ndarray:
    """Per column of `steps` (rows x columns of colour steps across the columns): the longest run of consecutive
    rows in which that column is a clear step and the largest within +-NEIGHBOURHOOD columns."""
    h, w = steps.shape
    padded = np.pad(steps, ((0, 0), (NEIGHBOURHOOD, NEIGHBOURHOOD)), mode="constant")
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * NEIGHBOURHOOD + 1, axis=1)
    seam = (steps >= window.max(axis=2)) & (steps >= MIN_STEP)
    best = np.zeros(w, dtype=np.int64)
    run = np.zeros(w, dtype=np.int64)
    for row in seam:
        run = np.where(row, run + 1, 0)
        best = np.maximum(best, run)
    return best


def content_bounds(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the picture without uniform bars at its borders: letterbox and pillarbox padding meet
    the picture in a straight hard edge that is no paste (LivePortrait d14's and d0's frames carry a black bar)."""
    grey = rgb.astype(np.float32).mean(axis=2)
    flat_rows = grey.std(axis=1) < BAR_STD
    flat_cols = grey.std(axis=0) < BAR_STD

    def inner(flat: np.ndarray) -> tuple[int, int]:
        start, end = 0, len(flat)
        while start < end and flat[start]:
            start += 1
        while end > start and flat[end - 1]:
            end -= 1
        return start, end

    (y0, y1), (x0, x1) = inner(flat_rows), inner(flat_cols)
    # JPEG rings and a downscale blurs the rows next to a bar: its edge is kept out of the picture too
    grow = [BAR_EDGE if found else 0 for found in (x0 > 0, y0 > 0, x1 < len(flat_cols), y1 < len(flat_rows))]
    return x0 + grow[0], y0 + grow[1], x1 - grow[2], y1 - grow[3]


def straightness(rgb: np.ndarray, landmarks: np.ndarray) -> float | None:
    """Mean of the longest straight vertical and horizontal seam runs around one face, each as a share of the face's
    height / width; None when the face is too small."""
    x0, y0 = landmarks[:, 0].min(), landmarks[:, 1].min()
    x1, y1 = landmarks[:, 0].max(), landmarks[:, 1].max()
    fw, fh = x1 - x0, y1 - y0
    if min(fw, fh) < MIN_FACE_PX:
        return None
    cx0, cy0, cx1, cy1 = content_bounds(rgb)
    ax0, ay0 = int(max(cx0, x0 - MARGIN * fw)), int(max(cy0, y0 - MARGIN * fh))
    ax1, ay1 = int(min(cx1, x1 + MARGIN * fw)), int(min(cy1, y1 + MARGIN * fh))
    region = rgb[ay0:ay1, ax0:ax1].astype(np.float32)
    if min(region.shape[:2]) < 8:
        return None
    across_columns = np.linalg.norm(np.diff(region, axis=1), axis=2)  # rows x (columns - 1)
    across_rows = np.linalg.norm(np.diff(region, axis=0), axis=2).T  # columns x (rows - 1)
    vertical = float(longest_runs(across_columns).max()) / fh
    horizontal = float(longest_runs(across_rows).max()) / fw
    return 0.5 * (min(vertical, 1.0) + min(horizontal, 1.0))


@register_detector("paste")
class PasteSeamDetector:
    media_types = ("image",)
    needs_faces = True

    def detect(self, media: AnalysedMedia) -> Evidence:
        measured = {}
        for track in media.tracks:
            obs = track.observations[0]
            value = straightness(media.frame(obs.frame_pos), np.asarray(obs.landmarks)[:, :2])
            if value is not None:
                measured[track.track_id] = value
        if not measured:
            return not_applicable(self.name, "No face large enough to look for a pasted region's straight seam.")
        scores = {tid: float(sigmoid((v - SEAM_CENTRE) / SEAM_SCALE)) for tid, v in measured.items()}
        main = max(scores, key=scores.get)
        value = measured[main]
        judgement = ("a straight hard seam, as a region cut and pasted over the face leaves" if scores[main] >= 0.6
                     else "no long straight seam" if scores[main] < 0.4 else "borderline")
        return Evidence(
            name=self.name,
            score=scores[main],
            confidence=CONFIDENCE,
            summary=f"Around the face, the longest straight hard edges run {100 * value:.0f} % of its size "
            f"(mean of vertical and horizontal): {judgement}.",
            track_scores=scores,
            details={"straightness": round(value, 4)},
        )
