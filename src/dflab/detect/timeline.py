"""The per-frame series helpers under the name the detectors import them by; defined in dflab.timeline
(shared with shallow/, which must not import detect/)."""

from dflab.timeline import flagged_ranges, logit, robust_z, sigmoid

__all__ = ["flagged_ranges", "logit", "robust_z", "sigmoid"]
