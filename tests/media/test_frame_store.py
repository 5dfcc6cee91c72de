"""Streamed frames (load(..., keep_frames=False)): the same frames as a full load, few pixels in memory, any frame
brought back from the file on request, also from files that decode garbage after a seek."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.media import load
from dflab.media.check import checked_facts
from dflab.media.frame_store import CACHE_FRAMES, StreamedFrames
from dflab.media.video import DecodedFrame, VideoDecoder, half_size, wants_half_size

CLIPS = {
    # a talking face with sound: seeking to a key frame gives the frame back exactly
    "liveportrait": "liveportrait/assets/examples/driving/d3.mp4",
    # FaceForensics++ c23: a seek lands on frames that decode as garbage, so frames come back from the start
    "ffpp": "ffpp/original_sequences/youtube/c23/videos/519.mp4",
}


def iter_frames_lazily(path):
    from dflab.config import Limits, SamplingPolicy

    facts, _ = checked_facts(path, Limits())
    return VideoDecoder(path, facts, SamplingPolicy(), Limits(), lazy_rgb=True)


@pytest.fixture(scope="module", params=sorted(CLIPS))
def both(request, shared_data):
    path = shared_data / CLIPS[request.param]
    kept = load(path, with_audio=False)
    streamed = load(path, with_audio=False, keep_frames=False, frame_features={"mean": lambda rgb: float(rgb.mean())})
    yield kept, streamed
    streamed.frames.close()


def test_streamed_frames_are_the_frames_of_a_full_load(both) -> None:
    kept, streamed = both
    frames = streamed.frames
    assert isinstance(frames, StreamedFrames) and len(frames) == len(kept.frames) > 50
    assert [f.index for f in frames] == [f.index for f in kept.frames]
    assert [f.time_s for f in frames] == [f.time_s for f in kept.frames]
    assert [f.pict_type for f in frames] == [f.pict_type for f in kept.frames]
    n = len(frames)
    # forward, far ahead, backwards, the last one, the first one again: every pattern the cues use
    for pos in (n // 2, n // 2 + 1, n // 2 + 7, n - 1, 3, 0, n // 3, n // 2 - 20, n - 2, 1):
        assert np.array_equal(frames[pos].rgb, kept.frames[pos].rgb), pos
    assert len(frames._cache) <= CACHE_FRAMES  # the pixels in memory stay bounded
    assert frames.redecoded > 0


def test_the_frame_shape_is_known_without_decoding_a_frame(both) -> None:
    kept, streamed = both
    frames = streamed.frames
    redecoded = frames.redecoded
    assert frames.frame_shape == kept.frames[len(kept.frames) // 2].rgb.shape
    assert frames.redecoded == redecoded


def test_per_frame_features_are_computed_while_decoding(both) -> None:
    kept, streamed = both
    means = streamed.frames.feature("mean")
    assert means is not None and len(means) == len(kept.frames)
    # Large frames (d3: 512x512) are read through a half-size copy made from the decoder's planes; smaller ones
    # (FF++ 480p) whole. The copy holds the same area means, up to a rounding of the colour conversion.
    expected = [(half_size(f.rgb) if wants_half_size(f.rgb.shape[1], f.rgb.shape[0]) else f.rgb).mean()
                for f in kept.frames]
    assert np.allclose(means, expected, atol=0.5)
    assert streamed.frames.feature("absent") is None


def test_frames_nobody_reads_whole_are_not_converted(shared_data) -> None:
    # A streamed 720p frame carries a half-size copy for the every-frame features; its full RGB conversion waits
    # until its pixels are read, and then gives the pixels a full load gives.
    path = shared_data / "liveportrait/assets/examples/source/s32.mp4"
    decoded = list(iter_frames_lazily(path))
    assert all(isinstance(f, DecodedFrame) and f.small is not None and f._rgb is None for f in decoded)
    assert decoded[0].small.shape == (360, 640, 3)
    kept = load(path, with_audio=False)
    assert np.array_equal(decoded[5].rgb, kept.frames[5].rgb)
    assert np.abs(decoded[5].small.astype(np.int16) - half_size(kept.frames[5].rgb)).mean() < 1.0


def test_slices_and_negative_positions(both) -> None:
    kept, streamed = both
    tail = streamed.frames[-3:]
    assert [f.index for f in tail] == [f.index for f in kept.frames[-3:]]
    assert np.array_equal(streamed.frames[-1].rgb, kept.frames[-1].rgb)
    with pytest.raises(IndexError):
        streamed.frames[len(kept.frames)]


def test_mutated_videos_stream_or_refuse(shared_data, tmp_path) -> None:
    """Damaged files: the streamed load and every frame read back from the file give pixels or a DflabError."""
    from dflab.config import Limits, SamplingPolicy
    from dflab.errors import DflabError
    from dflab.eval.fuzz import mutants

    policy, limits = SamplingPolicy(max_side=96), Limits(max_analysis_frames=40)
    corpus = {"ffpp.mp4": shared_data / CLIPS["ffpp"], "talk.mp4": shared_data / CLIPS["liveportrait"]}
    outcomes = {"read": 0, "refused": 0}
    for mutant in mutants(corpus, 60, seed=5):
        path = tmp_path / f"{mutant.name}{mutant.suffix}"
        path.write_bytes(mutant.data)
        try:
            media = load(path, policy=policy, limits=limits, with_audio=False, keep_frames=False)
            n = len(media.frames)
            for pos in (n - 1, 0, n // 2):
                assert media.frames[pos].rgb.ndim == 3
            media.frames.close()
            outcomes["read"] += 1
        except DflabError as exc:
            assert str(exc) and "\n" not in str(exc)
            outcomes["refused"] += 1
        path.unlink()
    # Both outcomes occur. Most flips land in frame data, which the decoder flags as concealed damage and the
    # check refuses (docs/validation.md); 3 of these 60 still decode cleanly (at least 5 did before that rule).
    assert outcomes["read"] >= 3 and outcomes["refused"] >= 5, outcomes


def test_prefetch_keeps_the_same_pixels_and_releases_them(both) -> None:
    kept, streamed = both
    frames = streamed.frames
    n = len(frames)
    wanted = [n - 1, 0, n // 2, n // 3, n // 2]  # out of order and repeated, as several cues would ask
    assert frames.prefetch(wanted) == 4
    before = frames.redecoded
    for pos in wanted:
        assert np.array_equal(frames[pos].rgb, kept.frames[pos].rgb), pos
    assert frames.redecoded == before  # served from the kept frames, no decoding
    frames.release()
    assert frames._pinned == {}


def test_prefetch_hands_visited_frames_over_in_order_without_keeping_them(both) -> None:
    kept, streamed = both
    frames = streamed.frames
    n = len(frames)
    seen = []
    pinned = frames.prefetch([n // 2], visit=[n - 1, 1, n // 2, 1], on_visit=lambda pos, rgb: seen.append((pos, rgb)))
    assert pinned == 1 and set(frames._pinned) == {n // 2}  # visited frames are not kept
    assert [pos for pos, _ in seen] == [1, n // 2, n - 1]  # once each, in frame order
    for pos, rgb in seen:
        assert np.array_equal(rgb, kept.frames[pos].rgb), pos
    frames.release()


def test_prefetch_decodes_only_the_frames_it_was_not_handed(both) -> None:
    """Pixels kept from the first pass (`adopt`, detect/frames_ahead.py) are used as they are; only the rest
    is decoded again, and the handed-over pixels are let go once the pass is through."""
    kept, streamed = both
    frames = streamed.frames
    n = len(frames)
    frames.release()
    frames._cache.clear()  # nothing left over from the tests before
    handed = {p: kept.frames[p].rgb for p in (2, n // 3, n - 2)}
    frames.adopt(handed)
    seen = []
    before = frames.redecoded
    frames.prefetch([2, n - 2], visit=[n // 3], on_visit=lambda pos, rgb: seen.append(pos))
    assert frames.redecoded == before  # everything was handed over: nothing decoded
    assert seen == [n // 3] and frames._adopted == {}
    assert frames[n - 2].rgb is handed[n - 2]
    frames.adopt({2: kept.frames[2].rgb})
    frames.prefetch([2, n // 2 + 1])  # one frame missing: decoded again, the same pixels
    assert frames.redecoded == before + 1
    assert np.array_equal(frames[n // 2 + 1].rgb, kept.frames[n // 2 + 1].rgb)
    frames.release()


def test_threads_reading_at_once_each_get_their_own_frames(both) -> None:
    """Cues on two threads share one StreamedFrames (detect/cue_runner.py): one cursor, served in turn."""
    import threading

    kept, streamed = both
    frames = streamed.frames
    n = len(frames)
    picks = {"forward": [n // 4, n // 4 + 3, n // 2, n - 1], "backward": [n - 5, n // 3, 10, 2]}
    wrong: list = []

    def read(name: str) -> None:
        for pos in picks[name]:
            if not np.array_equal(frames[pos].rgb, kept.frames[pos].rgb):
                wrong.append((name, pos))

    threads = [threading.Thread(target=read, args=(name,)) for name in picks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_dropped_features_read_as_not_computed(tmp_path):
    from dflab.config import Limits, SamplingPolicy
    from dflab.media.frame_store import StreamedFrames

    frames = StreamedFrames(tmp_path / "none.mp4", None, SamplingPolicy(), Limits(), features={"mean": lambda rgb: rgb.mean()})
    assert frames.feature("mean") == []
    frames.drop_features()
    assert frames.feature("mean") is None


def test_a_sampled_clip_keeps_a_grey_thumbnail_of_every_decoded_frame(shared_data):
    """A clip over 20 s is analysed at a few frames a second; with `grey_run` a grey thumbnail of every decoded
    frame from the first is still kept (the speed cue's frame-to-frame patterns), made from the luma plane: the
    grey of the analysis frame's RGB up to rounding."""
    from dflab.media.frame_store import RUN_MAX_FRAMES
    from dflab.shallow.speed_video import grey_thumbnail

    long_clip = load(shared_data / "liveportrait/assets/examples/driving/d6.mp4", with_audio=False,
                     keep_frames=False, grey_run=64)
    frames = long_clip.frames
    decoded = long_clip.meta["decoded_frames"]
    assert long_clip.meta["sampled_rate_fps"] is not None and len(frames) < decoded // 2  # sampled
    thumbs, types = frames.consecutive_run()
    assert thumbs.shape == (min(decoded, RUN_MAX_FRAMES), 64, 64) and len(types) == len(thumbs) > 900
    for frame in frames[:20]:
        assert types[frame.index] == frame.pict_type
        assert np.abs(thumbs[frame.index] - grey_thumbnail(frame.rgb)).mean() < 0.5
    frames.drop_features()
    assert frames.consecutive_run() is None
    # every frame of a short clip is analysed: no separate run
    short = load(shared_data / CLIPS["liveportrait"], with_audio=False, keep_frames=False, grey_run=64)
    assert short.frames.consecutive_run() is None
