"""Helpers for the face tests: small Media builders over the shared real data (PyAV / cv2 decode)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dflab.media.types import Frame, Media


def image_media(path: Path) -> Media:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return rgb_media(rgb, path)


def rgb_media(rgb: np.ndarray, path: Path = Path("synthetic.png")) -> Media:
    h, w = rgb.shape[:2]
    return Media(path=path, media_type="image", frames=[Frame(0, 0.0, rgb)], fps=0.0, duration_s=0.0, width=w, height=h)


def video_media(path: Path, max_frames: int) -> Media:
    import av

    frames: list[Frame] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        for frame in container.decode(stream):
            frames.append(Frame(len(frames), float(frame.time), frame.to_ndarray(format="rgb24")))
            if len(frames) >= max_frames:
                break
    h, w = frames[0].rgb.shape[:2]
    return Media(path=path, media_type="video", frames=frames, fps=fps, duration_s=frames[-1].time_s, width=w, height=h)


@pytest.fixture(scope="session")
def obama_face(shared_data):
    """(rgb, landmarks) of a large frontal face, found once per session."""
    from dflab.faces.analyse import analyse

    media = image_media(shared_data / "face_recognition/examples/obama.jpg")
    tracks = analyse(media, max_faces=1, embed_every_s=1e9)
    assert len(tracks) == 1
    return media.frames[0].rgb, tracks[0].observations[0].landmarks
