"""analyse(media) -> face tracks: landmarks in every analysed frame, linked over time, with identities.

The one entry point the detectors, the swap maker and the CLI use. Cost on this project's 2-core
machine: ~3 ms per frame for faces FaceMesh tracks by itself, a few ms more per small face found by
the detector path, plus ~58 ms per identity embedding (so embeddings are sparse: every
`embed_every_s` seconds of each track, plus its first and last observation).
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from dflab.errors import BadMedia, UsageError
from dflab.faces.detect import DEFAULT_MAX_SIDE, FoundFace, VideoFaceFinder, find_faces_in_image
from dflab.faces.identity import embed
from dflab.faces.shots import is_cut, thumbnail
from dflab.faces.track import MAX_GAP_S, link_tracks
from dflab.faces.types import FaceObservation, FaceTrack
from dflab.media.types import Frame, Media
from dflab.media.video import feature_pixels

EMBED_EVERY_S = 1.0  # seconds between identity embeddings along a track (plus its first and last)


def _check_frame(rgb: np.ndarray, pos: int) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise BadMedia(f"frame {pos} is not an HxWx3 RGB image (shape {getattr(rgb, 'shape', None)})")
    if rgb.dtype != np.uint8:
        raise BadMedia(f"frame {pos} has dtype {rgb.dtype}, expected uint8 RGB")


def _observation(face: FoundFace, pos: int, time_s: float, width: int, height: int) -> FaceObservation:
    x0, y0, x1, y1 = face.box
    box = (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))
    return FaceObservation(frame_pos=pos, time_s=time_s, box=box, landmarks=face.landmarks, score=face.score)


def embedding_positions(times: list[float], every_s: float) -> list[int]:
    """Indices of the observations to embed: the first, then one per `every_s` seconds, and the last."""
    if not times:
        return []
    chosen = [0]
    for i, t in enumerate(times):
        if t - times[chosen[-1]] >= every_s - 1e-9 and i != chosen[-1]:
            chosen.append(i)
    if chosen[-1] != len(times) - 1:
        chosen.append(len(times) - 1)
    return chosen


def find_observations(
    media: Media,
    max_faces: int = 4,
    max_side: int = DEFAULT_MAX_SIDE,
    progress: Callable[[int, int], None] | None = None,
    cuts: set[int] | None = None,
) -> list[list[FaceObservation]]:
    """Per analysed frame, the faces in it (no linking, no embeddings).

    Frame positions where a new shot starts are added to `cuts` when a set is given.
    """
    return _find_in_frames(media.frames, media.media_type, max_faces, max_side, progress, cuts, len(media.frames))


class FaceSchedule:
    """Which frames of a video the face finder looks at: at most `rate_fps` of them per second.

    A frame is looked at when at least one step (1 / rate_fps, less a fifth of it for timestamp jitter)
    has passed since the last one looked at, and always at a cut, so a new shot's faces start where it
    does. From a regular source this is a regular stride: every 2nd frame of 30 fps (and of 24/25 fps:
    12-12.5 fps) for 15 fps, every 4th of 60 fps. None looks at every frame.
    """

    def __init__(self, rate_fps: float | None) -> None:
        if rate_fps is not None and not rate_fps > 0:
            raise UsageError("the face analysis rate must be > 0 frames per second")
        self.step_s = 1.0 / rate_fps if rate_fps else 0.0
        self._last_s: float | None = None

    def look(self, time_s: float, cut: bool = False) -> bool:
        if self._last_s is None or cut or time_s < self._last_s or time_s - self._last_s >= 0.8 * self.step_s:
            self._last_s = time_s
            return True
        return False


def _find_in_frames(
    frames: Iterable[Frame],
    media_type: str,
    max_faces: int,
    max_side: int,
    progress: Callable[[int, int], None] | None,
    cuts: set[int] | None,
    total: int | None,
    face_rate_fps: float | None = None,
    observed: Callable[[np.ndarray, list[FaceObservation]], None] | None = None,
    on_cut: Callable[[int], None] | None = None,
) -> list[list[FaceObservation]]:
    per_frame: list[list[FaceObservation]] = []
    finder = None  # built with the first video frame: a picture scan's (empty) frame stream never needs one
    schedule = FaceSchedule(face_rate_fps)
    previous_thumb = None
    cut_pending = False  # a cut on a frame the finder skipped: the next frame it sees starts afresh
    try:
        for pos, frame in enumerate(frames):
            if media_type == "image":
                _check_frame(frame.rgb, pos)
                faces = find_faces_in_image(frame.rgb, max_faces, max_side)
            else:
                if finder is None:
                    finder = VideoFaceFinder(max_faces, max_side=max_side)
                # Shot changes are checked on every frame (a tiny thumbnail), so tracks still end at the cut. A
                # frame's whole pixels are read only when the finder looks at it: a streamed frame the schedule
                # skips is seen through its half-size copy and never converted to RGB (media.video.DecodedFrame).
                thumb = thumbnail(feature_pixels(frame))
                cut = is_cut(previous_thumb, thumb)
                previous_thumb = thumb
                if cut and cuts is not None:
                    cuts.add(pos)
                if cut and on_cut is not None:
                    on_cut(pos)
                cut_pending = cut_pending or cut
                if schedule.look(frame.time_s, cut=cut):
                    _check_frame(frame.rgb, pos)
                    faces = finder(frame.rgb, frame.time_s, cut=cut_pending)
                    cut_pending = False
                else:
                    faces = []
            found = [_observation(f, pos, frame.time_s, *frame.rgb.shape[1::-1]) for f in faces] if faces else []
            if observed is not None and found:
                observed(frame.rgb, found)
            per_frame.append(found)
            if progress is not None:
                progress(pos + 1, total or 0)
    finally:
        if finder is not None:
            finder.close()
    return per_frame


def analyse(
    media: Media,
    max_faces: int = 4,
    embed_every_s: float | None = EMBED_EVERY_S,
    min_track_len: int = 1,
    *,
    max_gap_s: float = MAX_GAP_S,
    max_side: int = DEFAULT_MAX_SIDE,
    progress: Callable[[int, int], None] | None = None,
    face_rate_fps: float | None = None,
) -> list[FaceTrack]:
    """Face tracks of a decoded image or video, longest first (track_id = rank, 0 = longest).

    Landmarks are (478, 3) pixels of the analysis frames. Each track gets 128-d dlib identity
    embeddings at its first and last observation and every `embed_every_s` seconds in between
    (embed_every_s=0 embeds every observation, math.inf first/last only, None none at all).
    Media without frames (audio) has no faces: []. `face_rate_fps` (scans use SamplingPolicy.face_rate_fps)
    looks for faces in at most that many frames per second (FaceSchedule); None: in every frame.
    """
    return analyse_frames(
        media.frames, media.media_type, max_faces, embed_every_s, min_track_len,
        max_gap_s=max_gap_s, max_side=max_side, progress=progress, total=len(media.frames),
        face_rate_fps=face_rate_fps,
    )  # fmt: skip


def analyse_frames(
    frames: Iterable[Frame],
    media_type: str,
    max_faces: int = 4,
    embed_every_s: float | None = EMBED_EVERY_S,
    min_track_len: int = 1,
    *,
    max_gap_s: float = MAX_GAP_S,
    max_side: int = DEFAULT_MAX_SIDE,
    progress: Callable[[int, int], None] | None = None,
    total: int | None = None,
    face_rate_fps: float | None = None,
    frame_at: Callable[[int], Frame] | None = None,
    observed: Callable[[np.ndarray, list[FaceObservation]], None] | None = None,
    on_cut: Callable[[int], None] | None = None,
) -> list[FaceTrack]:
    """`analyse` over frames that arrive one at a time (e.g. while a video is still decoding).

    The frames are consumed once; frame_pos in the result counts them from 0. With `face_rate_fps`,
    faces are looked for in at most that many frames per second (FaceSchedule); the other frames count
    in frame_pos and cut detection but carry no observation (a track then has observations on, e.g.,
    every 2nd frame of a 30 fps clip). None: every frame. The identity embeddings need a few frames again after
    tracking; `frame_at(frame_pos)` fetches them (e.g. from the StreamedFrames of the decoded media), otherwise
    every frame is kept until the end. `observed(rgb, observations)` is called for each frame with faces while its
    pixels are at hand, so a caller can keep what it needs from them (e.g. aligned face crops) instead of
    decoding the frame again later. `on_cut(frame_pos)` hears of each shot change as it is found (tracks end there).
    """
    if max_faces < 1:
        raise UsageError("max_faces must be at least 1")
    if embed_every_s is not None and not embed_every_s >= 0:  # also rejects NaN
        raise UsageError("embed_every_s must be >= 0 seconds")
    if min_track_len < 1:
        raise UsageError("min_track_len must be at least 1")
    seen: list[Frame] = []

    def remember(stream: Iterable[Frame]) -> Iterable[Frame]:
        for frame in stream:
            if frame_at is None and embed_every_s is not None:
                seen.append(frame)  # the identity embeddings below need a few of them again
            yield frame

    cuts: set[int] = set()
    per_frame = _find_in_frames(remember(frames), media_type, max_faces, max_side, progress, cuts, total,
                                face_rate_fps, observed, on_cut)
    linked = [obs for obs in link_tracks(per_frame, max_gap_s, cuts) if len(obs) >= min_track_len]
    linked.sort(key=lambda obs: (-len(obs), obs[0].frame_pos))
    tracks = [FaceTrack(track_id=i, observations=obs) for i, obs in enumerate(linked)]
    embed_tracks(tracks, embed_every_s, (lambda pos: seen[pos]) if frame_at is None else frame_at)
    return tracks


def embedding_frames(tracks: list[FaceTrack], embed_every_s: float | None) -> list[int]:
    """The frame positions `embed_tracks` reads, in frame order (a caller may decode them ahead, together)."""
    return sorted({obs.frame_pos for _, obs in _to_embed(tracks, embed_every_s)})


def embed_tracks(tracks: list[FaceTrack], embed_every_s: float | None, frame_at: Callable[[int], Frame],
                 made: dict[tuple[int, int], np.ndarray] | None = None) -> None:
    """Give each track its identity embeddings (see `analyse`); `frame_at(frame_pos)` gives the frames.
    `made` holds embeddings already computed, by (track id, frame position) (`EmbeddingsAhead.vectors`):
    their frames are not read again."""
    wanted = _to_embed(tracks, embed_every_s)
    # Embedded in frame order across tracks, so frames fetched again from the file come in one forward pass;
    # each track's embeddings are then stored in its own time order, as before.
    vectors = dict(made or {})
    for track, obs in sorted(wanted, key=lambda pair: pair[1].frame_pos):
        if (track.track_id, obs.frame_pos) not in vectors:
            vectors[(track.track_id, obs.frame_pos)] = embed(frame_at(obs.frame_pos).rgb, obs.box)
    for track, obs in wanted:
        track.embeddings[obs.frame_pos] = vectors[(track.track_id, obs.frame_pos)]


class EmbeddingsAhead:
    """The identity embeddings `embed_tracks` would make, made from each frame as a forward decode goes by it
    (`StreamedFrames.prefetch(visit=..., on_visit=...)`), so those frames (one a second along every track)
    are never all kept at once. Hand `vectors` to `embed_tracks(made=...)`, which fills in any it lacks.

    `process` (a faces.embedding_process.EmbeddingProcess): the frames' face chips are handed to it instead of
    described here, and `collect()` waits for its descriptors (the same values) and puts them in `vectors`. Those
    already handed to it during the face stage (under `early_key`, detect.frames_ahead) are not handed again, and
    their frames are not visited."""

    def __init__(self, tracks: list[FaceTrack], embed_every_s: float | None, process=None) -> None:
        self._by_pos: dict[int, list[tuple[int, FaceObservation]]] = {}
        self._early: dict[tuple[int, int], tuple] = {}  # (track id, frame position) -> its early key
        for track, obs in _to_embed(tracks, embed_every_s):
            if process is not None and process.submitted(early_key(obs)):
                self._early[(track.track_id, obs.frame_pos)] = early_key(obs)
            else:
                self._by_pos.setdefault(obs.frame_pos, []).append((track.track_id, obs))
        self.vectors: dict[tuple[int, int], np.ndarray] = {}
        self._process = process

    def positions(self) -> list[int]:
        return sorted(self._by_pos)

    def __call__(self, pos: int, rgb: np.ndarray) -> None:
        for track_id, obs in self._by_pos.get(pos, ()):
            if self._process is not None:
                self._process.submit((track_id, obs.frame_pos), rgb, obs.box)
            else:
                self.vectors[(track_id, obs.frame_pos)] = embed(rgb, obs.box)

    def collect(self) -> dict[tuple[int, int], np.ndarray]:
        """`vectors`, with every descriptor handed to the process so far (waits for them)."""
        if self._process is not None:
            made = self._process.results()
            self.vectors.update({key: made[key] for key in made if key[0] != EARLY})
            self.vectors.update({key: made[early] for key, early in self._early.items()})
        return self.vectors


EARLY = "early"


def early_key(obs: FaceObservation) -> tuple:
    """The key an identity embedding handed to the embedding process during the face stage goes by: what its
    descriptor depends on (the frame and the box), since the tracks are not final yet."""
    return (EARLY, obs.frame_pos, obs.box)


def _to_embed(tracks: list[FaceTrack], embed_every_s: float | None) -> list[tuple[FaceTrack, FaceObservation]]:
    return [(track, track.observations[i]) for track in (tracks if embed_every_s is not None else [])
            for i in embedding_positions([o.time_s for o in track.observations], embed_every_s)]
