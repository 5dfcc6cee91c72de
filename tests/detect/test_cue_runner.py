"""The detectors of one scan run side by side: evidence in the detectors' order, cues that read frames or faces
after `prepare` (the prefetch pass and the identity embeddings)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

from dflab.detect.context import AnalysedMedia
from dflab.detect.cue_runner import run_detectors
from dflab.detect.evidence import Evidence
from dflab.errors import BadMedia
from dflab.faces.types import FaceObservation, FaceTrack
from dflab.media.types import Media


class _Cue:
    def __init__(self, name: str, needs_faces: bool, log: list, fail: bool = False, wait_for: threading.Event | None = None):
        self.name, self.needs_faces, self.media_types = name, needs_faces, ("video",)
        self.log, self.fail, self.wait_for = log, fail, wait_for

    def detect(self, media) -> Evidence:
        if self.wait_for is not None:
            assert self.wait_for.wait(5), "the other thread never ran"
        self.log.append(self.name)
        if self.fail:
            raise BadMedia("cannot read this")
        return Evidence(name=self.name, score=0.25, confidence=0.5, summary=self.name)


@contextmanager
def _timed(name):
    yield


def _subject(with_face: bool = True, duration_s: float = 1.0) -> AnalysedMedia:
    import numpy as np

    media = Media(path="x.mp4", media_type="video", frames=[], fps=30.0, duration_s=duration_s, width=64, height=64)
    obs = FaceObservation(frame_pos=0, time_s=0.0, box=(0, 0, 10, 10), landmarks=np.zeros((478, 3), np.float32))
    return AnalysedMedia(media, [FaceTrack(0, [obs])] if with_face else [])


def test_evidence_in_detector_order_and_face_cues_after_faces_are_prepared():
    log: list[str] = []
    started = threading.Event()
    reads_frames = _Cue("file_frames", False, log)
    reads_frames.frames_wanted = lambda media: [0]  # declared frames: decoded by `prepare`, so it waits too
    cues = [_Cue("face_a", True, log), _Cue("file_b", False, log), _Cue("face_c", True, log, fail=True),
            _Cue("file_d", False, log), reads_frames]

    def prepare():
        started.set()
        log.append("prepared")

    evidence = run_detectors(_subject(), cues, _timed, lambda name: None, threads=2, prepare=prepare)
    assert [e.name for e in evidence] == ["face_a", "file_b", "face_c", "file_d", "file_frames"]
    assert evidence[2].confidence == 0 and "Could not run: cannot read this" in evidence[2].summary
    assert all(log.index("prepared") < log.index(name) for name in ("face_a", "face_c", "file_frames"))


def test_two_cues_really_run_at_the_same_time():
    # Each cue waits for the other to have started: on one thread this would never finish.
    first, second = threading.Event(), threading.Event()
    log: list[str] = []

    class Signalling(_Cue):
        def __init__(self, name, mine, other):
            super().__init__(name, False, log, wait_for=other)
            self.mine = mine

        def detect(self, media):
            self.mine.set()
            return super().detect(media)

    evidence = run_detectors(_subject(), [Signalling("a", first, second), Signalling("b", second, first)], _timed,
                             lambda name: None, threads=2)
    assert [e.name for e in evidence] == ["a", "b"]


def test_one_thread_runs_in_turn_and_no_face_means_not_applicable():
    log: list[str] = []
    evidence = run_detectors(_subject(with_face=False), [_Cue("face", True, log), _Cue("file", False, log)], _timed,
                             lambda name: None, threads=1, prepare=lambda: log.append("prepared"))
    assert log == ["prepared", "file"]
    assert evidence[0].confidence == 0 and "No face found" in evidence[0].summary


def test_a_failure_while_preparing_faces_fails_the_scan():
    def prepare():
        raise BadMedia("the frame could not be decoded again")

    with pytest.raises(BadMedia, match="decoded again"):
        run_detectors(_subject(), [_Cue("face", True, []), _Cue("file", False, [])], _timed, lambda name: None,
                      threads=2, prepare=prepare)


def test_a_cue_that_runs_alone_never_overlaps_another():
    # The other cues hold the "busy" count while they run; the lone cue records what it saw.
    busy = {"now": 0}
    lock = threading.Lock()
    seen: list[int] = []
    log: list[str] = []

    class Counting(_Cue):
        def detect(self, media):
            with lock:
                busy["now"] += 1
            try:
                threading.Event().wait(0.05)  # long enough for the lone cue to start beside it if it could
                return super().detect(media)
            finally:
                with lock:
                    busy["now"] -= 1

    class Alone(_Cue):
        runs_alone = True

        def detect(self, media):
            seen.append(busy["now"])
            return super().detect(media)

    cues = [Alone("lone", True, log), Counting("a", False, log), Counting("b", True, log), Counting("c", False, log)]
    evidence = run_detectors(_subject(), cues, _timed, lambda name: None, threads=2, prepare=lambda: None)
    assert [e.name for e in evidence] == ["lone", "a", "b", "c"]
    assert seen == [0] and log[-1] == "lone"


def test_the_face_crop_detector_runs_alone():
    from dflab.detect.cue_runner import runs_alone
    from dflab.detect.registry import create_detector

    assert runs_alone(create_detector("face_crop"))
    assert not runs_alone(create_detector("speed"))


@pytest.mark.parametrize("threads", [1, 2])
def test_what_only_earlier_cues_read_is_freed_before_a_lone_cue(threads):
    log: list[str] = []
    cache_seen: list[int] = []

    class Alone(_Cue):
        runs_alone = True

        def detect(self, media):
            cache_seen.append(len(media.cache))
            return super().detect(media)

    class Filling(_Cue):
        def detect(self, media):
            media.cache[("aligned", 0)] = "crops"
            return super().detect(media)

    class Frames(list):
        def drop_features(self):
            self.dropped = True

    subject = _subject()
    subject.media.frames = Frames()
    subject.media.audio = "16 kHz track"
    run_detectors(subject, [Alone("lone", True, log), Filling("aligner", True, log)], _timed, lambda name: None,
                  threads=threads, prepare=lambda: None)
    assert cache_seen == [0]
    assert getattr(subject.media.frames, "dropped", False) and subject.media.audio is None

    reader = Alone("lone_reader", True, log)
    reader.reads_aligned_crops = True  # it would have to make every crop again: the cache stays
    subject = _subject()
    run_detectors(subject, [reader, Filling("aligner", True, log)], _timed, lambda name: None, threads=threads,
                  prepare=lambda: None)
    assert cache_seen == [0, 1]


@pytest.mark.parametrize("duration_s", [20.5, 600.0])
def test_a_memory_heavy_cue_never_runs_beside_a_frame_or_face_cue_but_a_file_cue_may(duration_s):
    # The heavy cue holds "heavy_busy" for a while; every cue records whether it started during that time.
    heavy_busy = threading.Event()
    beside_heavy: dict[str, bool] = {}
    file_started = threading.Event()
    log: list[str] = []

    class Recording(_Cue):
        def detect(self, media):
            beside_heavy[self.name] = heavy_busy.is_set()
            if self.name == "file":
                file_started.set()
            return super().detect(media)

    class Heavy(_Cue):
        memory_heavy = True

        def detect(self, media):
            heavy_busy.set()
            try:
                file_started.wait(2)  # the file cue may start beside it on the other thread...
                threading.Event().wait(0.3)  # ...and the frame and face cues would, were they not kept apart
            finally:
                heavy_busy.clear()
            return super().detect(media)

    reads_frames = Recording("frames", False, log)
    reads_frames.frames_wanted = lambda media: [0]
    cues = [Heavy("heavy", False, log), reads_frames, Recording("face", True, log), Recording("file", False, log)]
    evidence = run_detectors(_subject(duration_s=duration_s), cues, _timed, lambda name: None, threads=2,
                             prepare=lambda: None)  # fmt: skip
    assert [e.name for e in evidence] == ["heavy", "frames", "face", "file"]
    assert beside_heavy == {"file": True, "frames": False, "face": False}


def test_on_a_short_clip_a_memory_heavy_cue_runs_beside_the_frame_cues():
    """Up to KEPT_APART_FROM_S the heavy cue's working set is small: a frame cue starts beside it."""
    from dflab.detect.cue_runner import KEPT_APART_FROM_S

    heavy_busy, frames_started = threading.Event(), threading.Event()
    beside_heavy: dict[str, bool] = {}
    log: list[str] = []

    class Recording(_Cue):
        def detect(self, media):
            beside_heavy[self.name] = heavy_busy.is_set()
            frames_started.set()
            return super().detect(media)

    class Heavy(_Cue):
        memory_heavy = True

        def detect(self, media):
            heavy_busy.set()
            try:
                frames_started.wait(5)
            finally:
                heavy_busy.clear()
            return super().detect(media)

    reads_frames = Recording("frames", False, log)
    reads_frames.frames_wanted = lambda media: [0]
    run_detectors(_subject(duration_s=KEPT_APART_FROM_S), [Heavy("heavy", False, log), reads_frames], _timed,
                  lambda name: None, threads=2, prepare=lambda: None)  # fmt: skip
    assert beside_heavy == {"frames": True}


def test_the_speed_cue_is_kept_apart_from_the_frame_and_face_cues():
    from dflab.detect.cue_runner import kept_apart, memory_heavy
    from dflab.detect.registry import create_detector

    speed, watermark, boundary, cuts = (create_detector(n) for n in ("speed", "watermark", "boundary", "cuts"))
    assert memory_heavy(speed) and not memory_heavy(watermark)
    assert kept_apart(speed, watermark) and kept_apart(boundary, speed) and kept_apart(speed, speed)
    assert not kept_apart(speed, cuts) and not kept_apart(watermark, boundary)


def test_an_unexpected_error_in_a_cue_fails_the_scan_after_the_others_ran():
    log: list[str] = []

    class Broken(_Cue):
        def detect(self, media):
            raise RuntimeError("a bug in a cue")

    with pytest.raises(RuntimeError, match="a bug in a cue"):
        run_detectors(_subject(), [Broken("broken", False, log), _Cue("face", True, log), _Cue("file", False, log)],
                      _timed, lambda name: None, threads=2, prepare=lambda: log.append("prepared"))
    assert sorted(log) == ["face", "file", "prepared"]
