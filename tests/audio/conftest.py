"""Real speech for the audio tests, read once per session from ../shared/data (through `shared_data`)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def speaker_audio(shared_data):
    """speaker id -> that LibriSpeech speaker's utterances concatenated (16 kHz), loaded on demand."""
    from dflab.media import load_audio

    cache: dict[str, np.ndarray] = {}

    def get(speaker: str, seconds: float = 21.0) -> np.ndarray:
        if speaker not in cache:
            files = sorted((shared_data / "librispeech" / speaker).glob("*.flac"))
            cache[speaker] = np.concatenate([load_audio(f).samples for f in files])
        return cache[speaker][: int(seconds * 16_000)]

    return get
