"""Score -> verdict. One place, so scan, eval and the web page agree."""

from __future__ import annotations

from dflab.detect.evidence import Verdict

DECISION_THRESHOLD = 0.5  # score >= this counts as "fake" for accuracy figures
MANIPULATED_AT = 0.7  # at or above: "manipulated"
SUSPICIOUS_AT = 0.4  # at or above (and below MANIPULATED_AT): "suspicious"


def verdict_for(score: float) -> Verdict:
    if score >= MANIPULATED_AT:
        return "manipulated"
    if score >= SUSPICIOUS_AT:
        return "suspicious"
    return "authentic"
