"""Frames the cues will read, kept while the face stage has them, so a short clip is decoded once.

After the face stage, the cues' prefetch pass decodes the frames they declare (`frames_wanted`: a few frames spread
over the clip, face_crop's crops two a second along each track) and the identity embeddings' frames (one a second
along each track, and each track's last). Which frames those are depends on the tracks, known only once the whole
clip is through, but they can be foreseen while it streams: the spread positions from the number of frames the
container declares, the face frames by following the observed frames' times at the cues' steps. `FramesAhead`
keeps the foreseen frames' pixels (the first pass's own, so the same as a second decode gives), at most
`MAX_FRAMES_AHEAD` of them; the prefetch pass then decodes only what was not foreseen, and nothing when all was.
A wrong guess costs that second decode, never a different result. A clip with more foreseen frames than the budget
(long clips, many faces) drops what it kept and is decoded again as before, so memory stays flat in duration.

The foreseen identity-embedding frames can also be handed on at once (`embeddings`, called with the frame's position,
pixels and observation): a scan gives them to its embedding child, idle while the face stage runs, instead of after
it (faces.analyse.EmbeddingsAhead takes the descriptors made this way and makes only the rest). A track's frames are
held until it is sure to get `min_embeddings` of them: a shorter track is never embedded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from dflab.faces.types import FaceObservation

# About 130 MB of 720p: a 10 s clip with one face foresees ~35 frames. Beyond this the clip is decoded again.
MAX_FRAMES_AHEAD = 48
SPREAD_COUNTS = (8, 3)  # watermark's frames, and spectrum's / synthetic_image's (np.linspace over the clip)
EMBED_STEP_S = 1.0  # the identity embeddings' step (faces.analyse.EMBED_EVERY_S; a test holds them equal)
FACE_STEPS_S = (0.5, EMBED_STEP_S)  # face_crop's sampling step (2 a second) and the identity embeddings'


def expected_frames(path: Path, options) -> int:
    """How many analysis frames the decode will yield, from what the container declares (0: unknown). Only the
    header is read: the decode's own check reads the packets and reports a broken file."""
    from dflab.media.container import open_container, stream_facts
    from dflab.media.sampling import analysis_rate

    try:
        container = open_container(Path(path))
        try:
            facts = stream_facts(Path(path), container)
        finally:
            container.close()
    except Exception:  # noqa: BLE001 - the decode itself reports a broken file; a guess only saves time
        return 0
    if not facts.has_video or facts.fps <= 0:
        return 0
    rate = analysis_rate(facts.duration_s, facts.fps, options.policy, options.limits)
    if rate is None or rate >= facts.fps - 1e-6:
        return int(facts.declared_frames)
    return 0  # a sampled clip's count is not foreseen exactly enough to be worth holding frames for


def spread_positions(n: int, counts: Iterable[int] = SPREAD_COUNTS) -> set[int]:
    """The positions the file-level cues read in a clip of `n` frames (the same linspace they use)."""
    wanted: set[int] = set()
    for count in counts:
        if n:
            wanted.update(np.linspace(0, n - 1, min(count, n)).round().astype(int).tolist())
    return wanted


class FramesAhead:
    """Wraps the face stage's frame stream (`stream`), watches its observations (call it as `observed`) and its
    shot changes (`cut`), following the tracks as `faces.track.link_tracks` will link them."""

    def __init__(self, expected: int, max_gap_s: float, budget: int = MAX_FRAMES_AHEAD,
                 face_steps_s: tuple[float, ...] = FACE_STEPS_S, embeddings=None,
                 min_embeddings: int = 1) -> None:  # fmt: skip
        from dflab.faces.track import TrackLinker

        self._spread = spread_positions(expected)
        self._linker: TrackLinker | None = TrackLinker(max_gap_s)
        self._budget = budget
        self._steps = face_steps_s
        self._kept: dict[int, object] = {}  # position -> a frame (its .rgb read at the end) or RGB pixels
        self._last_frame: tuple[int, object] | None = None  # the clip's last frame (the spreads' last pick)
        # Per open track (by id): the time of its latest pick per step, and its latest frame (its last, once it ends).
        self._picks: dict[int, dict[float, float]] = {}
        self._latest: dict[int, tuple[int, np.ndarray, FaceObservation]] = {}
        self._closed_seen = 0
        self.overflowed = False
        self._embeddings = embeddings  # called as embeddings(pos, rgb, obs) for each foreseen embedding frame
        self._min_embeddings = min_embeddings
        # Per open track: its embedding frames while it may still be too short to embed; once it is not, the
        # position of the latest one handed on.
        self._held: dict[int, list[tuple[FaceObservation, np.ndarray]]] = {}
        self._handed: dict[int, int] = {}

    def stream(self, frames: Iterable) -> Iterator:
        for pos, frame in enumerate(frames):
            if pos in self._spread:
                self._keep(pos, frame)
            self._last_frame = (pos, frame)
            yield frame

    def cut(self, pos: int) -> None:
        if self._linker is not None:
            self._linker.cut()
            self._end_closed()

    def __call__(self, rgb: np.ndarray, observations: list[FaceObservation]) -> None:
        if self._linker is None:
            return
        joined = self._linker.add(observations)
        self._end_closed()
        for obs, track in zip(observations, joined):
            key = id(track)
            picks = self._picks.get(key)
            if picks is None:  # a track starts: its first observation is read (embeddings, face_crop)
                self._picks[key] = {step: obs.time_s for step in self._steps}
                self._keep(obs.frame_pos, rgb)
                self._embed(key, obs, rgb)
            else:
                picked = False
                for step in self._steps:
                    if obs.time_s - picks[step] >= step - 1e-9:
                        picks[step] = obs.time_s
                        picked = True
                        if step == EMBED_STEP_S:
                            self._embed(key, obs, rgb)
                if picked:
                    self._keep(obs.frame_pos, rgb)
            if self.overflowed:
                return
            self._latest[key] = (obs.frame_pos, rgb, obs)

    def frames(self) -> dict[int, np.ndarray]:
        """The kept pixels by frame position (empty after an overflow); the stream must be through."""
        if self._linker is not None:
            self._linker.cut()  # the end of the clip ends every track
            self._end_closed()
        if self._last_frame is not None:
            self._keep(*self._last_frame)
        kept = {} if self.overflowed else {pos: getattr(item, "rgb", item) for pos, item in self._kept.items()}
        self._forget()
        return kept

    def __len__(self) -> int:
        return len(self._kept)

    def _end_closed(self) -> None:
        """Tracks the linker has closed since the last look: their last observation's frame is read."""
        closed = self._linker.closed
        for track in closed[self._closed_seen:]:
            latest = self._latest.pop(id(track), None)
            self._picks.pop(id(track), None)
            if latest is not None:
                pos, rgb, obs = latest
                self._keep(pos, rgb)
                self._embed(id(track), obs, rgb)
            self._held.pop(id(track), None)
            self._handed.pop(id(track), None)
        self._closed_seen = len(closed)

    def _embed(self, key: int, obs: FaceObservation, rgb: np.ndarray) -> None:
        """An embedding frame of track `key` (its first, a step's pick or its last; the last may also be the latest
        pick): handed on once, as soon as the track has `min_embeddings` of them."""
        if self._embeddings is None:
            return
        if key in self._handed:
            if self._handed[key] != obs.frame_pos:
                self._handed[key] = obs.frame_pos
                self._embeddings(obs.frame_pos, rgb, obs)
            return
        held = self._held.setdefault(key, [])
        if held and held[-1][0].frame_pos == obs.frame_pos:
            return
        held.append((obs, rgb))
        if len(held) >= self._min_embeddings:
            for frame_obs, frame_rgb in self._held.pop(key):
                self._embeddings(frame_obs.frame_pos, frame_rgb, frame_obs)
            self._handed[key] = obs.frame_pos

    def _keep(self, pos: int, item) -> None:
        if self.overflowed or pos in self._kept:
            return
        if len(self._kept) >= self._budget:
            self.overflowed = True  # a second decode is needed anyway: hold nothing more for it
            self._forget()
            return
        self._kept[pos] = item

    def _forget(self) -> None:
        self._kept = {}
        self._latest = {}
        self._picks = {}
        self._held = {}
        self._handed = {}
        self._last_frame = None
        self._linker = None
