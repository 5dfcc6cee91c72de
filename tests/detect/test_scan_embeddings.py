"""A picture's face tracks get identity embeddings only when a cue that may run on pictures reads them (none
does: identity_drift examines videos), and the scan's result is the same document either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


def _track(track_id: int, seconds: float, fps: float = 15.0):
    import numpy as np

    from dflab.faces.types import FaceObservation, FaceTrack

    n = int(round(seconds * fps)) + 1
    obs = [FaceObservation(frame_pos=2 * i, time_s=i / fps, box=(0.0, 0.0, 10.0, 10.0),
                           landmarks=np.zeros((478, 3), np.float32)) for i in range(n)]
    return FaceTrack(track_id, obs)


def test_a_video_embeds_only_the_tracks_identity_drift_can_use() -> None:
    from types import SimpleNamespace

    from dflab.detect.cues.identity_drift import MIN_EMBEDDINGS
    from dflab.detect.scan import _tracks_to_embed
    from dflab.faces.analyse import EMBED_EVERY_S, embedding_positions

    long_track, short_track = _track(0, 5.0), _track(1, 0.5)
    subject = SimpleNamespace(media_type="video", tracks=[long_track, short_track])
    every = [create_detector(n) for n in list_detectors()]
    # The short track would get two embeddings (its first and last), fewer than identity drift reads.
    assert len(embedding_positions([o.time_s for o in short_track.observations], EMBED_EVERY_S)) < MIN_EMBEDDINGS
    assert _tracks_to_embed(subject, every) == [long_track]
    assert _tracks_to_embed(subject, [d for d in every if d.name != "identity_drift"]) == []
    assert _tracks_to_embed(SimpleNamespace(media_type="image", tracks=[long_track]), every) == []


def test_a_video_scanned_with_model_processes_gives_the_in_process_document(shared_data, monkeypatch) -> None:
    from dflab.faces.embedding_process import EmbeddingProcess

    handed = []
    submit = EmbeddingProcess.submit
    monkeypatch.setattr(EmbeddingProcess, "submit", lambda self, *args: handed.append(args[0]) or submit(self, *args))
    clip = shared_data / "liveportrait/assets/examples/source/s32.mp4"
    scanner = Scanner(["identity_drift", "blink", "face_crop", "head_pose"])
    # A cold scanner: the identity embeddings are described, and the face-crop network runs, in child processes.
    apart = scanner.scan(clip)
    described_apart = len(handed)
    here = scanner.scan(clip, model_processes=False)
    drift = next(e for e in apart.evidence if e.name == "identity_drift")
    crop = next(e for e in apart.evidence if e.name == "face_crop")
    assert described_apart >= 3 and len(handed) == described_apart  # the second scan used no child
    assert all(key[0] == "early" for key in handed)  # all handed on during the face stage, none after it
    assert drift.confidence > 0 and len(drift.series["distance"]) == described_apart
    assert crop.confidence > 0 and crop.details["crops_scored"] >= 4 and crop.heatmap is not None
    assert _without_timings(apart) == _without_timings(here)
    again = scanner.scan(clip)  # a scanner's later scans run the models here: children would load them every time
    assert len(handed) == described_apart and _without_timings(again) == _without_timings(here)
    # The heat map is not part of the document: compare it too.
    crop_here = next(e for e in here.evidence if e.name == "face_crop")
    assert np.array_equal(crop.heatmap, crop_here.heatmap) and np.array_equal(crop.series["score"], crop_here.series["score"])
