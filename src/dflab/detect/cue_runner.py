"""Run a scan's detectors on two threads: the cues of one file are independent, and on a 2-core machine one
cue's native work (OpenCV, FFT, torch, dlib) runs beside another's instead of after it.

What makes it safe: a detector keeps no state between calls (all about one file lives in its AnalysedMedia);
the streamed frames serialise their re-decoding (media.frame_store); MediaPipe and dlib run under
faces.models.MODEL_LOCK; shared intermediate results (aligned crops) come out the same whichever cue makes
them. The evidence keeps the detectors' order, so a scan's result does not depend on which cue ends first.

One thread first prepares what the cues read (`prepare`: for a streamed video, decoding the frames they want
in one pass and the face tracks' identity embeddings) while the cues that read no frames (speed, cuts, c2pa:
they use per-frame features, the sound or the file) start on the other; the cues that read frames or faces
wait for it.

A detector that declares `runs_alone = True` (face_crop: a network's forward pass over a batch of crops, the
largest transient allocation of a scan) runs after the others have finished (with one thread as with two), so its
peak never adds to another cue's (such as the speed cue's minute of audio features on a long recording);
what only the cues before it read (the shared aligned crops, the per-frame features, the sound) is freed first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.errors import DflabError
from dflab.heap import release_free_heap

DETECTOR_THREADS = 2  # this project's machines have two cores; more threads only add switching


def waits_for_prepare(detector) -> bool:
    """Whether a detector reads what `prepare` makes: frames it declares (`frames_wanted`) or faces."""
    return bool(detector.needs_faces) or callable(getattr(detector, "frames_wanted", None))


def runs_alone(detector) -> bool:
    """Whether a detector asks to run with no other cue beside it (its peak memory is the scan's largest)."""
    return bool(getattr(detector, "runs_alone", False))


def free_before_lone_cues(subject: AnalysedMedia, lone: list) -> None:
    """Free what only the cues that have finished read, before the lone cues' peak rather than after the scan:
    what grows with the clip's length (at the 1,800-frame cap and 10 minutes of sound: the aligned crops of
    every observation, 88 MB; the per-frame features of the first decode, 46 MB; the 16 kHz track, 38 MB).
    Whatever a lone cue declares it reads stays."""
    if not any(getattr(d, "reads_aligned_crops", False) for d in lone):
        subject.cache.clear()  # shared intermediate results; a lone cue that wanted one would make it again
    drop_features = getattr(subject.media.frames, "drop_features", None)
    if drop_features is not None and not any(getattr(d, "reads_frame_features", False) for d in lone):
        drop_features()
    if subject.media.audio is not None and not any("audio" in d.media_types for d in lone):
        subject.media.audio = None
    release_free_heap()


def run_detectors(subject: AnalysedMedia, detectors: list, timed: Callable[[str], AbstractContextManager],
                  notify: Callable[[str], None], threads: int = DETECTOR_THREADS,
                  prepare: Callable[[], None] | None = None) -> list[Evidence]:  # fmt: skip
    """Evidence of every detector, in the detectors' order. `prepare`, when given, runs before any detector
    that `waits_for_prepare`; an error it raises fails the scan (as it would have before the cues)."""
    ready = threading.Event()
    if prepare is None:
        ready.set()

    def prepared() -> None:
        try:
            prepare()
        finally:
            ready.set()  # on failure the waiting cues run on and are discarded: the error is raised below

    def run(detector) -> Evidence:
        if waits_for_prepare(detector):
            ready.wait()
        notify(detector.name)
        with timed(detector.name):
            if detector.needs_faces and not subject.tracks:
                return not_applicable(detector.name, "No face found, so this face cue could not run.")
            try:
                return detector.detect(subject)
            except DflabError as exc:  # one cue that cannot run must not cost the user the whole scan
                return not_applicable(detector.name, f"Could not run: {exc}.")
            finally:
                release_free_heap()  # the cue's temporaries are free now; the next cue may not reuse their pages

    alone = [i for i in range(len(detectors)) if runs_alone(detectors[i])]
    if threads <= 1:
        if prepare is not None:
            prepared()
        evidence = {i: run(detectors[i]) for i in range(len(detectors)) if i not in alone}
    else:
        # The cues that wait for nothing first, so they fill the second thread while `prepare` runs; then those
        # that read frames but no faces (file-level), then the face cues.
        order = sorted(range(len(detectors)),
                       key=lambda i: (waits_for_prepare(detectors[i]), detectors[i].needs_faces))
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dflab-cue") as pool:
            preparing = pool.submit(prepared) if prepare is not None else None
            futures = {i: pool.submit(run, detectors[i]) for i in order if i not in alone}
            if preparing is not None:
                preparing.result()
            evidence = {i: future.result() for i, future in futures.items()}
    if alone:
        free_before_lone_cues(subject, [detectors[i] for i in alone])
    evidence.update({i: run(detectors[i]) for i in alone})  # the pool is empty by now
    return [evidence[i] for i in range(len(detectors))]
