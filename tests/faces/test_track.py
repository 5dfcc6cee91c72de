"""Track linking, cut detection and the embedding schedule: pure functions on synthetic inputs."""

from __future__ import annotations

import numpy as np

from dflab.faces.analyse import embedding_positions
from dflab.faces.shots import is_cut, thumbnail
from dflab.faces.track import link_tracks, match_cost
from dflab.faces.types import FaceObservation

LM = np.zeros((478, 3), np.float32)


def _obs(pos: int, box, fps: float = 30.0) -> FaceObservation:
    return FaceObservation(frame_pos=pos, time_s=pos / fps, box=tuple(map(float, box)), landmarks=LM)


def test_two_moving_faces_stay_apart():
    frames = []
    for i in range(40):  # face A moves right, face B moves left; they never swap identities
        a = (10 + 3 * i, 50, 60 + 3 * i, 100)
        b = (300 - 3 * i, 60, 350 - 3 * i, 110)
        frames.append([_obs(i, b), _obs(i, a)] if i % 2 else [_obs(i, a), _obs(i, b)])
    tracks = link_tracks(frames)
    assert len(tracks) == 2
    for track in tracks:
        assert len(track) == 40
        xs = [o.box[0] for o in track]
        assert np.all(np.diff(xs) == xs[1] - xs[0])  # monotonic, constant step: never jumped to the other face


def test_gap_longer_than_limit_splits_and_short_gap_does_not():
    box = (100, 100, 150, 150)
    frames = [[_obs(i, box)] if (i < 10 or i >= 13) else [] for i in range(20)]  # 0.1 s gap
    assert [len(t) for t in link_tracks(frames)] == [17]
    frames = [[_obs(i, box)] if (i < 10 or i >= 30) else [] for i in range(40)]  # 0.67 s gap
    assert [len(t) for t in link_tracks(frames)] == [10, 10]


def test_cut_ends_every_track():
    box = (100, 100, 150, 150)
    frames = [[_obs(i, box)] for i in range(20)]
    assert [len(t) for t in link_tracks(frames, cuts={8})] == [8, 12]


def test_match_cost_rejects_far_or_rescaled_boxes():
    assert np.isfinite(match_cost((0, 0, 50, 50), (5, 0, 55, 50)))
    assert not np.isfinite(match_cost((0, 0, 50, 50), (200, 0, 250, 50)))
    assert not np.isfinite(match_cost((0, 0, 50, 50), (0, 0, 150, 150)))


def test_embedding_positions_known_answers():
    times = [i / 30 for i in range(60)]
    assert embedding_positions(times, 1.0) == [0, 30, 59]
    assert embedding_positions(times, float("inf")) == [0, 59]
    assert embedding_positions(times[:1], 1.0) == [0]
    assert embedding_positions(times[:5], 0.0) == [0, 1, 2, 3, 4]
    assert embedding_positions([], 1.0) == []


def test_cut_detector_separates_cuts_from_motion():
    import cv2

    rng = np.random.default_rng(0)

    def scene() -> np.ndarray:  # smooth random "picture" at 720p: blobs of light and dark
        small = (rng.random((18, 32, 3)) * 255).astype(np.uint8)
        return cv2.resize(small, (1280, 720), interpolation=cv2.INTER_CUBIC)

    scene_a, scene_b = scene(), scene()
    shifted = np.roll(scene_a, 6, axis=1)  # a small camera pan
    inset = scene_a.copy()
    inset[:200, :300] = scene_b[:200, :300]  # picture-in-picture change, ~8% of the frame
    ta = thumbnail(scene_a)
    assert ta.shape == (36, 64) and ta.dtype == np.float32
    assert is_cut(ta, thumbnail(scene_b))
    assert not is_cut(ta, thumbnail(shifted))
    assert not is_cut(ta, thumbnail(inset))
    assert not is_cut(None, ta)
