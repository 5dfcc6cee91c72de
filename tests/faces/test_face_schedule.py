"""Faces on a subset of frames: which frames the face finder sees, and that the face cues do not change.

Scans track faces in at most SamplingPolicy.face_rate_fps frames per second (docs/performance.md) while the
cues that need consecutive frames (speed, cuts' picture change) still get every frame.
"""

import numpy as np
import pytest

from dflab.config import SamplingPolicy
from dflab.detect.cues.blink import blink_stats
from dflab.errors import UsageError
from dflab.faces import analyse
from dflab.faces.analyse import FaceSchedule
from dflab.faces.types import FaceObservation, FaceTrack
from dflab.media import load
from dflab.shallow.continuity import face_steps


def looked_at(fps: float, rate: float | None, n: int = 24, cuts: tuple[int, ...] = ()) -> list[int]:
    schedule = FaceSchedule(rate)
    return [i for i in range(n) if schedule.look(i / fps, cut=i in cuts)]


@pytest.mark.parametrize(("fps", "stride"), [(30.0, 2), (29.97, 2), (25.0, 2), (24.0, 2), (60.0, 4), (15.0, 1), (10.0, 1)])
def test_regular_sources_get_a_regular_stride(fps, stride):
    assert looked_at(fps, 15.0) == list(range(0, 24, stride))


def test_no_rate_looks_at_every_frame():
    assert looked_at(30.0, None) == list(range(24))


def test_a_cut_is_looked_at_and_restarts_the_stride():
    assert looked_at(30.0, 15.0, n=10, cuts=(5,)) == [0, 2, 4, 5, 7, 9]


def test_time_going_backwards_is_looked_at():
    schedule = FaceSchedule(15.0)
    assert [schedule.look(t) for t in (1.0, 1.033, 0.5, 0.533)] == [True, False, True, False]


def test_rate_must_be_positive():
    with pytest.raises(UsageError):
        FaceSchedule(0.0)
    with pytest.raises(UsageError):
        SamplingPolicy(face_rate_fps=-1.0)


def _observation(pos: int, shift: float) -> FaceObservation:
    rng = np.random.default_rng(0)
    points = np.zeros((478, 3), np.float32)
    points[:, :2] = rng.uniform(100, 200, (478, 2))
    points[:, 0] += shift
    return FaceObservation(frame_pos=pos, time_s=pos / 30, box=(100 + shift, 100, 200 + shift, 200), landmarks=points)


def test_face_steps_over_gaps_are_per_frame_and_placed_where_the_picture_changed():
    # The face moves 2 px per frame, observed on every 2nd frame; between frames 6 and 8 it jumps 20 px more,
    # and the picture changed most into frame 7: that is where the step (and its broken inertia) belongs.
    positions = list(range(0, 16, 2))
    track = FaceTrack(0, [_observation(p, 2.0 * p + (20.0 if p >= 8 else 0.0)) for p in positions])
    picture = np.full(16, 0.01)
    picture[7] = 0.5
    steps = face_steps([track], 16, picture)
    measured = sorted(np.flatnonzero(np.isfinite(steps.displacement)))
    assert measured == [1, 3, 5, 7, 9, 11, 13]  # a tie in picture change: the first transition of the gap
    steady, jump = steps.displacement[5], steps.displacement[7]
    assert jump > 5 * steady
    assert steps.acceleration[7] > 5 * np.nanmax(np.delete(steps.acceleration, [7, 5, 9]))


def test_face_steps_at_full_rate_pair_consecutive_frames():
    track = FaceTrack(0, [_observation(p, 2.0 * p) for p in range(8)])
    steps = face_steps([track], 8)
    assert np.isnan(steps.displacement[0]) and np.all(np.isfinite(steps.displacement[1:]))
    assert np.nanmax(steps.acceleration) == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def s32(shared_data):
    return load(shared_data / "liveportrait/assets/examples/source/s32.mp4")  # 1280x720, 30 fps, 6 s, blinks


def test_faces_are_found_on_every_second_frame_of_a_30_fps_clip(s32):
    track = max(analyse(s32, embed_every_s=None, face_rate_fps=15.0), key=len)
    positions = [o.frame_pos for o in track.observations]
    assert len(s32.frames) == 180  # every frame stays decoded for the full-rate cues
    assert positions == list(range(0, 180, 2))


def test_blinks_at_15_fps_match_blinks_at_30_fps(s32):
    # s32 blinks five times (at 0.1, 1.0, 2.2, 5.2 and 5.8 s); the same blinks must be found at either rate.
    full = blink_stats(max(analyse(s32, embed_every_s=None), key=len)).blinks
    half = blink_stats(max(analyse(s32, embed_every_s=None, face_rate_fps=15.0), key=len)).blinks
    assert len(full) == 5
    assert len(half) == len(full)
    for (a0, a1), (b0, b1) in zip(full, half):
        assert abs(a0 - b0) <= 0.1 and abs(a1 - b1) <= 0.1


def test_the_detector_looks_for_newcomers_less_often_while_a_face_is_followed(s32, monkeypatch):
    # s32 shows one face throughout: once FaceMesh follows it, the full-range detector runs every 0.5 s and its
    # tiled scan every 2 s (instead of every 0.25 s and 1 s while no face is known).
    from dflab.faces import detect

    calls: list[tuple[float, bool]] = []
    real = detect._add_from_detections
    clock = {"t": 0.0}

    def counted(rgb, faces, max_faces, tiles):
        calls.append((clock["t"], tiles))
        return real(rgb, faces, max_faces, tiles)

    monkeypatch.setattr(detect, "_add_from_detections", counted)
    with detect.VideoFaceFinder(max_faces=4) as finder:
        for frame in s32.frames[::2]:
            clock["t"] = frame.time_s
            assert len(finder(frame.rgb, frame.time_s)) == 1
    tiled = np.array([t for t, tiles in calls if tiles])
    assert tiled.tolist() == [0.0, 2.0, 4.0]
    gaps = [t - calls[i - 1][0] for i, (t, tiles) in enumerate(calls) if i and not tiles]
    assert min(gaps) >= 0.5 - 1e-9  # a plain look waits half a second since the last look of either kind
    assert len(calls) == 12  # 6 s of video (24 while no face was known: every 0.25 s)
