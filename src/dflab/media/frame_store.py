"""The analysis frames of a video without keeping their pixels: memory flat in duration.

A scan used to hold every analysis frame (600 frames of 720p for a minute of 1080p: about 1.7 GB, and more the
longer the clip). `StreamedFrames` is what `load(..., keep_frames=False)` puts in Media.frames instead: the
timestamps and frame types of all analysis frames, the pixels of the last few used (a small LRU cache), and a
re-decoder that brings any other frame back from the file when a cue asks for it.

It behaves as the list it replaces (len, indexing, slicing, iteration), so the cues keep indexing Media.frames;
its items carry index, time and frame type at once and read their pixels only when `.rgb` is asked for.
Access in increasing order (one face track after another, key frames, evenly spaced picks) is served by
decoding forward from where the last request stopped; a jump backwards or far ahead seeks to the key frame
before the wanted time and decodes forward from there, so no request decodes more than one group of pictures
plus the gap since the previous request. Re-decoded pixels are the same as the first time (same decoder, same
conversion, VideoDecoder.analysis_rgb).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dflab.config import Limits, SamplingPolicy
from dflab.errors import BadMedia
from dflab.media.container import StreamFacts, open_container, video_stream
from dflab.media.guards import media_errors
from dflab.media.types import Frame
from dflab.media.video import DecodedFrame, feature_pixels, half_size

CACHE_FRAMES = 12  # pixels kept in memory: a few key frames plus the neighbours of the last request
FORWARD_GAP_S = 4.0  # decoding forward is cheaper than seeking while the wanted frame is this close ahead
SEEK_BACK_S = (0.0, 10.0)  # seek this far before the wanted time, then from the start of the file
MATCH_TOLERANCE = 3.0  # mean grey difference (0-255) of the 8x8 signatures of a frame and its re-decoded copy
# Frames kept by `prefetch` for the cues about to run: about 530 MB of 720p at most, whatever the duration.
PREFETCH_MAX_FRAMES = 192
# While a long clip is sampled, a grey thumbnail of every decoded frame from the start is kept, up to this many:
# 20 s of 60 fps, 40 s of 30 fps (20 MB of 64x64 thumbnails).
RUN_MAX_FRAMES = 1200


class StreamedFrames(Sequence[Frame]):
    """Media.frames of a video decoded once and re-decoded on demand (see the module docstring)."""

    def __init__(self, path: Path, facts: StreamFacts, policy: SamplingPolicy, limits: Limits,
                 cache_frames: int = CACHE_FRAMES,
                 features: dict[str, Callable[[np.ndarray], Any]] | None = None) -> None:  # fmt: skip
        self.path = Path(path)
        # Small per-frame results computed from each frame's pixels while they are at hand (`feature(name)`), for
        # cues that read every frame: reading them back from the file would be another whole decode.
        self._feature_fns = dict(features or {})
        self._features: dict[str, list] = {name: [] for name in self._feature_fns}
        # The run: a grey thumbnail of every decoded frame from the first, kept or not (`add_to_run`, fed by the
        # decoder), so that a long clip analysed at a few frames a second still has one stretch of consecutive
        # frames for the patterns that are frame-to-frame (re-timing: `consecutive_run`).
        self._run: list[np.ndarray] = []
        self._run_types: list[str] = []
        self.facts = facts
        self.policy = policy
        self.limits = limits
        self.cache_frames = max(1, cache_frames)
        self._index: list[int] = []
        self._time: list[float] = []
        self._type: list[str] = []
        self._signature: list[np.ndarray] = []  # what each frame looked like, to check its re-decoded copy
        self._half_signatures = False  # signatures made from half-size copies (video.feature_pixels)
        # Pixels, or a frame of the first pass whose RGB conversion waits until it is read (video.DecodedFrame).
        self._cache: OrderedDict[int, Any] = OrderedDict()
        self._pinned: dict[int, np.ndarray] = {}  # frames fetched ahead by `prefetch`, kept until `release`
        self._adopted: dict[int, np.ndarray] = {}  # first-pass pixels kept for `prefetch` (`adopt`), until it runs
        self._cursor: _Cursor | None = None
        self._seek_ok = True  # some files decode garbage after a seek (open GOPs): then always from the start
        self.redecoded = 0  # frames decoded again on request (for benchmarks)
        # (height, width, 3) of every analysis frame, set by the loader once the first decode is done: a cue that
        # only needs the frame's size (to warp a heat map onto it) must not decode a frame again for it.
        self.frame_shape: tuple[int, int, int] | None = None
        # One decoder cursor and one cache, shared by cues that may run on several threads (detect/cue_runner.py).
        self._lock = threading.RLock()

    # --- filled while the first decode runs ------------------------------------------------------------

    def add(self, frame: Frame) -> None:
        pos = len(self._index)
        self._index.append(frame.index)
        self._time.append(frame.time_s)
        self._type.append(frame.pict_type)
        # The features read a half-size copy of large frames (made from the decoder's planes), so a frame nobody
        # reads whole is never converted to RGB at full size (video.DecodedFrame).
        pixels = feature_pixels(frame)
        if pos == 0:  # every frame of a stream has the same size, so the same kind of signature
            self._half_signatures = getattr(frame, "small", None) is not None
        self._signature.append(signature(pixels))
        for name, fn in self._feature_fns.items():
            self._features[name].append(fn(pixels))
        self._remember(pos, frame if isinstance(frame, DecodedFrame) else frame.rgb)

    def add_to_run(self, thumbnail: np.ndarray, pict_type: str) -> None:
        """The next decoded frame's grey thumbnail (VideoDecoder.run_sink), while the run has room."""
        if len(self._run) < RUN_MAX_FRAMES:
            self._run.append(thumbnail)
            self._run_types.append(pict_type)

    def consecutive_run(self) -> tuple[np.ndarray, list[str]] | None:
        """(grey thumbnails, frame types) of every decoded frame from the first (at most RUN_MAX_FRAMES), for a
        clip whose analysis frames skip some; None when there is no run (or it was dropped with the features)."""
        with self._lock:
            if not self._run:
                return None
            return np.stack(self._run), list(self._run_types)

    def feature(self, name: str) -> list | None:
        """The per-frame values of a feature computed while decoding (None: not computed for these frames)."""
        values = self._features.get(name)
        return list(values) if values is not None else None

    def drop_features(self) -> None:
        """Forget the per-frame features (once the cues that read them have run): they grow with the number of
        analysis frames. A later `feature(name)` is None, so a reader falls back to the frames themselves."""
        with self._lock:
            self._feature_fns.clear()
            self._features.clear()
            self._run.clear()
            self._run_types.clear()

    # --- the list interface ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self[i] for i in range(*item.indices(len(self)))]
        pos = int(item)
        if pos < 0:
            pos += len(self)
        if not 0 <= pos < len(self):
            raise IndexError("frame position out of range")
        return StreamedFrame(self, pos)

    def __iter__(self) -> Iterator[Frame]:
        for pos in range(len(self)):
            yield self[pos]

    def times(self) -> np.ndarray:
        """Every analysis frame's time in seconds, without touching pixels."""
        return np.array(self._time, dtype=np.float64)

    def close(self) -> None:
        with self._lock:
            if self._cursor is not None:
                self._cursor.close()
                self._cursor = None
            self._cache.clear()
            self._pinned.clear()
            self._adopted.clear()

    def adopt(self, frames: dict[int, np.ndarray]) -> None:
        """Pixels of the first pass kept by the caller (detect/frames_ahead.py), for the next `prefetch` to use
        instead of decoding those frames again; it forgets the ones it did not use."""
        with self._lock:
            self._adopted = {int(pos): rgb for pos, rgb in frames.items() if 0 <= int(pos) < len(self)}

    def prefetch(self, positions, visit: Iterable[int] = (),
                 on_visit: Callable[[int, np.ndarray], None] | None = None) -> int:
        """Decode, in one forward pass, the frames that several cues are about to ask for, and keep them until
        `release()`. Each cue reading its few frames on its own would decode the file again from the start;
        the pixels are the same either way. At most PREFETCH_MAX_FRAMES are kept (the earliest): the
        rest are decoded on request as before. Returns how many frames are now kept.

        The `visit` positions are decoded in the same pass and handed to `on_visit(pos, rgb)` in frame order
        without being kept: a reader that needs each frame once (the identity embeddings, about one frame per
        second of face) costs no memory that grows with the clip's length that way."""
        with self._lock:
            wanted = sorted({int(p) for p in positions if 0 <= int(p) < len(self)} - set(self._pinned))
            room = max(0, PREFETCH_MAX_FRAMES - len(self._pinned))
            keep = set(wanted[:room])
            seen = {int(p) for p in visit if 0 <= int(p) < len(self)} if on_visit is not None else set()
            try:
                for pos in sorted(keep | seen):
                    rgb = self._adopted.get(pos)
                    if rgb is None:
                        rgb = self._rgb(pos)
                    if pos in keep:
                        self._pinned[pos] = rgb
                    if pos in seen:
                        on_visit(pos, rgb)
            finally:
                self._adopted = {}
            return len(self._pinned)

    def held(self, pos: int) -> np.ndarray | None:
        """The pixels `prefetch` holds for this position, without decoding anything; None when it holds none."""
        with self._lock:
            return self._pinned.get(int(pos))

    def held_positions(self) -> set[int]:
        """The positions whose pixels `prefetch` holds."""
        with self._lock:
            return set(self._pinned)

    def release(self) -> None:
        """Forget the frames kept by `prefetch`."""
        with self._lock:
            self._pinned.clear()

    # --- pixels ----------------------------------------------------------------------------------------

    def _remember(self, pos: int, rgb: np.ndarray) -> None:
        self._cache[pos] = rgb
        self._cache.move_to_end(pos)
        while len(self._cache) > self.cache_frames:
            self._cache.popitem(last=False)

    def _rgb(self, pos: int) -> np.ndarray:
        with self._lock:
            return self._rgb_unlocked(pos)

    def _rgb_unlocked(self, pos: int) -> np.ndarray:
        pinned = self._pinned.get(pos)
        if pinned is not None:
            return pinned
        found = self._cache.get(pos)
        if found is not None:
            self._cache.move_to_end(pos)
            if isinstance(found, DecodedFrame):
                found = self._cache[pos] = found.rgb
            return found
        wanted = self._time[pos]
        cursor = self._cursor
        if cursor is not None and cursor.last_time < wanted and (wanted <= cursor.last_time + FORWARD_GAP_S
                                                                 or not self._seek_ok):  # fmt: skip
            rgb = self._checked(pos, cursor.forward_to(wanted, self._frame_tolerance()))
            if rgb is not None:
                return self._keep(pos, rgb)
        for back_s in (SEEK_BACK_S if self._seek_ok else ()) + (None,):
            self._reopen(None if back_s is None else max(0.0, wanted - back_s))
            rgb = self._checked(pos, self._cursor.forward_to(wanted, self._frame_tolerance()))
            if rgb is not None:
                return self._keep(pos, rgb)
            self._seek_ok = False
        raise BadMedia(f"{self.path}: the frame at {wanted:.3f} s could not be decoded again")

    def _checked(self, pos: int, rgb: np.ndarray | None) -> np.ndarray | None:
        """The re-decoded pixels if they look like the frame did the first time (never hand out another frame)."""
        if rgb is None:
            return None
        seen = signature(half_size(rgb) if self._half_signatures else rgb)
        difference = np.abs(seen.astype(np.int16) - self._signature[pos].astype(np.int16)).mean()
        return rgb if difference <= MATCH_TOLERANCE else None

    def _keep(self, pos: int, rgb: np.ndarray) -> np.ndarray:
        self.redecoded += 1
        self._remember(pos, rgb)
        return rgb

    def _frame_tolerance(self) -> float:
        fps = self.facts.fps
        return 0.25 / fps if fps > 0 else 1e-3

    def _reopen(self, seek_to_s: float | None) -> None:
        if self._cursor is not None:
            self._cursor.close()
        self._cursor = _Cursor(self.path, self.facts, self.policy, self.limits, seek_to_s)


def signature(rgb: np.ndarray) -> np.ndarray:
    """8x8 grey means of a frame (64 bytes): enough to tell a frame from another, or from decoder garbage."""
    import cv2

    step = max(1, min(rgb.shape[0], rgb.shape[1]) // 64)
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[::step, ::step]), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (8, 8), interpolation=cv2.INTER_AREA)


class StreamedFrame:
    """A Frame whose timestamps are at hand and whose pixels are fetched when `.rgb` is read."""

    __slots__ = ("_owner", "_pos", "index", "time_s", "pict_type")

    def __init__(self, owner: StreamedFrames, pos: int) -> None:
        self._owner, self._pos = owner, pos
        self.index = owner._index[pos]
        self.time_s = owner._time[pos]
        self.pict_type = owner._type[pos]

    @property
    def rgb(self) -> np.ndarray:
        return self._owner._rgb(self._pos)

    def __repr__(self) -> str:
        return f"StreamedFrame(index={self.index}, time_s={self.time_s:.3f}, pict_type={self.pict_type!r})"


class _Cursor:
    """An open decoder positioned at some time, converting only the frame that is asked for."""

    def __init__(self, path: Path, facts: StreamFacts, policy: SamplingPolicy, limits: Limits,
                 seek_to_s: float | None) -> None:  # fmt: skip
        from dflab.media.video import VideoDecoder

        self.path = path
        self.converter = VideoDecoder(path, facts, policy, limits)  # its analysis_rgb: the same pixels as the first pass
        self.container = open_container(path)
        self.last_time = -1.0
        with media_errors(path, "read the video again"):
            stream = video_stream(self.container)
            if stream is None:
                raise BadMedia(f"{path} has no video stream")
            stream.thread_type = "AUTO"
            self.start_pts = stream.start_time
            self.time_base = stream.time_base
            if seek_to_s is not None and self.time_base is not None:
                offset = int(seek_to_s / float(self.time_base)) + int(self.start_pts or 0)
                self.container.seek(offset, stream=stream, backward=True, any_frame=False)
            self.frames = self.container.decode(stream)

    def forward_to(self, wanted: float, tolerance: float) -> np.ndarray | None:
        """The analysis pixels of the frame shown at `wanted` seconds, or None if the decoder passed it."""
        fps = self.converter.facts.fps
        with media_errors(self.path, "decode the video again"):
            for frame in self.frames:
                time_s = self.converter.time_s(frame, 0, self.start_pts, self.time_base, fps)
                self.last_time = time_s
                if abs(time_s - wanted) <= tolerance:
                    return self.converter.analysis_rgb(frame)
                if time_s > wanted + tolerance:
                    return None
        return None

    def close(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a broken container must not mask the real outcome
            pass
