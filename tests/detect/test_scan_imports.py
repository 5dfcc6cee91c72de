"""What a scan loads early: a voice recording does not import torch for the face-crop network beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dflab.detect.scanner import likely_media_type

VOICE = "cloned_voices/real/applejack/2.wav"


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
    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(src)})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    media_type, verdict, torch_loaded = done.stdout.split()[-3:]
    assert media_type == "audio" and verdict in {"authentic", "suspicious", "manipulated", "inconclusive"}
    assert torch_loaded == "False"
