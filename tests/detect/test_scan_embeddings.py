"""A picture's face tracks get identity embeddings only when a cue that may run on pictures reads them (none
does: identity_drift examines videos), and the scan's result is the same document either way."""

from __future__ import annotations

from pathlib import Path

from dflab.detect.registry import create_detector, list_detectors
from dflab.detect.scan import ScanOptions, _reads_identity_embeddings, decode_and_find_faces, run_scan
from dflab.detect.scanner import Scanner

PICTURE = "face_recognition/examples/biden.jpg"


def _without_timings(result) -> dict:
    return {k: v for k, v in result.to_json().items() if k != "timings"}


def test_only_identity_drift_reads_embeddings_and_it_examines_videos() -> None:
    readers = [n for n in list_detectors() if getattr(create_detector(n), "reads_identity_embeddings", False)]
    assert readers == ["identity_drift"]
    every = [create_detector(n) for n in list_detectors()]
    assert not _reads_identity_embeddings(every, "image")
    assert _reads_identity_embeddings(every, "video")
    assert _reads_identity_embeddings(None, "image")  # no plan: assume a cue reads them


def test_a_picture_is_scanned_without_embeddings_and_gives_the_same_result(shared_data) -> None:
    from dflab.detect.scan import _Stopwatch

    path = Path(shared_data / PICTURE)
    every = [create_detector(n) for n in list_detectors()]
    _, lean = decode_and_find_faces(path, ScanOptions(), _Stopwatch(), planned=every)
    _, full = decode_and_find_faces(path, ScanOptions(), _Stopwatch(), planned=None)
    assert lean and len(lean) == len(full)
    assert all(not t.embeddings for t in lean) and all(len(t.embeddings) == 1 for t in full)

    scanner = Scanner()
    planned = scanner.scan(path)  # the scanner plans its detectors: no embeddings made
    options = ScanOptions(detectors=list(scanner.detectors))
    unplanned = run_scan(path, options, lambda media_type: [d for d in every if media_type in d.media_types],
                         planned=None)  # fmt: skip
    assert _without_timings(planned) == _without_timings(unplanned)
