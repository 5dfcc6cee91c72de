"""Frames foreseen during the face stage (detect/frames_ahead.py): the positions the cues and the identity
embeddings later read are kept from the first decode, so the prefetch pass of a short clip decodes nothing."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from dflab.detect.frames_ahead import EMBED_STEP_S, FACE_STEPS_S, SPREAD_COUNTS, FramesAhead, spread_positions
from dflab.detect.learned.face_crop import FaceCropDetector, sample_observations
from dflab.faces.analyse import EMBED_EVERY_S, embedding_positions
from dflab.faces.track import MAX_GAP_S
from dflab.faces.types import FaceObservation, FaceTrack


class _Frame:
    def __init__(self, pos: int, time_s: float) -> None:
        self.rgb = np.full((4, 4, 3), pos % 256, np.uint8)
        self.time_s = time_s


def _observe(keeper: FramesAhead, n_frames: int, fps: float, face_frames: list[int]) -> list[FaceObservation]:
    """Stream n frames through the keeper; faces (one per frame) on `face_frames`, as the face stage reports them."""
    observations = []
    faces = set(face_frames)
    for pos, frame in enumerate(keeper.stream(_Frame(p, p / fps) for p in range(n_frames))):
        if pos in faces:
            obs = FaceObservation(frame_pos=pos, time_s=frame.time_s, box=(0, 0, 2, 2), landmarks=np.zeros((478, 3)))
            observations.append(obs)
            keeper(frame.rgb, [obs])
    return observations


def _read_later(observations: list[FaceObservation], n_frames: int) -> set[int]:
    """What the prefetch pass asks for: face_crop's samples and the embeddings' frames of the track, and the
    file-level cues' spread frames."""
    track = FaceTrack(track_id=0, observations=observations)
    wanted = {observations[i].frame_pos for i in sample_observations(track, 2.0, 48)}
    wanted |= {observations[i].frame_pos for i in embedding_positions([o.time_s for o in observations], EMBED_EVERY_S)}
    return wanted | spread_positions(n_frames)


@pytest.mark.parametrize("step", [1, 2, 3])  # faces looked for in every frame, every 2nd (30 -> 15 fps), every 3rd
def test_the_frames_read_later_are_all_kept_for_one_face(step: int) -> None:
    n = 300
    keeper = FramesAhead(expected=n, max_gap_s=MAX_GAP_S)
    observations = _observe(keeper, n, 30.0, list(range(0, n, step)))
    kept = keeper.frames()
    wanted = _read_later(observations, n)
    assert wanted <= set(kept)
    assert len(kept) <= 48
    assert all(np.array_equal(kept[p], np.full((4, 4, 3), p % 256, np.uint8)) for p in wanted)


def test_a_face_that_leaves_and_returns_keeps_both_tracks_frames() -> None:
    n = 300
    keeper = FramesAhead(expected=n, max_gap_s=MAX_GAP_S)
    first = list(range(10, 120, 2))  # then two seconds without a face: the linker starts a new track
    second = list(range(181, 290, 2))
    observations = _observe(keeper, n, 30.0, first + second)
    kept = set(keeper.frames())
    for part in (observations[: len(first)], observations[len(first):]):
        assert _read_later(part, n) <= kept


def test_a_wrong_frame_count_still_keeps_the_face_frames() -> None:
    """The container's count is a guess: a miss costs a decode of the spread frames, never a wrong pixel."""
    keeper = FramesAhead(expected=250, max_gap_s=MAX_GAP_S)
    observations = _observe(keeper, 300, 30.0, list(range(0, 300, 2)))
    kept = keeper.frames()
    track = FaceTrack(track_id=0, observations=observations)
    assert {observations[i].frame_pos for i in sample_observations(track, 2.0, 48)} <= set(kept)
    assert {0, 299} <= set(kept)  # the first and last frames are always foreseen


def test_more_frames_than_the_budget_keeps_nothing() -> None:
    """A long clip would need more than the budget: the keeper lets go of all of it (decoded again as before)."""
    keeper = FramesAhead(expected=3000, max_gap_s=MAX_GAP_S, budget=48)
    _observe(keeper, 3000, 30.0, list(range(0, 3000, 2)))
    assert keeper.frames() == {} and keeper.overflowed


def test_the_foreseen_steps_and_counts_are_the_cues_own() -> None:
    """If a cue changes how it samples, the keeper must follow (or every scan decodes twice again)."""
    from dflab.detect.cues import spectrum, watermark
    from dflab.detect.learned import picture_frames

    rate = inspect.signature(FaceCropDetector.__init__).parameters["rate_per_s"].default
    assert 1.0 / rate in FACE_STEPS_S and EMBED_STEP_S == EMBED_EVERY_S and EMBED_STEP_S in FACE_STEPS_S
    assert set(SPREAD_COUNTS) == {watermark.FRAMES_PER_VIDEO, spectrum.FRAMES_PER_VIDEO, picture_frames.FRAMES_PER_VIDEO}


def test_two_faces_and_a_cut_keep_every_tracks_frames() -> None:
    """Tracks followed as the linker links them: a second face joins mid-clip, a shot change ends both."""
    from dflab.faces.track import link_tracks

    n, fps, cut = 300, 30.0, 200
    keeper = FramesAhead(expected=n, max_gap_s=MAX_GAP_S)
    per_frame: list[list[FaceObservation]] = []
    for pos, frame in enumerate(keeper.stream(_Frame(p, p / fps) for p in range(n))):
        if pos == cut:
            keeper.cut(pos)
        found = []
        if pos % 2 == 0:
            found.append(FaceObservation(pos, frame.time_s, (10, 10, 60, 60), np.zeros((478, 3))))
            if pos >= 100:
                found.append(FaceObservation(pos, frame.time_s, (200, 10, 250, 60), np.zeros((478, 3))))
        if found:
            keeper(frame.rgb, found)
        per_frame.append(found)
    kept = set(keeper.frames())
    tracks = link_tracks(per_frame, MAX_GAP_S, {cut})
    assert len(tracks) == 4  # each face before and after the cut
    for observations in tracks:
        assert _read_later(observations, n) <= kept


@pytest.mark.parametrize("step", [1, 2, 3])
def test_the_embedding_frames_are_handed_on_once_each_as_they_stream(step: int) -> None:
    """A face that leaves and returns: each track's embedding frames (its first, one a second, its last) are handed
    on with their own pixels, once each, and no other frame is."""
    n = 300
    handed: list[tuple[int, int]] = []
    keeper = FramesAhead(expected=n, max_gap_s=MAX_GAP_S,
                         embeddings=lambda pos, rgb, obs: handed.append((pos, int(rgb[0, 0, 0]))))  # fmt: skip
    first, second = list(range(10, 120, step)), list(range(181, 290, step))
    observations = _observe(keeper, n, 30.0, first + second)
    keeper.frames()  # the end of the clip ends the second track: its last frame is handed on then
    expected = []
    for part in (observations[: len(first)], observations[len(first):]):
        times = [o.time_s for o in part]
        expected += [part[i].frame_pos for i in embedding_positions(times, EMBED_EVERY_S)]
    assert sorted(pos for pos, _ in handed) == sorted(expected) and len(set(handed)) == len(handed)
    assert all(value == pos % 256 for pos, value in handed)


def test_a_track_too_short_to_be_embedded_hands_on_nothing() -> None:
    """With min_embeddings=3 (identity drift's minimum): a 0.8 s face has 2 embedding frames (its first and last:
    never embedded) and hands on none; a 4 s face hands on all of its own, the first ones once its third is seen."""
    n = 300
    handed: list[int] = []
    keeper = FramesAhead(expected=n, max_gap_s=MAX_GAP_S, min_embeddings=3,
                         embeddings=lambda pos, rgb, obs: handed.append(pos))  # fmt: skip
    short, long = list(range(0, 25, 2)), list(range(150, 270, 2))  # 0.8 s, then (after a gap) 4 s
    observations = _observe(keeper, n, 30.0, short + long)
    keeper.frames()
    times = [o.time_s for o in observations[len(short):]]
    expected = [observations[len(short) + i].frame_pos for i in embedding_positions(times, EMBED_EVERY_S)]
    assert len(embedding_positions([o.time_s for o in observations[: len(short)]], EMBED_EVERY_S)) == 2
    assert handed == expected and len(expected) >= 3
