"""Blend-boundary artefacts. A face swap pastes a generated face into each frame through a mask; along
the mask's edge the pasted and the original pixels meet. Two signs follow (Li et al. 2020, Face X-ray):
a seam (more edge energy on the blend boundary than just inside or outside it) and, in video, flicker
(the boundary changes from frame to frame more than the face interior or the background do, because
each frame is generated independently). Both are measured on crops aligned to one template, so head
motion does not count as change."""

from __future__ import annotations

import cv2
import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.cues.aligned import CROP, AlignedTrack, align_track, rings, swap_region_mask
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector
from dflab.detect.timeline import flagged_ranges, sigmoid

# Logistic maps from the measured log-ratios to a score. The centres sit just above the largest values
# of the 15 unedited development clips (liveportrait, ffpp originals: seam up to 0.67, flicker up to
# 0.46), so the cue only speaks when a clip is outside what real footage showed.
SEAM_CENTRE, SEAM_SLOPE = 0.55, 6.0
FLICKER_CENTRE, FLICKER_SLOPE = 0.45, 8.0


def _gray(crops: np.ndarray) -> np.ndarray:
    return crops.astype(np.float32) @ np.float32([0.299, 0.587, 0.114])


def seam_ratio(gray: np.ndarray, band: np.ndarray, interior: np.ndarray, outside: np.ndarray) -> tuple[float, np.ndarray]:
    """log(edge energy on the band / edge energy nearby) and the gradient-magnitude map."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.sqrt(gx * gx + gy * gy)
    near = 0.5 * (magnitude[interior].mean() + magnitude[outside].mean()) if interior.any() and outside.any() else 0.0
    return float(np.log((magnitude[band].mean() + 1.0) / (near + 1.0))), magnitude


def track_measurements(aligned: AlignedTrack) -> dict[str, np.ndarray]:
    """Per-observation seam log-ratio and (from the second observation on) flicker log-ratio."""
    n = len(aligned.crops)
    seam = np.zeros(n)
    flicker = np.full(n, np.nan)
    energy = np.zeros((CROP, CROP), np.float32)
    previous = None
    for i in range(n):
        # One crop's grey at a time (the same values as all at once): the whole track's float copy was
        # 260 KB per observation, 470 MB for the 1,800 observations of a long clip.
        gray = _gray(aligned.crops[i])
        band, interior, outside = rings(swap_region_mask(aligned.points[i]))
        seam[i], _ = seam_ratio(gray, band, interior, outside)
        if previous is not None:
            # Subtract the mean change so global brightness changes (auto exposure) do not count.
            change = np.abs(gray - previous - (gray - previous).mean())
            energy += change
            near = 0.5 * (change[interior].mean() + change[outside].mean())
            flicker[i] = np.log((change[band].mean() + 1.0) / (near + 1.0))
        previous = gray
    return {"seam": seam, "flicker": flicker, "energy": energy / max(1, n - 1)}


def _heatmap(media: AnalysedMedia, aligned: AlignedTrack, index: int, crop_map: np.ndarray) -> np.ndarray:
    """Warp a crop-space evidence map back onto the frame, normalised to [0, 1]."""
    height, width = media.frame_shape(int(aligned.frame_pos[index]))[:2]  # the size only: no pixels decoded
    inverse = cv2.invertAffineTransform(aligned.matrices[index])
    band, _, _ = rings(swap_region_mask(aligned.points[index]), width=5)
    focused = cv2.GaussianBlur(crop_map * band, (0, 0), 2.0)
    full = cv2.warpAffine(focused, inverse, (width, height), flags=cv2.INTER_LINEAR)
    return full / (full.max() + 1e-6)


@register_detector("boundary")
class BoundaryDetector:
    media_types = ("image", "video")
    needs_faces = True
    reads_aligned_crops = True  # align_track: the scan makes these crops while it finds the faces

    def detect(self, media: AnalysedMedia) -> Evidence:
        per_track, main = {}, None
        for track in media.tracks:
            aligned = align_track(media, track)
            m = track_measurements(aligned)
            seam_score = sigmoid(SEAM_SLOPE * (m["seam"] - SEAM_CENTRE))
            flick = m["flicker"]
            has_flicker = np.isfinite(flick).sum() >= 5
            flicker_score = sigmoid(FLICKER_SLOPE * (np.nan_to_num(flick, nan=FLICKER_CENTRE) - FLICKER_CENTRE))
            # Video: flicker carries most of the weight; images have only the seam.
            frame_score = 0.35 * seam_score + 0.65 * flicker_score if has_flicker else seam_score
            per_track[track.track_id] = (aligned, m, frame_score)
            if main is None or len(track) > len(per_track[main][0].times):
                main = track.track_id
        if main is None:
            return not_applicable(self.name, "No face to examine.")
        aligned, m, frame_score = per_track[main]
        score = float(np.clip(np.median(frame_score), 0, 1))
        key = int(np.argmax(frame_score))
        crop_map = m["energy"] if np.isfinite(m["flicker"]).any() else seam_ratio(
            _gray(aligned.crops[key : key + 1])[0], *rings(swap_region_mask(aligned.points[key]))
        )[1]
        seam_med = float(np.median(m["seam"]))
        flicker_med = float(np.nanmedian(m["flicker"])) if np.isfinite(m["flicker"]).any() else None
        parts = [f"edge energy on the blend boundary is {np.exp(seam_med):.2f}x that nearby"]
        if flicker_med is not None:
            parts.append(f"frame-to-frame change there is {np.exp(flicker_med):.2f}x the face interior and background")
        verdict = "a sign of a pasted face" if score >= 0.6 else "as expected for an unedited face" if score < 0.45 else "inconclusive"
        return Evidence(
            name=self.name,
            score=score,
            confidence=0.8 if flicker_med is not None else 0.5,
            summary="Around the face outline, " + "; ".join(parts) + f": {verdict}.",
            time_ranges=flagged_ranges(aligned.times, frame_score >= 0.6),
            times=aligned.times,
            series={"score": frame_score, "seam": m["seam"], "flicker": m["flicker"]},
            track_scores={tid: float(np.median(fs)) for tid, (_, _, fs) in per_track.items()},
            heatmap=_heatmap(media, aligned, key, crop_map),
            heatmap_frame=int(aligned.frame_pos[key]),
            details={"seam_log_ratio": round(seam_med, 4), "flicker_log_ratio": None if flicker_med is None else round(flicker_med, 4)},
        )
