"""dflab: the deepfake lab. Make, detect and trace synthetic media.

The Python API in a few lines (docs/python-api.md has more)::

    import dflab

    result = dflab.scan("clip.mp4")            # a ScanResult: verdict, score, evidence, faces, ...
    print(result.verdict, result.score)
    document = result.to_json()                # the same document as `dflab scan --json`

    scanner = dflab.Scanner().warm()           # load every model once; share it between threads
    results = [scanner.scan(p) for p in paths]

    dflab.list_detectors()                     # ['blink', 'boundary', ...]

    dflab.verify("signed.jpg").problems        # provenance: verify, trace, register, compare (typed results;
    with dflab.Lab.default() as lab:           # lab= names the stores, docs/stores.md)
        dflab.register("original.mp4", lab=lab)

Errors are DflabError subclasses (BadMedia, Unsupported, LimitExceeded, ...), each with a message meant
for a person. The package import is cheap on purpose: heavy libraries (numpy, torch, mediapipe, dlib,
PyAV) load only when a scan needs them.
"""

from __future__ import annotations

from dflab.errors import (
    BadMedia,
    DflabError,
    IntegrityError,
    LimitExceeded,
    NoFace,
    NotFound,
    PartialMedia,
    Unsupported,
    UsageError,
)
from dflab.version import __version__

TYPE_CHECKING = False  # spelled out rather than imported from typing, which costs the import ~10 ms
if TYPE_CHECKING:  # for type checkers and IDEs; at run time these load on first use (see __getattr__)
    from pathlib import Path

    from dflab.detect.evidence import Evidence
    from dflab.detect.result import FaceBoxes, KeyFrame, ScanResult, TrackResult
    from dflab.detect.scan import ScanOptions
    from dflab.detect.scanner import Scanner
    from dflab.lab import Lab
    from dflab.provenance.facade import RegisterResult, TraceMatch, TraceResult, VerifyResult, register, trace, verify
    from dflab.shallow.compare_original import CompareResult, compare


# Names served lazily from their modules, so `import dflab` does not pull in numpy, torch or mediapipe.
_LAZY = {
    "Scanner": "dflab.detect.scanner",
    "ScanOptions": "dflab.detect.scan",
    "ScanResult": "dflab.detect.result",
    "TrackResult": "dflab.detect.result",
    "KeyFrame": "dflab.detect.result",
    "FaceBoxes": "dflab.detect.result",
    "SCHEMA_VERSION": "dflab.detect.result",
    "Evidence": "dflab.detect.evidence",
    # provenance: typed results; every call takes lab= (the stores, dflab.lab.Lab)
    "verify": "dflab.provenance.facade",
    "trace": "dflab.provenance.facade",
    "register": "dflab.provenance.facade",
    "compare": "dflab.shallow.compare_original",
    "VerifyResult": "dflab.provenance.facade",
    "TraceResult": "dflab.provenance.facade",
    "TraceMatch": "dflab.provenance.facade",
    "RegisterResult": "dflab.provenance.facade",
    "CompareResult": "dflab.shallow.compare_original",
    "Lab": "dflab.lab",
}

__all__ = [
    # detection
    "scan",
    "Scanner",
    "ScanOptions",
    "ScanResult",
    "TrackResult",
    "KeyFrame",
    "FaceBoxes",
    "Evidence",
    "SCHEMA_VERSION",
    "list_detectors",
    # provenance
    "verify",
    "trace",
    "register",
    "compare",
    "VerifyResult",
    "TraceResult",
    "TraceMatch",
    "RegisterResult",
    "CompareResult",
    "Lab",
    # errors
    "DflabError",
    "IntegrityError",
    "BadMedia",
    "PartialMedia",
    "NoFace",
    "NotFound",
    "Unsupported",
    "LimitExceeded",
    "UsageError",
    "__version__",
]


def scan(path: str | Path, **options) -> ScanResult:
    """Scan one image, video or audio file for signs of manipulation.

    Uses a process-wide Scanner with every detector, so models load once however often this is called,
    and calls from several threads are safe. `options` are ScanOptions fields for this call: detectors
    (a list of names), policy (a dflab.config.SamplingPolicy), limits, max_faces, reference_voice (a
    recording of the expected speaker), progress and frame_done (callbacks). Raises a DflabError subclass
    for a file it cannot scan (BadMedia, Unsupported, LimitExceeded, NotFound, UsageError; PartialMedia, a
    BadMedia, for a file cut short or damaged unless limits=Limits(allow_partial=True)).
    """
    from dflab.detect.scanner import default_scanner

    return default_scanner().scan(path, **options)


def list_detectors(pattern: str | None = None) -> list[str]:
    """The registered detector names, sorted; `pattern` filters them shell-style (e.g. "*face*")."""
    from fnmatch import fnmatchcase

    from dflab.detect.registry import list_detectors as registered

    names = registered()
    return [n for n in names if fnmatchcase(n, pattern)] if pattern else names


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dflab' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
