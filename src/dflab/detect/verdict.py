"""Score -> verdict. One place, so scan, eval and the web page agree."""

from __future__ import annotations

from dflab.detect.evidence import Verdict

DECISION_THRESHOLD = 0.5  # score >= this counts as "fake" for accuracy figures
# Video scores are calibrated probabilities at an even prior (detect/calibration.py), so "suspicious" starts
# where manipulation becomes more likely than not; with the previous uncalibrated scores it started at 0.4,
# which now would call a third of unedited clips suspicious.
MANIPULATED_AT = 0.7  # at or above: "manipulated"
SUSPICIOUS_AT = 0.5  # at or above (and below MANIPULATED_AT): "suspicious"


def verdict_for(score: float) -> Verdict:
    if score >= MANIPULATED_AT:
        return "manipulated"
    if score >= SUSPICIOUS_AT:
        return "suspicious"
    return "authentic"
