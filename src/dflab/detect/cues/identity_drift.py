"""Identity drift. A swapped face is the generator's reconstruction of someone else and can wander
between the two identities from frame to frame; a real face keeps one identity. We measure the distance
of each sampled identity embedding (dlib, 128-d) from the track's median embedding."""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector
from dflab.detect.timeline import flagged_ranges, sigmoid

# dlib's same-person threshold is 0.6; on the unedited development clips the 90th percentile distance
# from the track median was 0.18-0.39.
DRIFT_CENTRE, DRIFT_SCALE = 0.45, 0.04
MIN_EMBEDDINGS = 3


def drift_series(embeddings: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(frame positions, distance of each embedding from the median embedding)."""
    positions = np.array(sorted(embeddings))
    vectors = np.stack([embeddings[p] for p in positions])
    centre = np.median(vectors, axis=0)
    return positions, np.linalg.norm(vectors - centre, axis=1)


@register_detector("identity_drift")
class IdentityDriftDetector:
    media_types = ("video",)
    needs_faces = True
    reads_identity_embeddings = True  # track.embeddings: the face stage makes them only when a cue reads them
    min_identity_embeddings = MIN_EMBEDDINGS  # a scan does not embed tracks that would get fewer

    def detect(self, media: AnalysedMedia) -> Evidence:
        tracks = [t for t in media.tracks if len(t.embeddings) >= MIN_EMBEDDINGS]
        if not tracks:
            return not_applicable(self.name, "Identity drift needs a face seen for at least a few seconds.")
        frame_times = media.frame_times
        per_track = {}
        for track in tracks:
            positions, distances = drift_series(track.embeddings)
            # The 90th percentile rather than the max: one blurred frame should not decide.
            per_track[track.track_id] = (frame_times[positions], distances, float(np.percentile(distances, 90)))
        main = max(per_track, key=lambda tid: len(per_track[tid][0]))
        times, distances, p90 = per_track[main]
        frame_score = sigmoid((distances - DRIFT_CENTRE) / DRIFT_SCALE)
        score = float(sigmoid((p90 - DRIFT_CENTRE) / DRIFT_SCALE))
        judgement = "the identity wanders, as in a face swap" if score >= 0.6 else "a stable identity" if score < 0.45 else "borderline"
        return Evidence(
            name=self.name,
            score=score,
            confidence=float(min(0.6, 0.1 * len(distances))),
            summary=f"Identity embeddings stay within {p90:.2f} of the track's median (90th percentile over "
            f"{len(distances)} samples; 0.6 separates different people): {judgement}.",
            time_ranges=flagged_ranges(times, frame_score >= 0.6, min_gap_s=1.5),
            times=times,
            series={"score": frame_score, "distance": distances},
            track_scores={tid: float(sigmoid((v[2] - DRIFT_CENTRE) / DRIFT_SCALE)) for tid, v in per_track.items()},
            details={"p90_distance": round(p90, 4)},
        )
