"""The scan options a client may send with an upload (the `dflab scan` options), checked and normalised.

Normalised means: the same request spelled differently ("Strict" vs "strict", detectors in another order) gives
the same dict, and so the same dedup key and the same cached result.
"""

from __future__ import annotations

from dflab.errors import UsageError

FORM_FIELDS = ("operating_point", "detectors", "max_faces", "fps", "all_frames_up_to", "face_fps", "allow_partial")


def parse_scan_options(fields: dict[str, str]) -> dict:
    """Form fields -> a plain, canonical dict (only the options given; defaults are left to the scanner)."""
    from dflab.detect.findings import OperatingPoint
    from dflab.detect.registry import list_detectors

    options: dict = {}
    if fields.get("operating_point"):
        point = OperatingPoint.parse(fields["operating_point"])
        if point != OperatingPoint():
            options["operating_point"] = [point.manipulated_fpr, point.suspicious_fpr]
    if fields.get("detectors"):
        names = sorted({d.strip() for d in fields["detectors"].split(",") if d.strip()})
        known = list_detectors()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(f"unknown detector(s) {', '.join(unknown)}; known: {', '.join(known)}")
        if names and names != sorted(known):
            options["detectors"] = names
    if fields.get("max_faces"):
        options["max_faces"] = _number(fields["max_faces"], "max_faces", int, 1, 16)
    if fields.get("fps"):
        options["fps"] = _number(fields["fps"], "fps", float, 0.1, 60.0)
    if fields.get("all_frames_up_to"):
        options["all_frames_up_to"] = _number(fields["all_frames_up_to"], "all_frames_up_to", float, 0.0, 3600.0)
    if fields.get("face_fps"):
        options["face_fps"] = _number(fields["face_fps"], "face_fps", float, 1.0, 60.0)
    if fields.get("allow_partial", "").lower() in ("1", "true", "yes", "on"):
        options["allow_partial"] = True
    return options


def scan_overrides(options: dict, reference_voice: str | None) -> dict:
    """The normalised options as Scanner.scan keyword arguments."""
    from dflab.config import Limits, SamplingPolicy
    from dflab.detect.findings import OperatingPoint

    overrides: dict = {}
    if "operating_point" in options:
        overrides["operating_point"] = OperatingPoint(*options["operating_point"])
    if "detectors" in options:
        overrides["detectors"] = list(options["detectors"])
    if "max_faces" in options:
        overrides["max_faces"] = options["max_faces"]
    policy = {}
    if "fps" in options:
        policy["rate_fps"] = options["fps"]
    if "all_frames_up_to" in options:
        policy["all_frames_up_to_s"] = options["all_frames_up_to"]
    if "face_fps" in options:
        policy["face_rate_fps"] = options["face_fps"]
    if policy:
        overrides["policy"] = SamplingPolicy(**policy)
    if options.get("allow_partial"):
        overrides["limits"] = Limits(allow_partial=True)
    if reference_voice:
        overrides["reference_voice"] = reference_voice
    return overrides


def _number(text: str, name: str, kind, low: float, high: float):
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{name} must be a number, got {text!r}") from None
    if not low <= value <= high:
        raise UsageError(f"{name} must be between {low:g} and {high:g}, got {text}")
    return value
