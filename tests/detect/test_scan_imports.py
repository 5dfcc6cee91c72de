"""What a scan loads early: a voice recording does not import torch for the face-crop network beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dflab.detect.scanner import likely_media_type

VOICE = "cloned_voices/real/applejack/2.wav"


def _last_words_of_a_fresh_process(code: str, count: int) -> list[str]:
    """Run `code` in a fresh interpreter on this checkout's dflab; the last `count` words it printed."""
    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(src)})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[-count:]


def test_the_media_type_a_name_promises() -> None:
    assert likely_media_type(Path("a/voice.WAV")) == "audio"
    assert likely_media_type(Path("clip.mp4")) == "video"
    assert likely_media_type(Path("photo.jpeg")) == "image"
    assert likely_media_type(Path("no_suffix")) is None  # unknown: every detector loads its weights early, as before


def test_a_voice_scan_never_imports_torch(shared_data) -> None:
    """In a fresh process (this one may have torch already): the scan runs every default detector on a real
    recording and gives its verdict without torch ever being imported."""
    code = (
        "import sys, dflab\n"
        f"result = dflab.scan({str(shared_data / VOICE)!r})\n"
        "print(result.media_type, result.verdict, 'torch' in sys.modules)\n"
    )
    media_type, verdict, torch_loaded = _last_words_of_a_fresh_process(code, 3)
    assert media_type == "audio" and verdict in {"authentic", "suspicious", "manipulated", "inconclusive"}
    assert torch_loaded == "False"


def test_a_video_scan_runs_the_face_crop_network_in_a_child_and_never_imports_torch(shared_data) -> None:
    """In a fresh process: every default detector on a real clip with a face; the face-crop network ran (its
    evidence has crops scored) in the child process the scan started, so this process never imported torch."""
    code = (
        "import sys, dflab\n"
        f"result = dflab.scan({str(shared_data / 'liveportrait/assets/examples/driving/d0.mp4')!r})\n"
        "crop = next(e for e in result.evidence if e.name == 'face_crop')\n"
        "print(result.media_type, crop.details.get('crops_scored', 0), 'torch' in sys.modules)\n"
    )
    media_type, crops_scored, torch_loaded = _last_words_of_a_fresh_process(code, 3)
    assert media_type == "video" and int(crops_scored) >= 4
    assert torch_loaded == "False"
