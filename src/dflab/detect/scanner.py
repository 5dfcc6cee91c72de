"""Scanner: one set of detectors, loaded once, shared by every scan and safe to call from several threads.

    scanner = Scanner()            # every registered detector; or Scanner(["blink", "face_crop"])
    scanner.warm()                 # optional: load every model now instead of on the first file
    result = scanner.scan("clip.mp4", max_faces=2)

What makes sharing safe: detectors keep no state between calls (everything about one file lives in its
AnalysedMedia); MediaPipe graphs run one at a time under faces.models.MODEL_LOCK, which also guards the
muting of stderr; torch's process-wide thread count is chosen once (dflab.threads), not around each call.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from dflab.detect.registry import create_detector, list_detectors
from dflab.detect.result import ScanResult
from dflab.detect.scan import ScanOptions, run_scan
from dflab.errors import UsageError
from dflab.media.suffixes import AUDIO_SUFFIXES, OTHER_PICTURE_SUFFIXES, PICTURE_SUFFIXES, VIDEO_SUFFIXES
from dflab.threads import apply_torch_threads, request_torch_threads

DEFAULT_TORCH_THREADS = 1  # scans overlap decoding, face tracking and other scans with torch: one thread each
PER_CALL_OPTIONS = tuple(f.name for f in dataclasses.fields(ScanOptions))


class Scanner:
    """Scans files with a fixed set of detectors, each created once and reused for every file.

    detectors: names from `list_detectors()` (None: all of them; each file gets those that examine its
        media type).
    config: the default ScanOptions of every scan (sampling policy, limits, max_faces, operating point,
        reference voice); each `scan` call may override any of its fields.
    torch_threads: torch's intra-op thread count for this process, set once when this scanner first meets
        torch (None: leave it as the process has it).
    """

    def __init__(self, detectors: Iterable[str] | None = None, config: ScanOptions | None = None, *,
                 torch_threads: int | None = DEFAULT_TORCH_THREADS) -> None:
        if isinstance(detectors, str):
            detectors = [detectors]  # Scanner("blink") means the one detector, not five letters
        config = config or ScanOptions()
        names = list(detectors) if detectors is not None else config.detectors
        known = list_detectors()
        self._names = tuple(names) if names else tuple(known)
        _check_names(self._names, known)
        self.config = dataclasses.replace(config, detectors=list(self._names))
        self.torch_threads = torch_threads
        self._lock = threading.Lock()
        self._instances = {name: create_detector(name) for name in self._names}
        self._started = False
        self._warm = False
        self._scanned = False  # the first scan of a cold scanner runs the models that can run apart in children

    @property
    def detectors(self) -> tuple[str, ...]:
        """The detector names this scanner runs by default."""
        return self._names

    def warm(self) -> Scanner:
        """Load every model now (face models, detector weights), so the first file costs no start-up.

        Safe to call more than once and from several threads; returns the scanner for chaining."""
        self._start()
        with self._lock:
            if self._warm:
                return self
            from dflab.faces import models

            models.load_all(self.config.max_faces)
            for detector in self._instances.values():
                warm = getattr(detector, "warm", None)  # optional: detectors that load weights lazily
                if callable(warm):
                    warm()
            self._warm = True
        return self

    def scan(self, path: str | Path, options: ScanOptions | None = None, **overrides) -> ScanResult:
        """Scan one file. `overrides` are ScanOptions fields for this call only (e.g. max_faces=2,
        detectors=["blink"], reference_voice="voice.wav", progress=callback); `options` replaces the
        scanner's config as their base. Raises a DflabError subclass for input it cannot scan."""
        unknown = sorted(set(overrides) - set(PER_CALL_OPTIONS))
        if unknown:
            raise UsageError(f"unknown scan option(s) {', '.join(unknown)}; known: {', '.join(PER_CALL_OPTIONS)}")
        base = options if options is not None else self.config
        if "reference_voice" in overrides and overrides["reference_voice"] is not None:
            overrides["reference_voice"] = Path(overrides["reference_voice"])
        call = dataclasses.replace(base, **overrides)
        if (self._warm or self._scanned) and "model_processes" not in overrides:
            # Child processes load their models again for every scan: worth it for the one scan of a fresh process
            # (they load beside its decode), not for a series, where this process loads them once.
            call = dataclasses.replace(call, model_processes=False)
        self._scanned = True
        names = tuple(call.detectors) if call.detectors else self._names
        self._start()
        if "torch" in sys.modules:  # loaded since the last scan (by a detector of another author): set it now
            apply_torch_threads()
        detectors = self._detectors(names)
        media_type = likely_media_type(Path(path))
        # A video's scan runs the models that can run apart in child processes (ScanOptions.model_processes): they
        # load there, not here.
        apart = call.model_processes and media_type == "video"
        loading = self._load_weights_meanwhile([d for d in detectors if not (apart and _runs_apart(d))], media_type)

        def detectors_for(media_type: str) -> list:
            if loading is not None:
                loading.join()  # the weights the detectors need, loaded while the file decoded
            return [d for d in detectors if media_type in d.media_types]

        try:
            return run_scan(path, call, detectors_for, planned=detectors)
        finally:
            if loading is not None:
                loading.join()

    def _load_weights_meanwhile(self, detectors: list, media_type: str | None = None) -> threading.Thread | None:
        """Before the scanner is warm: a thread that loads the detectors' weights (importing torch, about a
        second) while the first file decodes and its faces are tracked, instead of after. None when warm.
        `media_type`, when the file's name tells it: only the detectors that examine it load theirs now (a voice
        recording does not import torch for the face-crop network); the others still load on first use."""
        if self._warm:
            return None
        lazy = [d for d in detectors if callable(getattr(d, "warm", None))
                and (media_type is None or media_type in d.media_types)]
        if not lazy:
            return None

        def load() -> None:
            for detector in lazy:
                try:
                    detector.warm()
                except Exception:  # noqa: BLE001 - the detector meets the same error again when it runs, and says so
                    pass

        thread = threading.Thread(target=load, name="dflab-load-weights", daemon=True)
        thread.start()
        return thread

    def _start(self) -> None:
        """Once per scanner: ask for its torch thread count (applied now if torch is loaded, else when a
        dflab torch model first loads; importing torch for a scan that needs none would cost seconds)."""
        if self._started:
            return
        with self._lock:
            if not self._started:
                if self.torch_threads is not None:
                    request_torch_threads(self.torch_threads)
                self._started = True

    def _detectors(self, names: tuple[str, ...]) -> list:
        """The cached instances for `names`, creating (once) any this scanner has not met yet."""
        missing = [n for n in names if n not in self._instances]
        if missing:
            _check_names(missing, list_detectors())
            with self._lock:
                for name in missing:
                    if name not in self._instances:
                        self._instances[name] = create_detector(name)
        return [self._instances[n] for n in names]

    def __repr__(self) -> str:
        return f"Scanner(detectors={list(self._names)!r}, warm={self._warm})"


def _runs_apart(detector) -> bool:
    """Whether a detector can run its model in a child process for a video (its `start_process`)."""
    return callable(getattr(detector, "start_process", None)) and "video" in detector.media_types


def _check_names(names: Iterable[str], known: list[str]) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown detector(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")


_default: Scanner | None = None
_default_lock = threading.Lock()


def default_scanner() -> Scanner:
    """The process-wide Scanner behind `dflab.scan` and `scan_file` (every detector; created on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Scanner()
    return _default


def likely_media_type(path: Path) -> str | None:
    """The media type a file's suffix promises (None: not known from the name). Only a hint for what to load
    early: the scan itself decides from the file's contents."""
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in PICTURE_SUFFIXES | OTHER_PICTURE_SUFFIXES:
        return "image"
    return "video" if suffix in VIDEO_SUFFIXES else None
