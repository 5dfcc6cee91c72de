"""The main job: decode a file, find and track faces, run every applicable detector, judge, keep a lean result.

`run_scan` is the pipeline for one file with detector instances it is given; dflab.detect.scanner.Scanner
owns those instances (loaded once, shared between threads) and `scan_file` uses a process-wide Scanner.
"""

from __future__ import annotations

import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from dflab.config import Limits, SamplingPolicy
from dflab.detect.context import AnalysedMedia
from dflab.detect.cue_runner import DETECTOR_THREADS, run_detectors
from dflab.detect.evidence import Evidence
from dflab.detect.findings import Finding, OperatingPoint, file_verdict, finding_model, judge, timeline, verdict_line
from dflab.detect.keyframes import make_lean
from dflab.detect.models_used import models_used
from dflab.detect.registry import create_detector, list_detectors
from dflab.detect.result import ScanResult, TrackResult, shallow_summary  # noqa: F401 (re-exported)
from dflab.errors import DflabError, Unsupported
from dflab.heap import release_free_heap
from dflab.media.suffixes import VIDEO_SUFFIXES


@dataclass
class ScanOptions:
    detectors: list[str] | None = None  # None: every registered detector that applies to the media type
    policy: SamplingPolicy = field(default_factory=SamplingPolicy)
    limits: Limits = field(default_factory=Limits)
    max_faces: int = 4
    operating_point: OperatingPoint = field(default_factory=OperatingPoint)  # false-alarm rates of the verdicts
    progress: Callable[[str], None] | None = None  # called with each stage name, for progress bars
    frame_done: Callable[[], None] | None = None  # called once per analysed frame (decode + faces)
    reference_voice: Path | None = None  # compared with the file's voice by the speaker_match detector
    detector_threads: int = DETECTOR_THREADS  # detectors run side by side on this many threads (detect/cue_runner.py); 1: in turn
    # The lab's issued watermark payloads (provenance/issued.lab_candidates), tested by the watermark cue when
    # its mark does not decode blindly (watermark/informed.py); empty: blind decoding only
    watermark_candidates: tuple = ()
    # Models that hold the GIL run for a video in child processes started with the scan, beside the scan's threads
    # (dflab/worker_process.py): the identity embeddings (dlib, 60-90 ms a face) and the face-crop network (importing
    # torch). The same values. False: all in this process (a Scanner passes False after warm() or its first scan:
    # children load their models again for every scan, which only the one scan of a fresh process hides).
    model_processes: bool = True


_END = object()


class _Cancelled(Exception):
    """Raised inside the decoder thread when the face stage has given up."""


def decode_and_find_faces(path: Path, options: ScanOptions, watch: _Stopwatch, observed=None, planned=None,
                          frames_ahead=None, key_frame_copies=None):  # fmt: skip
    """Decode and find faces at the same time: a background thread decodes while the faces of the
    frames already decoded are found. Both stages spend their time in native code that releases the
    GIL (FFmpeg, OpenCV, MediaPipe), so on two cores they overlap instead of adding up. `observed(rgb,
    observations)` sees each video frame with faces while its pixels are at hand (analyse_frames).
    `planned`: the detectors that may run (None: any), to skip what none of them reads. `frames_ahead` (a
    detect.frames_ahead.FramesAhead) keeps, on the way, the frames the cues will read; `key_frame_copies` (a
    detect.key_frame_copies.KeyFrameCopies) small copies for the key frames."""
    from dflab.faces import analyse
    from dflab.faces.analyse import EMBED_EVERY_S, analyse_frames
    from dflab.media import load

    frames: queue.Queue = queue.Queue(maxsize=32)  # bounded: decoding may run ahead, not away
    stop = threading.Event()
    outcome: dict = {}

    def hand_over(item) -> bool:
        """Queue an item unless the face stage has stopped listening (then nobody would take it)."""
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def sink(frame) -> None:
        if not hand_over(frame):
            raise _Cancelled

    def decode() -> None:
        with watch.time("decode"):
            try:
                # Frames stream through: only a few stay in memory, with the per-frame features the cues that
                # read every frame need (media/frame_store.py); any other frame is decoded again on request.
                outcome["media"] = load(path, policy=options.policy, limits=options.limits, frame_sink=sink,
                                        keep_frames=False, frame_features=streamed_frame_features(),
                                        grey_run=grey_run_side())
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc
            finally:
                hand_over(_END)

    def stream():
        while (frame := frames.get()) is not _END:
            yield frame

    def observe(rgb, observations) -> None:
        for watcher in watchers:
            watcher(rgb, observations)

    watchers = [w for w in (observed, frames_ahead) if w is not None]

    worker = threading.Thread(target=decode, name="dflab-decode", daemon=True)
    worker.start()
    try:
        with watch.time("faces"):
            tick = (lambda done, total: options.frame_done()) if options.frame_done else None
            # Identity embeddings come later (`_examine`), from frames decoded with the cues' in one pass.
            frame_stream = stream()
            if key_frame_copies is not None:
                frame_stream = key_frame_copies.stream(frame_stream)
            if frames_ahead is not None:
                frame_stream = frames_ahead.stream(frame_stream)
            tracks = analyse_frames(frame_stream, "video", max_faces=options.max_faces, progress=tick,
                                    face_rate_fps=options.policy.face_rate_fps,
                                    observed=observe if watchers else None,
                                    on_cut=frames_ahead.cut if frames_ahead is not None else None,
                                    embed_every_s=None)
    finally:
        stop.set()
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    media = outcome["media"]
    if media.media_type == "image":  # images never pass through the sink
        # Identity embeddings (dlib, ~60 ms a face) only for a cue that reads them on a picture: no cue does today.
        embed = EMBED_EVERY_S if _reads_identity_embeddings(planned, "image") else None
        with watch.time("faces"):
            tracks = analyse(media, max_faces=options.max_faces, embed_every_s=embed)
    return media, tracks


def _reads_identity_embeddings(planned: list | None, media_type: str) -> bool:
    """Whether a detector that may run on this media type reads the tracks' identity embeddings (its
    `reads_identity_embeddings`); with no plan (None), assume one does."""
    if planned is None:
        return True
    return any(getattr(d, "reads_identity_embeddings", False) and media_type in d.media_types for d in planned)


def streamed_frame_features() -> dict:
    """Per-frame values computed while a scan decodes, for the cues that read every frame (cuts, speed)."""
    from dflab.detect.cues.speed import SPEED_THUMB
    from dflab.shallow.cuts import CUT_THUMB, cut_thumb
    from dflab.shallow.speed_video import grey_thumbnail

    return {CUT_THUMB: cut_thumb, SPEED_THUMB: grey_thumbnail}


def grey_run_side() -> int:
    """The side of the grey thumbnails kept for each of a long clip's first decoded frames (up to 1,200), where
    the analysis frames are a few a second: re-timing shows only from one frame to the next (cues/speed.py)."""
    from dflab.shallow.speed_video import THUMB

    return THUMB


class _Stopwatch:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def time(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def applicable_detectors(media_type: str, names: list[str] | None) -> list:
    """Fresh instances of the named (default: every) detectors that examine this media type."""
    detectors = [create_detector(n) for n in (names or list_detectors())]
    return [d for d in detectors if media_type in d.media_types]


def scan_file(path: str | Path, options: ScanOptions | None = None) -> ScanResult:
    """Scan one file with the process-wide default Scanner (detectors and weights loaded once, thread-safe)."""
    from dflab.detect.scanner import default_scanner

    return default_scanner().scan(path, options=options)


def run_scan(path: str | Path, options: ScanOptions, detectors_for: Callable[[str], list],
             planned: list | None = None) -> ScanResult:  # fmt: skip
    """The pipeline for one file. `detectors_for(media_type)` gives the detector instances to run (they may
    be shared with scans in other threads: a detector keeps no state between calls). `planned`, the
    detectors that may run whatever the media type, says what the face stage should keep for them (None:
    assume every detector)."""
    notify = options.progress or (lambda stage: None)
    watch = _Stopwatch()
    started = time.perf_counter()
    # Started first, so their interpreters and models load while the file decodes.
    embedder, workers = _model_processes(Path(path), options, planned)
    try:
        return _scan_with(path, options, detectors_for, planned, watch, started, notify, embedder, workers)
    finally:
        _close_processes(embedder, workers)


def _model_processes(path: Path, options: ScanOptions, planned: list | None) -> tuple[object | None, dict]:
    """The child processes of a video's scan, when the options allow them (dflab/worker_process.py): one for the
    identity embeddings (faces.embedding_process) when a detector that may run reads them, and one for each
    planned video detector that can run its model apart (`start_process`), by detector name."""
    try:
        return _start_model_processes(path, options, planned)
    finally:
        from dflab.worker_process import close_unclaimed

        close_unclaimed()  # children the `dflab scan` command started early that this scan did not take


def _start_model_processes(path: Path, options: ScanOptions, planned: list | None) -> tuple[object | None, dict]:
    if not options.model_processes or path.suffix.lower() not in VIDEO_SUFFIXES:
        return None, {}
    embedder, workers = None, {}
    try:
        if _reads_identity_embeddings(planned, "video"):
            from dflab.faces.embedding_process import EmbeddingProcess

            embedder = EmbeddingProcess()
        for detector in planned or []:
            start = getattr(detector, "start_process", None)
            if callable(start) and "video" in detector.media_types and detector.name not in workers:
                workers[detector.name] = start()
    except BaseException:
        _close_processes(embedder, workers)
        raise
    return embedder, workers


def _close_processes(embedder, workers: dict) -> None:
    for process in [embedder, *workers.values()]:
        if process is not None:
            process.close()


def _scan_with(path: str | Path, options: ScanOptions, detectors_for: Callable[[str], list], planned: list | None,
               watch: _Stopwatch, started: float, notify: Callable[[str], None], embedder,
               workers: dict) -> ScanResult:  # fmt: skip
    notify("decode+faces")
    ahead = _aligned_ahead(planned)
    expected = _expected_frames(Path(path), options)
    keeper = _frames_ahead(Path(path), planned, expected, embedder)
    copies = _key_frame_copies(Path(path), expected)
    media, tracks = decode_and_find_faces(Path(path), options, watch, observed=ahead, planned=planned,
                                          frames_ahead=keeper, key_frame_copies=copies)
    kept = keeper.frames() if keeper is not None and media.media_type == "video" else {}
    keeper = None
    release_free_heap()  # the decoded frames' buffers are free now: hand their pages back before the cues
    if media.media_type == "audio" and Path(path).suffix.lower() in VIDEO_SUFFIXES:
        # A file sold as video with no picture is broken or mislabelled; say so rather than quietly
        # scanning only its voice (an .m4a/.wav of the same audio is scanned as audio).
        raise Unsupported(
            f"{path} is a {Path(path).suffix} file with only an audio stream: no video to scan "
            "(save the audio as .m4a or .wav to check the voice)"
        )
    detectors = detectors_for(media.media_type)
    if not detectors:
        what = "only an audio stream" if media.media_type == "audio" else f"media type {media.media_type}"
        raise Unsupported(f"{path} has {what}, and no selected detector examines that")
    subject = AnalysedMedia(media, tracks, reference_voice=options.reference_voice,
                            watermark_candidates=tuple(options.watermark_candidates),
                            workers={d.name: workers[d.name] for d in detectors if d.name in workers})  # fmt: skip
    if ahead is not None and len(ahead):
        from dflab.detect.cues.aligned import AHEAD_KEY

        subject.cache[AHEAD_KEY] = ahead
    try:
        return _examine(subject, detectors, options, watch, started, notify, kept, embedder, copies)
    finally:
        close = getattr(media.frames, "close", None)  # streamed frames hold the file open for re-decoding
        if close is not None:
            close()


def _aligned_ahead(planned: list | None):
    """A store for aligned face crops made during the face stage, when a detector will read them (its
    `reads_aligned_crops`): otherwise those crops would need every face frame decoded a second time."""
    if planned is not None and not any(getattr(d, "reads_aligned_crops", False) for d in planned):
        return None
    from dflab.detect.cues.aligned import AlignedAhead

    return AlignedAhead()


def _expected_frames(path: Path, options: ScanOptions) -> int:
    """How many analysis frames a video's decode will yield, from its header (0: not a video, sampled, unknown)."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return 0
    from dflab.detect.frames_ahead import expected_frames

    return expected_frames(path, options)


def _frames_ahead(path: Path, planned: list | None, expected: int, embedder=None):
    """A keeper of the frames the cues' prefetch pass will want, made while the face stage decodes a video
    (detect/frames_ahead.py), when a detector may read frames or identity embeddings. With an `embedder`
    (faces.embedding_process), the identity-embedding frames it foresees are handed to it at once."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return None
    if planned is not None and not any(getattr(d, "frames_wanted", None) is not None
                                       or getattr(d, "reads_identity_embeddings", False) for d in planned):
        return None
    from dflab.detect.frames_ahead import FramesAhead
    from dflab.faces.track import MAX_GAP_S

    # A clip sampled below its frame rate (over 20 s) foresees more frames than the budget: hold none for it.
    if not expected:
        return None
    return FramesAhead(expected, MAX_GAP_S, embeddings=_early_embeddings(embedder),
                       min_embeddings=_fewest_embeddings(planned or []) or 1)  # fmt: skip


def _early_embeddings(embedder):
    """What hands the embedding child a foreseen embedding frame during the face stage: the child sits idle then,
    and the face stage leaves part of a core unused. A chip that cannot be cut is left to the prefetch pass, which
    cuts it again only if its track is embedded (and then raises as before)."""
    if embedder is None:
        return None
    from dflab.errors import WorkerFailed
    from dflab.faces.analyse import early_key

    def hand_on(pos: int, rgb, obs) -> None:
        try:
            embedder.submit(early_key(obs), rgb, obs.box)
        except WorkerFailed:
            raise
        except Exception:  # noqa: BLE001 - see above: not every foreseen frame is embedded
            pass

    return hand_on


def _key_frame_copies(path: Path, expected: int):
    """Small copies of a video's frames for its key frames, made while the face stage decodes it
    (detect/key_frame_copies.py); a clip of unknown length starts with every frame and thins as it goes."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return None
    from dflab.detect.key_frame_copies import KeyFrameCopies
    from dflab.detect.keyframes import KEY_FRAME_MAX_SIDE

    return KeyFrameCopies(expected, KEY_FRAME_MAX_SIDE)


def _examine(subject: AnalysedMedia, detectors: list, options: ScanOptions, watch: _Stopwatch, started: float,
             notify: Callable[[str], None], kept: dict | None = None, embedder=None,
             copies=None) -> ScanResult:  # fmt: skip
    from dflab.faces.analyse import EMBED_EVERY_S, EmbeddingsAhead, embed_tracks

    # A streamed video's tracks still lack their identity embeddings (decode_and_find_faces): they are made
    # from their frames as the pass that decodes the frames the cues read goes by them (not kept: one frame a
    # second would grow with the clip), while the cues that read no frames already run. Only for a cue that
    # reads them, and only on tracks long enough for it to use (dlib, ~60 ms an embedding). With a child process
    # (`embedder`), the pass only hands it the face chips, and a cue that reads the embeddings waits for them.
    embedded = _tracks_to_embed(subject, detectors)
    ahead = EmbeddingsAhead(embedded, EMBED_EVERY_S, process=embedder) if embedded else None
    finished = threading.Lock()
    done: list[bool] = []

    def finish_embeddings() -> None:
        with finished:
            if done or not embedded:
                return
            with watch.time("embeddings"):  # the child's, and any the pass did not make (a frame not decoded again)
                embed_tracks(embedded, EMBED_EVERY_S, subject.media.frames.__getitem__, made=ahead.collect())
            done.append(True)

    def prepare() -> None:
        with watch.time("prefetch"):
            _prefetch_frames(subject, detectors, ahead, kept)
            for detector in detectors:  # models in child processes get their inputs now, and run beside the cues
                start_apart = getattr(detector, "start_apart", None)
                if callable(start_apart) and detector.name in subject.workers and subject.tracks:
                    start_apart(subject)
        if embedder is None:
            finish_embeddings()

    def before(detector) -> None:
        if getattr(detector, "reads_identity_embeddings", False):
            finish_embeddings()

    evidence = run_detectors(subject, detectors, watch.time, notify, options.detector_threads, prepare=prepare,
                             before=before)

    with watch.time("findings"):
        result = _judge(subject, evidence, options.operating_point)
    with watch.time("key_frames"):  # the result keeps a few small frames, no decoded media
        result = make_lean(result, subject, copies)
    result.timings = {**watch.timings, "total": time.perf_counter() - started}
    return result


def _tracks_to_embed(subject: AnalysedMedia, detectors: list) -> list:
    """The face tracks of a video whose identity embeddings a detector will read: none when no detector reads
    them, and only tracks that get at least as many as the least demanding reader uses (its
    `min_identity_embeddings`; identity drift ignores a track with fewer than three)."""
    from dflab.faces.analyse import EMBED_EVERY_S, embedding_positions

    fewest = _fewest_embeddings(detectors)
    if subject.media_type != "video" or fewest is None:
        return []
    return [t for t in subject.tracks
            if len(embedding_positions([o.time_s for o in t.observations], EMBED_EVERY_S)) >= fewest]


def _fewest_embeddings(detectors: list) -> int | None:
    """The fewest identity embeddings a track needs for any detector that reads them to use it (its
    `min_identity_embeddings`); None when none reads them."""
    readers = [d for d in detectors if getattr(d, "reads_identity_embeddings", False)]
    return min(int(getattr(d, "min_identity_embeddings", 1)) for d in readers) if readers else None


def _prefetch_frames(subject: AnalysedMedia, detectors: list, ahead=None, kept: dict | None = None) -> None:
    """Decode in one pass the frames the cues will read (`frames_wanted`), and hand the frames `ahead` (an
    EmbeddingsAhead) reads to it on the way, when the media streams its frames: otherwise each cue would
    decode the file again from the start for its own few frames. `kept`: first-pass pixels by position (the face
    stage's FramesAhead); the pass decodes only the frames missing from it."""
    try:
        _prefetch_into(subject, detectors, ahead, kept)
    finally:
        if kept:
            kept.clear()  # the caller holds the same dict: the pixels are not needed past this pass


def _prefetch_into(subject: AnalysedMedia, detectors: list, ahead, kept: dict | None) -> None:
    prefetch = getattr(subject.media.frames, "prefetch", None)
    if prefetch is None:
        return
    wanted: set[int] = set()
    for detector in detectors:
        frames_wanted = getattr(detector, "frames_wanted", None)
        if frames_wanted is not None and not (detector.needs_faces and not subject.tracks):
            wanted.update(frames_wanted(subject))
    visit = ahead.positions() if ahead is not None else []
    if wanted or visit:
        adopt = getattr(subject.media.frames, "adopt", None)
        if kept and adopt is not None:
            adopt(kept)
        try:
            prefetch(sorted(wanted), visit=visit, on_visit=ahead)
        except DflabError:  # a frame that cannot be decoded again: the cue that needs it says so itself
            subject.media.frames.release()


def _judge(subject: AnalysedMedia, evidence: list[Evidence], point: OperatingPoint) -> ScanResult:
    """Findings per kind of manipulation, the file's verdict from them, and a score per face track."""
    media = subject.media
    track_times = {t.track_id: t.time_range for t in subject.tracks}
    findings = judge(evidence, list(track_times), point, media.media_type, track_times)
    file_score, file_verdict_ = file_verdict(findings)
    face = next((f for f in findings if f.name == "face_manipulated" and f.score is not None), None)
    face_model = finding_model("face_manipulated", media.media_type)
    tracks = []
    for track in subject.tracks:
        score = face.track_scores.get(track.track_id, face.score) if face else 0.5
        first, last = track.observations[0], track.observations[-1]
        tracks.append(
            TrackResult(
                track_id=track.track_id,
                score=score,
                verdict=face_model.verdict(score, point) if face else "authentic",
                first_frame=media.frames[first.frame_pos].index,
                last_frame=media.frames[last.frame_pos].index,
                time_range=track.time_range,
                n_frames=len(track),
                box=first.box,
            )
        )
    times = subject.frame_times if media.frames else _evidence_times(evidence)
    curve = timeline(evidence, times, media.media_type) if len(times) else np.zeros(0)
    return ScanResult(
        path=media.path,
        media_type=media.media_type,
        score=file_score,
        verdict=file_verdict_,
        summary=_summary(media.media_type, findings, file_score, file_verdict_, tracks),
        faces=tracks,
        evidence=evidence,
        timings={},
        timeline_times=times if len(curve) else np.zeros(0),
        timeline_scores=curve,
        findings=findings,
        models=models_used(evidence, findings, media.media_type),
        operating_point=point,
    )


def _evidence_times(evidence: list[Evidence]) -> np.ndarray:
    """Without frames (an audio file), the timeline runs on the times the cues scored (e.g. 10 s speed windows)."""
    scored = [e.times for e in evidence if e.times is not None and "score" in e.series and e.confidence > 0]
    return np.unique(np.concatenate(scored)) if scored else np.zeros(0)

def _summary(media_type: str, findings: list[Finding], score: float, verdict: str, tracks: list[TrackResult]) -> str:
    line = verdict_line(findings, score, verdict)
    if media_type != "audio" and not tracks:
        return f"{line} No face found; only file-level cues were run."
    return f"{line} {len(tracks)} face track(s)." if tracks else line
