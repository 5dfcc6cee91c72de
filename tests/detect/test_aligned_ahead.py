"""Aligned face crops made while the faces are found are the crops made later from the frames themselves."""

from __future__ import annotations

import dataclasses

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.cues.aligned import AHEAD_KEY, AlignedAhead, align_track
from dflab.faces.analyse import analyse_frames
from dflab.media.types import Frame, Media


def _first_frames(path, count: int) -> Media:
    import av

    frames: list[Frame] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            frames.append(Frame(len(frames), float(frame.time), frame.to_ndarray(format="rgb24")))
            if len(frames) >= count:
                break
    h, w = frames[0].rgb.shape[:2]
    return Media(path=path, media_type="video", frames=frames, fps=30.0, duration_s=frames[-1].time_s,
                 width=w, height=h)


class _CountingFrames(list):
    """Media.frames that counts pixel reads, to show the crops made ahead need no frame again."""

    reads = 0

    def __getitem__(self, pos):
        _CountingFrames.reads += 1
        return super().__getitem__(pos)


def test_crops_made_while_finding_faces_equal_crops_from_the_frames(shared_data):
    media = _first_frames(shared_data / "liveportrait/assets/examples/source/s32.mp4", 24)
    ahead = AlignedAhead()
    tracks = analyse_frames(iter(media.frames), "video", max_faces=2, embed_every_s=None, face_rate_fps=15.0,
                            observed=ahead)
    assert tracks and len(ahead) == sum(len(t) for t in tracks) >= 10  # every 2nd of 24 frames has the face

    later = align_track(AnalysedMedia(media, tracks), tracks[0])
    counting = dataclasses.replace(media, frames=_CountingFrames(media.frames))
    subject = AnalysedMedia(counting, tracks)
    subject.cache[AHEAD_KEY] = ahead
    made = align_track(subject, tracks[0])
    assert _CountingFrames.reads == 0
    assert len(ahead) == sum(len(t) for t in tracks[1:])  # the first track's crops now live in its AlignedTrack only
    assert np.array_equal(made.crops, later.crops)
    assert np.array_equal(made.matrices, later.matrices)
    assert np.array_equal(made.points, later.points)
    assert np.array_equal(made.frame_pos, later.frame_pos)


def test_an_observation_without_a_crop_made_ahead_is_aligned_from_its_frame(shared_data):
    media = _first_frames(shared_data / "liveportrait/assets/examples/source/s32.mp4", 8)
    tracks = analyse_frames(iter(media.frames), "video", max_faces=1, embed_every_s=None, face_rate_fps=None)
    subject = AnalysedMedia(media, tracks)
    subject.cache[AHEAD_KEY] = AlignedAhead()  # empty: nothing made ahead
    made = align_track(subject, tracks[0])
    assert made.crops.shape == (len(tracks[0]), 128, 128, 3) and made.crops.std() > 10
