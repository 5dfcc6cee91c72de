"""Run a scan's detectors on two threads: the cues of one file are independent, and on a 2-core machine one
cue's native work (OpenCV, FFT, torch, dlib) runs beside another's instead of after it.

What makes it safe: a detector keeps no state between calls (all about one file lives in its AnalysedMedia);
the streamed frames serialise their re-decoding (media.frame_store); MediaPipe and dlib run under
faces.models.MODEL_LOCK; shared intermediate results (aligned crops) come out the same whichever cue makes
them. The evidence keeps the detectors' order, so a scan's result does not depend on which cue ends first.

The face tracks of a streamed video get their identity embeddings on one thread first (`prepare_faces`),
while the file-level cues (watermark, speed, cuts, ...) start on the other; the face cues wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.errors import DflabError

DETECTOR_THREADS = 2  # this project's machines have two cores; more threads only add switching


def run_detectors(subject: AnalysedMedia, detectors: list, timed: Callable[[str], AbstractContextManager],
                  notify: Callable[[str], None], threads: int = DETECTOR_THREADS,
                  prepare_faces: Callable[[], None] | None = None) -> list[Evidence]:  # fmt: skip
    """Evidence of every detector, in the detectors' order. `prepare_faces`, when given, runs before any
    detector that needs faces; an error it raises fails the scan (as it would have before the cues)."""
    faces_ready = threading.Event()
    if prepare_faces is None:
        faces_ready.set()

    def prepare() -> None:
        try:
            prepare_faces()
        finally:
            faces_ready.set()  # on failure the face cues run on and are discarded: the error is raised below

    def run(detector) -> Evidence:
        if detector.needs_faces:
            faces_ready.wait()
        notify(detector.name)
        with timed(detector.name):
            if detector.needs_faces and not subject.tracks:
                return not_applicable(detector.name, "No face found, so this face cue could not run.")
            try:
                return detector.detect(subject)
            except DflabError as exc:  # one cue that cannot run must not cost the user the whole scan
                return not_applicable(detector.name, f"Could not run: {exc}.")

    if threads <= 1:
        if prepare_faces is not None:
            prepare()
        return [run(d) for d in detectors]
    # File-level cues first: they need nothing from the embeddings, so they fill the second thread meanwhile.
    order = sorted(range(len(detectors)), key=lambda i: detectors[i].needs_faces)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dflab-cue") as pool:
        prepared = pool.submit(prepare) if prepare_faces is not None else None
        futures = {i: pool.submit(run, detectors[i]) for i in order}
        if prepared is not None:
            prepared.result()
        return [futures[i].result() for i in range(len(detectors))]
