"""Skin-tone mismatch. A swapped face is colour-corrected towards the target only approximately, so the
inner face (cheeks) can disagree in tone with the skin around it that the swap leaves alone (the
forehead above the eyebrows). Measured as the distance between the median chroma (CIELAB a*, b*) of the
two regions: lightness is left out because lighting alone makes foreheads brighter than cheeks."""

from __future__ import annotations

import cv2
import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.cues.aligned import CROP, align_track, swap_region_mask
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector
from dflab.detect.timeline import flagged_ranges, sigmoid

LEFT_CHEEK, RIGHT_CHEEK, MID_FOREHEAD = 50, 280, 151
PATCH_RADIUS = 7  # px in the 128 px crop
# Logistic over the median chroma difference. On the development clips unedited faces measured 1-9
# (make-up and coloured light reach the top of that range), so the cue is weak and says so.
DELTA_E_CENTRE, DELTA_E_SCALE = 10.0, 2.5
MAX_FOREHEAD_TEXTURE = 6.0  # std of L* on the forehead patch; above it the patch is hair or an occlusion


def _lab(crop: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _disc(centre: np.ndarray, radius: int = PATCH_RADIUS) -> np.ndarray:
    mask = np.zeros((CROP, CROP), np.uint8)
    cv2.circle(mask, (int(round(centre[0])), int(round(centre[1]))), radius, 1, -1)
    return mask > 0


def regions(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inner-face cheeks, surrounding forehead skin) as boolean masks in crop coordinates."""
    cheeks = _disc(points[LEFT_CHEEK]) | _disc(points[RIGHT_CHEEK])
    # The forehead patch sits between the brow line and the mid-forehead point, outside the swap region.
    forehead = _disc(points[MID_FOREHEAD] + np.float32([0, -2])) & (swap_region_mask(points) == 0)
    return cheeks, forehead


def delta_e(lab: np.ndarray, inner: np.ndarray, outer: np.ndarray) -> float:
    """Chroma difference between two skin regions; NaN when one is missing or is not bare skin."""
    if inner.sum() < 10 or outer.sum() < 10 or lab[outer][:, 0].std() > MAX_FOREHEAD_TEXTURE:
        return float("nan")
    return float(np.linalg.norm(np.median(lab[inner][:, 1:], axis=0) - np.median(lab[outer][:, 1:], axis=0)))


@register_detector("skin_tone")
class SkinToneDetector:
    media_types = ("image", "video")
    needs_faces = True
    reads_aligned_crops = True  # align_track: the scan makes these crops while it finds the faces

    def detect(self, media: AnalysedMedia) -> Evidence:
        per_track = {}
        for track in media.tracks:
            aligned = align_track(media, track)
            # Every frame is not needed for a slowly varying quantity: about 5 per second is plenty.
            step = max(1, int(round(len(aligned.times) / max(1.0, 5 * (aligned.times[-1] - aligned.times[0] + 0.2)))))
            idx = np.arange(0, len(aligned.times), step)
            values = np.array([delta_e(_lab(aligned.crops[i]), *regions(aligned.points[i])) for i in idx])
            per_track[track.track_id] = (aligned, idx, values)
        measured = {tid: v for tid, v in per_track.items() if np.isfinite(v[2]).any()}
        if not measured:
            return not_applicable(self.name, "The cheeks and bare forehead skin were not both visible.")
        main = max(measured, key=lambda tid: len(measured[tid][0].times))
        aligned, idx, values = measured[main]
        finite = np.isfinite(values)
        frame_score = sigmoid((np.nan_to_num(values, nan=DELTA_E_CENTRE) - DELTA_E_CENTRE) / DELTA_E_SCALE)
        median_de = float(np.median(values[finite]))
        score = float(sigmoid((median_de - DELTA_E_CENTRE) / DELTA_E_SCALE))
        key = int(idx[np.nanargmax(values)])
        lab = _lab(aligned.crops[key])
        _, forehead = regions(aligned.points[key])
        chroma = lab[:, :, 1:]
        de_map = np.linalg.norm(chroma - np.median(chroma[forehead], axis=0), axis=2) * swap_region_mask(aligned.points[key])
        height, width = media.frame_shape(int(aligned.frame_pos[key]))[:2]  # the size only: no pixels decoded
        inverse = cv2.invertAffineTransform(aligned.matrices[key])
        heat = cv2.warpAffine(de_map.astype(np.float32), inverse, (width, height))
        judgement = "a mismatch typical of a pasted face" if score >= 0.6 else "consistent" if score < 0.45 else "borderline"
        return Evidence(
            name=self.name,
            score=score,
            confidence=float(min(0.4, 0.2 + 0.05 * finite.sum())),
            summary=f"Cheeks and forehead differ in skin tone by {median_de:.1f} chroma units (median over "
            f"{finite.sum()} frame(s)): {judgement}.",
            time_ranges=flagged_ranges(aligned.times[idx], frame_score >= 0.6),
            times=aligned.times[idx],
            series={"score": frame_score, "delta_e": values},
            track_scores={tid: float(sigmoid((np.nanmedian(v[2]) - DELTA_E_CENTRE) / DELTA_E_SCALE)) for tid, v in measured.items()},
            heatmap=np.clip(heat / 20.0, 0, 1),
            heatmap_frame=int(aligned.frame_pos[key]),
            details={"median_chroma_difference": round(median_de, 3)},
        )
