"""Identity embeddings described in a child process: the same vectors as in this process, and a child that fails
or hangs becomes one WorkerFailed error (one line and exit 2 from `dflab scan`), never a hang."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from dflab.errors import WorkerFailed
from dflab.faces.analyse import EmbeddingsAhead, analyse_frames, embed_tracks
from dflab.faces.embedding_process import EmbeddingProcess
from dflab.faces.identity import embed
from .conftest import video_media

FAILING_CHILD = [sys.executable, "-c", "import sys; print('ImportError: no dlib in this child', file=sys.stderr); "
                 "sys.exit(1)"]  # fmt: skip
SILENT_CHILD = [sys.executable, "-c", "import time; time.sleep(60)"]



def test_the_child_gives_the_vectors_this_process_gives(shared_data):
    frames = video_media(shared_data / "liveportrait/assets/examples/source/s32.mp4", 30).frames
    tracks = analyse_frames(iter(frames), "video", max_faces=1, embed_every_s=None, face_rate_fps=15.0)
    assert tracks
    every_s = 0.25
    ahead_here = EmbeddingsAhead(tracks, every_s)
    with EmbeddingProcess() as process:
        ahead_child = EmbeddingsAhead(tracks, every_s, process=process)
        for pos in ahead_here.positions():
            ahead_here(pos, frames[pos].rgb)
            ahead_child(pos, frames[pos].rgb)
        assert ahead_child.vectors == {}  # handed over, not described here
        made = ahead_child.collect()
    assert len(made) >= 4 and sorted(made) == sorted(ahead_here.vectors)
    for key, vector in ahead_here.vectors.items():
        assert made[key].dtype == np.float32 and np.array_equal(made[key], vector), key
    obs = tracks[0].observations[0]
    assert np.array_equal(made[(0, obs.frame_pos)], embed(frames[obs.frame_pos].rgb, obs.box))
    embed_tracks(tracks, every_s, frames.__getitem__, made=made)
    assert len(tracks[0].embeddings) == len(made)


def test_a_failing_child_becomes_one_error_with_its_reason(shared_data):
    frames = video_media(shared_data / "liveportrait/assets/examples/source/s32.mp4", 1).frames
    tracks = analyse_frames(iter(frames), "video", max_faces=1, embed_every_s=None)
    with EmbeddingProcess(command=FAILING_CHILD) as process:
        process.submit("first", frames[0].rgb, tracks[0].observations[0].box)
        with pytest.raises(WorkerFailed, match="identity embeddings.*no dlib in this child"):
            process.results()


def test_a_silent_child_times_out_and_is_killed():
    rgb = np.zeros((200, 200, 3), np.uint8)
    process = EmbeddingProcess(command=SILENT_CHILD, no_reply_timeout_s=0.5)
    started = time.monotonic()
    try:
        process.submit("first", rgb, (50.0, 50.0, 150.0, 150.0))
        with pytest.raises(WorkerFailed, match="stopped answering"):
            process.results()
    finally:
        process.close()
    assert time.monotonic() - started < 20
    assert process._worker._child.returncode is not None  # reaped


def test_scan_says_one_line_and_exits_2_when_the_child_fails(shared_data, monkeypatch, capsys):
    from dflab.cli.main import main
    from dflab.faces import embedding_process

    monkeypatch.setattr(embedding_process, "worker_command", lambda: FAILING_CHILD)
    clip = shared_data / "liveportrait/assets/examples/driving/d0.mp4"
    code = main(["scan", str(clip), "--json", "--detectors", "identity_drift,blink"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "no dlib in this child" in err and "Traceback" not in err
