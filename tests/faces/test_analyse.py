"""analyse() on real media: detector boxes and landmarks vs hand-drawn annotations, tracking, bad input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from dflab.errors import BadMedia, UsageError
from dflab.faces import analyse
from dflab.faces.detect import box_iou
from dflab.media.types import Frame, Media

from .conftest import image_media, rgb_media, video_media

# 68-point iBUG index -> MediaPipe index: eye corners, nose tip, mouth corners
IBUG_TO_MESH = {36: 33, 39: 133, 42: 362, 45: 263, 30: 1, 48: 61, 54: 291}


def _annotations(folder: Path) -> dict[str, list[tuple[tuple[int, int, int, int], dict[int, tuple[float, float]]]]]:
    out: dict = {}
    for xml in ("training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"):
        for image in ET.parse(folder / xml).getroot().iter("image"):
            faces = []
            for b in image.iter("box"):
                left, top, w, h = (int(b.get(k)) for k in ("left", "top", "width", "height"))
                parts = {int(p.get("name")): (float(p.get("x")), float(p.get("y"))) for p in b.iter("part")}
                faces.append(((left, top, left + w, top + h), parts))
            out[image.get("file")] = faces
    return out


def test_dlib_faces_boxes_and_landmarks_match_annotations(shared_data):
    folder = shared_data / "dlib_faces/examples/faces"
    annotations = _annotations(folder)
    assert sum(len(v) for v in annotations.values()) == 43
    ious, errors, extra = [], [], 0
    for name, faces in annotations.items():
        tracks = analyse(image_media(folder / name), max_faces=20, embed_every_s=None)
        found = [t.observations[0] for t in tracks]
        assert all(obs.landmarks.shape == (478, 3) and obs.landmarks.dtype == np.float32 for obs in found)
        extra += max(0, len(found) - len(faces))
        for box, parts in faces:
            best = max(found, key=lambda o: box_iou(box, o.box), default=None)
            iou = box_iou(box, best.box) if best else 0.0
            ious.append(iou)
            if iou >= 0.3:
                iod = float(np.hypot(*np.subtract(parts[36], parts[45])))
                err = np.mean([np.hypot(*(np.array(parts[k]) - best.landmarks[v, :2])) for k, v in IBUG_TO_MESH.items()])
                errors.append(err / iod)
    ious = np.array(ious)
    # measured: all 43 faces found, IoU 0.54-0.89 (median 0.76), landmark error 0.047 x inter-ocular distance
    assert (ious >= 0.5).mean() >= 0.9, np.sort(ious)[:8]
    assert np.median(ious) > 0.65
    assert len(errors) >= 39 and np.mean(errors) < 0.08
    assert extra <= 2  # no pile of false positives


def test_no_face_gives_no_tracks(shared_data):
    h, w = 360, 480
    gradient = np.dstack([np.tile(np.linspace(0, 255, w, dtype=np.float32), (h, 1))] * 3).astype(np.uint8)
    assert analyse(rgb_media(gradient)) == []
    dogs = image_media(shared_data / "dlib_faces/examples/faces/dogs.jpg")
    assert analyse(dogs, max_faces=10, embed_every_s=None) == []


def test_liveportrait_clip_is_one_unbroken_track(shared_data):
    media = video_media(shared_data / "liveportrait/assets/examples/driving/d6.mp4", 60)
    tracks = analyse(media)
    assert len(tracks) == 1
    track = tracks[0]
    assert len(track) == 60 and track.first_frame == 0 and track.last_frame == 59
    assert sorted(track.embeddings) == [0, 30, 59]  # first, one per second at 30 fps, last
    vectors = list(track.embeddings.values())
    assert max(np.linalg.norm(vectors[0] - v) for v in vectors) < 0.4  # one person throughout
    centres = np.array([[(o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2] for o in track.observations])
    assert np.abs(np.diff(centres, axis=0)).max() < 20  # landmarks follow the face smoothly


def test_multi_face_clip_gives_simultaneous_tracks_that_respect_cuts(shared_data):
    media = video_media(shared_data / "face_recognition/examples/short_hamilton_clip.mp4", 275)
    tracks = analyse(media, embed_every_s=None, min_track_len=10)
    assert len(tracks) >= 3
    assert [len(t) for t in tracks] == sorted((len(t) for t in tracks), reverse=True)
    assert [t.track_id for t in tracks] == list(range(len(tracks)))
    spans = [(t.first_frame, t.last_frame) for t in tracks]
    overlapping = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :] if a[0] <= b[1] and b[0] <= a[1]]
    assert len(overlapping) >= 2  # several faces on screen together (pianist + singer, then the audience)
    for t in tracks:  # hard cuts at frames 20, 82 and 211: no track runs across one
        for cut in (20, 82, 211):
            assert not (t.first_frame < cut <= t.last_frame), (t.track_id, t.first_frame, t.last_frame)
        positions = [o.frame_pos for o in t.observations]
        assert positions == sorted(set(positions))  # at most one observation per frame per track


def test_large_frames_are_analysed_downscaled_in_source_pixels(shared_data):
    import cv2

    native = video_media(shared_data / "liveportrait/assets/examples/driving/d6.mp4", 8)
    big_frames = [Frame(f.index, f.time_s, cv2.resize(f.rgb, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)) for f in native.frames]
    big = Media(native.path, "video", big_frames, native.fps, native.duration_s, 1440, 1440)
    small_track = analyse(native, embed_every_s=None)[0]
    big_track = analyse(big, embed_every_s=None)[0]
    assert len(big_track) == len(small_track) == 8
    for a, b in zip(small_track.observations, big_track.observations):
        iod = np.linalg.norm(a.landmarks[33, :2] - a.landmarks[263, :2])
        assert np.mean(np.linalg.norm(a.landmarks[:, :2] * 3 - b.landmarks[:, :2], axis=1)) / (3 * iod) < 0.05


def test_bad_arguments_and_frames():
    rgb = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(UsageError):
        analyse(rgb_media(rgb), max_faces=0)
    with pytest.raises(UsageError):
        analyse(rgb_media(rgb), embed_every_s=float("nan"))
    with pytest.raises(BadMedia):
        analyse(rgb_media(rgb.astype(np.float32)))
    with pytest.raises(BadMedia):
        analyse(rgb_media(np.zeros((64, 64), np.uint8)))
    audio_only = Media(Path("a.wav"), "audio", [], 0.0, 1.0, 0, 0)
    assert analyse(audio_only) == []
