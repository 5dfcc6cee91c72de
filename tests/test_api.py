"""The public Python API: dflab.scan / Scanner / list_detectors, lean picklable results, the versioned scan
document (docs/schema/scan-1.0.json), and one Scanner shared by several threads."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import numpy as np
import pytest

import dflab
from dflab.errors import UsageError

SRC = Path(dflab.__file__).resolve().parents[1]
SCHEMA = SRC.parent / "docs" / "schema" / "scan-1.0.json"
PHOTO = "face_recognition/examples/obama.jpg"
CLIP = "liveportrait/assets/examples/driving/d0.mp4"  # 3 s, 512x512, no audio
SPEECH = "librispeech/1688/1688-142285-0000.flac"


def _python(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)


def _without_timings(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "timings"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """The astronaut samples `python -m dflab.samples DIR` writes (a photo, a pasted fake, a 4 s clip)."""
    out = tmp_path_factory.mktemp("samples")
    done = subprocess.run([sys.executable, "-m", "dflab.samples", str(out)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def four_files(shared_data, samples) -> list[Path]:
    """A real photo, a real clip, real speech and a generated clip."""
    return [shared_data / PHOTO, shared_data / CLIP, shared_data / SPEECH, samples / "astronaut_pan.mp4"]


@pytest.fixture(scope="module")
def scanner():
    return dflab.Scanner().warm()


@pytest.fixture(scope="module")
def sequential(scanner, four_files) -> dict[Path, dict]:
    return {path: scanner.scan(path).to_json() for path in four_files}


def _fd2_identity() -> tuple[int, int]:
    st = os.fstat(2)
    return st.st_dev, st.st_ino


def test_four_files_from_four_threads_match_the_sequential_scans(scanner, four_files, sequential, capfd):
    before = _fd2_identity()
    start = Barrier(len(four_files))

    def scan(path):
        start.wait()  # all four start together, so decoding, face tracking and detectors overlap
        return scanner.scan(path)

    with ThreadPoolExecutor(len(four_files)) as pool:
        results = list(pool.map(scan, four_files))
    for path, result in zip(four_files, results):
        assert str(result.path) == str(path)
        assert _without_timings(result.to_json()) == _without_timings(sequential[path]), path.name
    assert {r.media_type for r in results} == {"image", "video", "audio"}
    assert _fd2_identity() == before, "stderr no longer refers to the file it referred to before the scans"
    os.write(2, b"stderr works after concurrent scans\n")
    assert "stderr works after concurrent scans" in capfd.readouterr().err


def test_scanner_creates_each_detector_once(shared_data, monkeypatch):
    from dflab.detect import scanner as scanner_module

    created = []
    real_create = scanner_module.create_detector
    monkeypatch.setattr(scanner_module, "create_detector", lambda name: created.append(name) or real_create(name))
    scanner = dflab.Scanner(["spectrum", "watermark"])
    first = scanner.scan(shared_data / PHOTO)
    second = scanner.scan(shared_data / PHOTO)
    assert sorted(created) == ["spectrum", "watermark"]
    assert _without_timings(first.to_json()) == _without_timings(second.to_json())
    scanner.scan(shared_data / PHOTO, detectors=["skin_tone"])  # a detector it had not met: created once, then kept
    scanner.scan(shared_data / PHOTO, detectors=["skin_tone"])
    assert sorted(created) == ["skin_tone", "spectrum", "watermark"]


def test_torch_threads_are_set_once_not_per_scan(scanner, shared_data, monkeypatch):
    import torch

    scanner.scan(shared_data / PHOTO)  # the face-crop network has run: the scanner's count is in force
    assert torch.get_num_threads() == 1
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n))
    result = scanner.scan(shared_data / PHOTO)
    assert any(e.name == "face_crop" and e.confidence > 0 for e in result.evidence)
    assert calls == []


def test_warm_loads_the_models(scanner):
    from dflab.detect.learned.face_crop_runtime import cached_network
    from dflab.faces import models

    assert {"detector", "crop_mesh", "dlib_shape5", "dlib_encoder"} <= set(models._CACHE)
    assert cached_network.cache_info().currsize >= 1


def test_bad_options_and_names_are_usage_errors(shared_data):
    with pytest.raises(UsageError, match="no_such"):
        dflab.Scanner(["blink", "no_such"])
    with pytest.raises(UsageError, match="max_face"):
        dflab.scan(shared_data / PHOTO, max_face=2)
    with pytest.raises(UsageError, match="nope"):
        dflab.Scanner(["spectrum"]).scan(shared_data / PHOTO, detectors=["nope"])


def test_a_missing_file_raises_a_dflab_error(tmp_path):
    with pytest.raises(dflab.DflabError, match="not exist"):
        dflab.scan(tmp_path / "missing.jpg")


def test_list_detectors_filters_by_pattern():
    names = dflab.list_detectors()
    assert names == sorted(names) and {"blink", "face_crop", "spectrum"} <= set(names)
    assert dflab.list_detectors("*face*") == [n for n in names if "face" in n]
    assert dflab.Scanner().detectors == tuple(names)


def test_public_names_resolve():
    for name in dflab.__all__:
        assert getattr(dflab, name) is not None, name
    with pytest.raises(AttributeError):
        dflab.no_such_name  # noqa: B018


def test_import_dflab_stays_light():
    done = _python("import sys, dflab; print(sorted(m for m in ('numpy', 'torch', 'cv2', 'mediapipe', 'av', 'dlib') "
                   "if m in sys.modules))", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_scan_from_a_fresh_interpreter(samples):
    photo = samples / "astronaut_real.jpg"
    done = _python(f"import dflab; print(dflab.scan({str(photo)!r}).verdict)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] in ("authentic", "suspicious", "manipulated")


def test_to_json_is_the_cli_document(scanner, shared_data, tmp_path):
    photo = shared_data / PHOTO
    done = subprocess.run([sys.executable, "-m", "dflab", "scan", str(photo), "--json"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    mine = scanner.scan(photo).to_json()
    assert _without_timings(printed) == _without_timings(mine)
    assert printed["schema_version"] == dflab.SCHEMA_VERSION == "1.0"
    assert set(printed["timings"]) == set(mine["timings"])
    assert json.loads(json.dumps(mine, allow_nan=False)) == mine  # strict JSON, plain types only


# --- the versioned scan document ----------------------------------------------------------------------------

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
_KNOWN = {"$schema", "$id", "$defs", "title", "description", "type", "enum", "const", "required", "properties",
          "additionalProperties", "items", "minItems", "maxItems", "minimum", "maximum", "pattern", "$ref"}


def _is(value, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])


def schema_errors(value, schema: dict, root: dict, where: str = "$") -> list[str]:
    """Errors of `value` against the subset of JSON Schema (2020-12) that docs/schema uses; a keyword outside
    that subset is itself an error, so the schema cannot quietly rely on something unchecked."""
    unknown = set(schema) - _KNOWN
    if unknown:
        return [f"{where}: unsupported schema keyword(s) {sorted(unknown)}"]
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_errors(value, target, root, where)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            return [f"{where}: {type(value).__name__} is not {' or '.join(kinds)}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} != {schema['const']!r}")
    if _is(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{where}: {len(value)} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], root, f"{where}[{i}]")
    if isinstance(value, dict):
        errors += [f"{where}: missing {key!r}" for key in schema.get("required", []) if key not in value]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], root, f"{where}.{key}")
            elif extra is False:
                errors.append(f"{where}: unexpected {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, root, f"{where}.{key}")
    return errors


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def test_real_scan_documents_match_the_schema(sequential, schema):
    for path, doc in sequential.items():
        assert schema_errors(doc, schema, schema) == [], path.name
    kinds = {doc["media_type"] for doc in sequential.values()}
    assert kinds == {"image", "video", "audio"}
    assert any(doc["faces"] for doc in sequential.values()) and any(doc["shallow"]["cuts"] is not None
                                                                   for doc in sequential.values())


def test_the_schema_check_catches_broken_documents(sequential, schema):
    doc = next(d for d in sequential.values() if d["faces"])
    broken = {
        "missing key": {k: v for k, v in doc.items() if k != "verdict"},
        "score out of range": {**doc, "score": 1.5},
        "wrong verdict": {**doc, "verdict": "fake"},
        "string count": {**doc, "frames_analysed": "12"},
        "short face box": {**doc, "faces": [{**doc["faces"][0], "box": [1.0, 2.0]}]},
        "evidence without name": {**doc, "evidence": [{k: v for k, v in doc["evidence"][0].items() if k != "name"}]},
        "major version 2": {**doc, "schema_version": "2.0"},
        "finding verdict": {**doc, "findings": [{**doc["findings"][0], "verdict": "fake"}]},
        "models not a list": {**doc, "models": {}},
    }
    for what, bad in broken.items():
        assert schema_errors(bad, schema, schema), what
    assert schema_errors({**doc, "key_of_a_later_1x": {"any": 1}}, schema, schema) == []  # new keys are allowed


# --- lean results --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip_720p(shared_data, tmp_path_factory) -> Path:
    """10 s at 1280x720, 30 fps, with its speech: a real LivePortrait clip upscaled with dflab's own writer."""
    import cv2

    from dflab.media import Audio, load, load_audio, write_video

    source = shared_data / "liveportrait/assets/examples/driving/d3.mp4"
    media = load(source)
    frames = [cv2.resize(f.rgb, (1280, 720), interpolation=cv2.INTER_CUBIC) for f in media.frames if f.time_s < 10.0]
    speech = load_audio(source)
    audio = Audio(speech.samples[: int(10.0 * speech.sample_rate)], speech.sample_rate)
    out = tmp_path_factory.mktemp("clip720") / "d3_720p.mp4"
    write_video(out, frames, fps=media.fps, audio=audio)
    return out


def test_pickled_result_of_a_10s_720p_clip_is_small_and_renders(scanner, clip_720p, tmp_path):
    from dflab.report.scan_report import write_scan_report

    result = scanner.scan(clip_720p)
    assert result.media_type == "video" and result.duration_s == pytest.approx(10.0, abs=0.1)
    assert result.frames_analysed >= 290 and result.faces
    blob = pickle.dumps(result)
    assert len(blob) < 1_000_000, f"{len(blob)} bytes"
    assert 1 <= len(result.key_frames) <= 6
    for key in result.key_frames:
        assert max(key.width, key.height) <= 480 and key.rgb().shape == (key.height, key.width, 3)
    assert any(e.heatmap is not None for e in result.evidence)
    for box_track, face in zip(result.face_boxes, result.faces):
        assert box_track.track_id == face.track_id and len(box_track.boxes) == face.n_frames
    restored = pickle.loads(blob)
    assert restored.to_json() == result.to_json()
    page = write_scan_report(restored, tmp_path / "new" / "reports").read_text()  # the folder is made
    assert page.count("<img") >= 4 and "Key frames" in page and "heat map:" in page


def test_scan_progress_callbacks_are_per_call(shared_data):
    scanner = dflab.Scanner(["blink", "spectrum"])
    stages, frames = [], []
    scanner.scan(shared_data / CLIP, progress=stages.append, frame_done=lambda: frames.append(1))
    assert stages[0] == "decode+faces" and {"blink", "spectrum"} <= set(stages)
    assert len(frames) == 78  # every analysed frame of the 3.12 s, 25 fps clip
    scanner.scan(shared_data / PHOTO)  # no callbacks now: the earlier ones are not kept
    assert len(frames) == 78


def test_key_frame_positions_are_a_greedy_prefix():
    from dflab.detect.evidence import Evidence
    from dflab.detect.keyframes import key_frame_positions

    scores = np.array([0.1, 0.9, 0.85, 0.2, 0.3, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.7])
    mapped = Evidence("x", 0.8, 0.5, "x.", heatmap=np.zeros((4, 4)), heatmap_frame=4)
    six = key_frame_positions([mapped], scores, len(scores), 6)
    assert six[:3] == key_frame_positions([mapped], scores, len(scores), 3)
    assert six[0] == 4  # the strongest heat map's frame comes first
    assert all(abs(a - b) > 5 for i, a in enumerate(six) for b in six[i + 1:])
    assert key_frame_positions([], np.zeros(0), 0) == []
