"""The detector registry: one name per detector, `create_detector(name)` / `list_detectors()`.

A detector is a class with `name`, `media_types` and `detect(media) -> Evidence`, where `media` is an
AnalysedMedia (the decoded file plus its face tracks). Registering a name twice is an error; modules with
heavy imports register themselves when `load_builtin_detectors()` imports them.
"""

from __future__ import annotations

import importlib
from typing import Callable, Protocol

from dflab.detect.evidence import Evidence
from dflab.errors import UsageError


class Detector(Protocol):
    name: str
    media_types: tuple[str, ...]  # subset of ("image", "video", "audio")
    needs_faces: bool

    def detect(self, media) -> Evidence: ...


_REGISTRY: dict[str, Callable[..., Detector]] = {}

BUILTIN_MODULES = [
    "dflab.detect.cues.blink",
    "dflab.detect.cues.boundary",
    "dflab.detect.cues.skin_tone",
    "dflab.detect.cues.head_pose",
    "dflab.detect.cues.spectrum",
    "dflab.detect.cues.identity_drift",
    "dflab.detect.cues.watermark",
    "dflab.detect.cues.speed",
    "dflab.detect.learned.synthetic_speech",
    "dflab.detect.cues.speaker_match",
    "dflab.detect.cues.cuts",
    "dflab.detect.cues.lip_sync",
    "dflab.detect.learned.synthetic_image",
    "dflab.detect.learned.synthetic_image_cnn",
    "dflab.detect.learned.face_crop",
]


def register_detector(name: str):
    def wrap(factory):
        if name in _REGISTRY:
            raise ValueError(f"detector {name!r} registered twice")
        _REGISTRY[name] = factory
        factory.name = name
        return factory

    return wrap


def load_builtin_detectors() -> None:
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency, not a detector that does not exist yet
                raise


def list_detectors() -> list[str]:
    load_builtin_detectors()
    return sorted(_REGISTRY)


def create_detector(name: str, **config) -> Detector:
    load_builtin_detectors()
    if name not in _REGISTRY:
        raise UsageError(f"unknown detector {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**config)
