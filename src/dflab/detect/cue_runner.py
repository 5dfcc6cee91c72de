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

A detector that declares `memory_heavy = True` (speed: a minute of sound at the source's rate at a time, about
170 MB of temporaries, for most of a long recording's scan; synthetic_speech: copies of the whole 16 kHz track)
never runs beside a cue that reads frames or faces, nor beside another memory-heavy one, on a recording longer
than KEPT_APART_FROM_S (20 s; shorter ones' working sets are small): on a 10-minute clip the
speed cue's audio blocks used to meet the watermark search on 1080p frames, the face cues or synthetic_speech,
and those overlaps were the scan's peak. It may run beside `prepare` and beside the cues that read neither. A
free thread takes the first cue in order that may run now, so holding a cue back leaves the thread to the
others; the cost is wall time only when nothing else is left to run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.errors import DflabError, WorkerFailed
from dflab.heap import release_free_heap

DETECTOR_THREADS = 2  # this project's machines have two cores; more threads only add switching
# Memory-heavy cues are kept apart only on recordings longer than this. Their working sets grow with the sound's
# length up to a 60 s block (the speed cue's ~170 MB at a minute of 44.1 kHz): on the long recordings the rule was
# made for they set the scan's peak, while on a 10 s clip they are a few tens of MB, and keeping them apart left a
# cue thread idle for most of the speed cue's second (docs/performance.md). 20 s is where scans start sampling
# frames below the source rate (Limits), i.e. where a clip counts as long.
KEPT_APART_FROM_S = 20.0


def waits_for_prepare(detector) -> bool:
    """Whether a detector reads what `prepare` makes: frames it declares (`frames_wanted`) or faces."""
    return bool(detector.needs_faces) or callable(getattr(detector, "frames_wanted", None))


def runs_alone(detector) -> bool:
    """Whether a detector asks to run with no other cue beside it (its peak memory is the scan's largest)."""
    return bool(getattr(detector, "runs_alone", False))


def memory_heavy(detector) -> bool:
    """Whether a detector's working set is large enough to keep the frame and face cues from running beside it."""
    return bool(getattr(detector, "memory_heavy", False))


def kept_apart(first, second) -> bool:
    """Whether two detectors must not run at the same time: a memory-heavy one beside another memory-heavy one,
    or beside one that reads frames or faces (their frames, crops and searches are the scan's other large
    working sets)."""
    if memory_heavy(first):
        return memory_heavy(second) or waits_for_prepare(second)
    return memory_heavy(second) and waits_for_prepare(first)


def keeps_heavy_apart(subject: AnalysedMedia) -> bool:
    """Whether the memory-heavy cues must be kept apart on this file: a recording longer than KEPT_APART_FROM_S,
    or one of unknown length."""
    duration = getattr(getattr(subject, "media", None), "duration_s", None)
    return duration is None or not duration <= KEPT_APART_FROM_S


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
                  prepare: Callable[[], None] | None = None,
                  before: Callable[[object], None] | None = None) -> list[Evidence]:  # fmt: skip
    """Evidence of every detector, in the detectors' order. `prepare`, when given, runs before any detector
    that `waits_for_prepare`; an error it raises fails the scan (as it would have before the cues). `before(detector)`,
    when given, runs on the detector's thread just before it (e.g. waiting for what only it reads: the identity
    embeddings made in another process); an error it raises fails the scan too."""

    def run(detector) -> Evidence:
        if before is not None:
            before(detector)
        notify(detector.name)
        with timed(detector.name):
            if detector.needs_faces and not subject.tracks:
                return not_applicable(detector.name, "No face found, so this face cue could not run.")
            try:
                return detector.detect(subject)
            except WorkerFailed:  # a child process the scan started has failed: one error for the scan, not a cue left out
                raise
            except DflabError as exc:  # one cue that cannot run must not cost the user the whole scan
                return not_applicable(detector.name, f"Could not run: {exc}.")
            finally:
                release_free_heap()  # the cue's temporaries are free now; the next cue may not reuse their pages

    # A model that runs in a child process (subject.workers) has its peak there, not beside this process's cues.
    alone = [i for i in range(len(detectors)) if runs_alone(detectors[i]) and detectors[i].name not in getattr(subject, "workers", {})]
    if threads <= 1:
        if prepare is not None:
            prepare()
        evidence = {i: run(detectors[i]) for i in range(len(detectors)) if i not in alone}
    else:
        # The cues that wait for nothing first, so they fill the second thread while `prepare` runs; then those
        # that read frames but no faces (file-level), then the face cues, those that read identity embeddings (which
        # may still be on their way from another process) last.
        order = sorted((i for i in range(len(detectors)) if i not in alone),
                       key=lambda i: (waits_for_prepare(detectors[i]), detectors[i].needs_faces,
                                      bool(getattr(detectors[i], "reads_identity_embeddings", False))))
        evidence = _run_side_by_side(detectors, order, run, threads, prepare, keeps_heavy_apart(subject))
    if alone:
        free_before_lone_cues(subject, [detectors[i] for i in alone])
    evidence.update({i: run(detectors[i]) for i in alone})  # the other threads are done by now
    return [evidence[i] for i in range(len(detectors))]


def _run_side_by_side(detectors: list, order: list[int], run: Callable, threads: int,
                      prepare: Callable[[], None] | None, heavy_apart: bool = True) -> dict[int, Evidence]:  # fmt: skip
    """Evidence of detectors[i] for each i in `order`, on `threads` threads, the first of which runs `prepare`
    before any cue. A free thread takes the first cue in `order` that may start now: `prepare` is done or not
    needed (waits_for_prepare), and (when `heavy_apart`) nothing running is `kept_apart` from it; when none may, it waits for a cue
    to end (or `prepare`). An error `prepare` raises fails the scan, else the first error of a cue, in order,
    once every cue has run."""
    pending = list(order)
    running: set[int] = set()
    changed = threading.Condition()
    prepared = threading.Event()
    if prepare is None:
        prepared.set()
    evidence: dict[int, Evidence] = {}
    errors: dict[int, BaseException] = {}

    def may_start(i: int) -> bool:
        if waits_for_prepare(detectors[i]) and not prepared.is_set():
            return False
        return not heavy_apart or not any(kept_apart(detectors[i], detectors[j]) for j in running)

    def next_cue() -> int | None:
        with changed:
            while pending:
                startable = next((i for i in pending if may_start(i)), None)
                if startable is not None:
                    pending.remove(startable)
                    running.add(startable)
                    return startable
                changed.wait()
            return None

    def work(prepares: bool) -> None:
        if prepares:
            try:
                prepare()
            finally:
                prepared.set()  # on failure the cues run on and are discarded: the error is raised below
                with changed:
                    changed.notify_all()
        while (i := next_cue()) is not None:
            try:
                evidence[i] = run(detectors[i])
            except BaseException as exc:  # raised below, after the other cues (as a pool's result() would)
                errors[i] = exc
            finally:
                with changed:
                    running.discard(i)
                    changed.notify_all()

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dflab-cue") as pool:
        workers = [pool.submit(work, n == 0 and prepare is not None) for n in range(threads)]
        preparing, others = workers[0], workers[1:]
        preparing.result()  # prepare's own error first
        for worker in others:
            worker.result()
    if errors:
        raise errors[min(errors, key=order.index)]
    return evidence
