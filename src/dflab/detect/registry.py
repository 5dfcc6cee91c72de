"""The detector registry: one name per detector, `create_detector(name)` / `list_detectors()`.

A detector is a class with `name`, `media_types` and `detect(media) -> Evidence`, where `media` is an
AnalysedMedia (the decoded file plus its face tracks). Registering a name twice is an error; modules with
heavy imports register themselves when `load_builtin_detectors()` imports them.
"""

from __future__ import annotations

from typing import Callable, Protocol

from dflab.detect.evidence import Evidence
from dflab.registry import Registry


class Detector(Protocol):
    name: str
    media_types: tuple[str, ...]  # subset of ("image", "video", "audio")
    needs_faces: bool

    def detect(self, media) -> Evidence: ...


BUILTIN_MODULES = [
    "dflab.detect.cues.blink",
    "dflab.detect.cues.boundary",
    "dflab.detect.cues.skin_tone",
    "dflab.detect.cues.paste",
    "dflab.detect.cues.head_pose",
    "dflab.detect.cues.spectrum",
    "dflab.detect.cues.identity_drift",
    "dflab.detect.cues.watermark",
    "dflab.detect.cues.c2pa",
    "dflab.detect.cues.speed",
    "dflab.detect.learned.synthetic_speech",
    "dflab.detect.cues.speaker_match",
    "dflab.detect.cues.cuts",
    "dflab.detect.cues.lip_sync",
    "dflab.detect.learned.synthetic_image",
    # "dflab.detect.learned.synthetic_image_cnn": registered once its trained weights ship
    "dflab.detect.learned.face_crop",
]

DETECTORS: Registry[Callable[..., Detector]] = Registry("detector", BUILTIN_MODULES)


def register_detector(name: str):
    def wrap(factory):
        DETECTORS.add(name, factory)
        factory.name = name
        return factory

    return wrap


def load_builtin_detectors() -> None:
    DETECTORS.load_builtins()


def list_detectors(pattern: str | None = None) -> list[str]:
    """Registered detector names, optionally only those matching a shell-style pattern ("*sync*")."""
    return DETECTORS.list(pattern)


def create_detector(name: str, **config) -> Detector:
    return DETECTORS.create(name, **config)
