"""Identity embeddings made as a decode pass goes by their frames are the ones embed_tracks makes itself."""

from __future__ import annotations

import copy

import numpy as np

from dflab.faces.analyse import EmbeddingsAhead, analyse_frames, embed_tracks
from .conftest import video_media



def test_embeddings_made_in_passing_equal_those_read_from_the_frames(shared_data):
    frames = video_media(shared_data / "liveportrait/assets/examples/source/s32.mp4", 40).frames
    tracks = analyse_frames(iter(frames), "video", max_faces=1, embed_every_s=None, face_rate_fps=15.0)
    assert tracks
    every_s = 0.25  # several embeddings in these 1.3 s
    later = copy.deepcopy(tracks)
    embed_tracks(later, every_s, frames.__getitem__)

    ahead = EmbeddingsAhead(tracks, every_s)
    assert len(ahead.positions()) >= 4
    for pos in ahead.positions():  # what StreamedFrames.prefetch(visit=..., on_visit=ahead) does
        ahead(pos, frames[pos].rgb)
    reads = []
    embed_tracks(tracks, every_s, lambda pos: reads.append(pos) or frames[pos], made=ahead.vectors)
    assert reads == []  # every embedding was made in passing
    for made, read in zip(tracks, later, strict=True):
        assert sorted(made.embeddings) == sorted(read.embeddings)
        for pos, vector in read.embeddings.items():
            assert np.array_equal(made.embeddings[pos], vector), pos


def test_embeddings_the_pass_missed_are_read_from_their_frames(shared_data):
    frames = video_media(shared_data / "liveportrait/assets/examples/source/s32.mp4", 20).frames
    tracks = analyse_frames(iter(frames), "video", max_faces=1, embed_every_s=None, face_rate_fps=None)
    ahead = EmbeddingsAhead(tracks, 0.2)
    first = ahead.positions()[0]
    ahead(first, frames[first].rgb)  # the pass stopped after its first frame
    reads = []
    embed_tracks(tracks, 0.2, lambda pos: reads.append(pos) or frames[pos], made=ahead.vectors)
    assert reads == ahead.positions()[1:]
    assert all(len(t.embeddings) == len(ahead.positions()) for t in tracks[:1])
