"""A C2PA manifest that declares the file synthetic (IPTC digitalSourceType trainedAlgorithmicMedia and kin).

Like our watermark, a valid declaration settles the question for the disclosed_synthetic finding. A manifest
whose signature does not validate declares nothing we can rely on, and a file without a manifest says nothing
about manipulation either way.
"""

from __future__ import annotations

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector
from dflab.errors import DflabError


@register_detector("c2pa")
class C2paDetector:
    media_types = ("image", "video", "audio")
    needs_faces = False

    def detect(self, media: AnalysedMedia) -> Evidence:
        from dflab.provenance.manifest import read_manifest

        try:
            manifest = read_manifest(media.media.path)
        except DflabError as exc:
            return not_applicable(self.name, f"The C2PA manifest could not be read: {exc}")
        state, source = manifest["state"], manifest.get("digital_source_type")
        details = {"state": state, "digital_source_type": source, "synthetic": manifest.get("synthetic"),
                   "record": (manifest.get("ledger") or {}).get("index")}
        if state == "none":
            return Evidence(self.name, 0.5, 0.0, "No C2PA manifest (its absence says nothing about manipulation).",
                            details=details)
        if state not in ("Trusted", "Valid"):
            return Evidence(self.name, 0.5, 0.0, f"A C2PA manifest is present but does not validate ({state}).",
                            details=details)
        kind = (source or "").rsplit("/", 1)[-1] or "no source type"
        if manifest.get("synthetic"):
            return Evidence(self.name, 1.0, 1.0, f"A {state.lower()} C2PA manifest declares the file synthetic ({kind}).",
                            details=details, decisive=True)
        return Evidence(self.name, 0.5, 0.0, f"A {state.lower()} C2PA manifest is present ({kind}); it does not declare "
                        "the file synthetic.", details=details)
