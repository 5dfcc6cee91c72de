import numpy as np

from dflab.detect.cues.boundary import BoundaryDetector
from dflab.detect.cues.skin_tone import SkinToneDetector


def test_hard_seam_scores_higher_than_the_untouched_photo(seam_pair):
    real, fake = seam_pair
    assert real.tracks and fake.tracks, "both photos must have a detected face"
    detector = BoundaryDetector()
    real_ev, fake_ev = detector.detect(real), detector.detect(fake)
    assert fake_ev.details["seam_log_ratio"] > real_ev.details["seam_log_ratio"] + 0.1
    assert fake_ev.score > real_ev.score


def test_heatmap_points_at_the_seam(seam_pair):
    _, fake = seam_pair
    ev = BoundaryDetector().detect(fake)
    assert ev.heatmap is not None and ev.heatmap.shape == fake.media.frames[0].rgb.shape[:2]
    ys, xs = np.nonzero(ev.heatmap > 0.5)
    x0, y0, x1, y1 = fake.tracks[0].observations[0].box
    # The hot pixels lie on the face, not somewhere in the background.
    assert x0 - 20 <= np.median(xs) <= x1 + 20 and y0 - 20 <= np.median(ys) <= y1 + 20


def test_skin_tone_measures_a_finite_difference(seam_pair):
    real, fake = seam_pair
    for subject in (real, fake):
        ev = SkinToneDetector().detect(subject)
        assert ev.confidence > 0 and np.isfinite(ev.details["median_delta_e"])
