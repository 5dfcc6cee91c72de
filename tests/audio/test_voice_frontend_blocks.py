"""The voice front end's MP3 round trip runs a block at a time (memory on long recordings): no seams."""

from __future__ import annotations

import io

import numpy as np

from dflab.audio import voice_frontend
from dflab.media import load_audio


def _one_frame_roundtrip(samples: np.ndarray, rate: int) -> np.ndarray:
    """The reference: the whole clip handed to the encoder as one frame."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = voice_frontend.MP3_BITRATE
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in (*stream.encode(frame), *stream.encode(None)):
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as decoded:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in decoded.decode(audio=0)])[: len(samples)]


def test_blockwise_round_trip_equals_the_whole_clip_at_once(shared_data, monkeypatch):
    audio = load_audio(shared_data / "ljspeech_tts" / "ground_truth" / "wav" / "LJ050-0029.wav")
    speech = np.asarray(audio.samples, dtype=np.float32).reshape(-1)[:40_000]
    monkeypatch.setattr(voice_frontend, "_BLOCK", 4_096)  # ten block seams in 2.5 s
    blocks = voice_frontend.mp3_roundtrip(speech, audio.sample_rate)
    assert blocks.dtype == np.float32 and len(blocks) == len(speech)
    reference = _one_frame_roundtrip(speech, audio.sample_rate)
    np.testing.assert_array_equal(blocks[: len(reference)], reference)
    assert np.corrcoef(blocks, speech)[0, 1] > 0.9  # it is still the speech
