"""The front end every clip goes through before the synthetic-speech model judges it, in training and at scan
time alike.

Development voices come in different wrappers: the real reference recordings are mostly 22 kHz WAV, the
Tortoise clones 24 kHz MP3 at 32 kbit/s, and some reals are MP3 too. A model fitted on those raw files can
learn the wrapper instead of the voice. So every clip is brought to one wrapper: 16 kHz mono, leading and
trailing silence cut, the speech at one loudness, and one MP3 round trip at 32 kbit/s (the lowest bit rate
in the development data, so that the round trip, not the file's history, sets the band limit and the
codec noise). The same function runs at scan time, so the model sees what it was fitted on.

The MP3 round trip runs in-process through PyAV's bundled libmp3lame; no ffmpeg binary is needed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from dflab.audio.signal import HOP_S, active_mask, frame_rms_db, normalise_loudness

SAMPLE_RATE = 16_000
MP3_BITRATE = 32_000
TRIM_BELOW_PEAK_DB = 40.0  # a frame this far below the loud frames is silence or room tone
TRIM_MARGIN_S = 0.05  # keep a little of the onset and release around the speech


@dataclass(frozen=True)
class Harmonised:
    samples: np.ndarray  # 16 kHz mono float32, trimmed, loudness-normalised, MP3 round-tripped
    offset_s: float  # where samples[0] lies in the original clip (the leading silence cut)


def speech_span(samples: np.ndarray, sample_rate: int, below_peak_db: float = TRIM_BELOW_PEAK_DB) -> tuple[int, int]:
    """(first, end) sample of the part between the first and the last frame that carries sound."""
    mask = active_mask(frame_rms_db(samples, sample_rate), below_peak_db=below_peak_db)
    if not mask.any():
        return 0, len(samples)
    hop, margin = int(HOP_S * sample_rate), int(TRIM_MARGIN_S * sample_rate)
    active = np.flatnonzero(mask)
    first = max(0, active[0] * hop - margin)
    end = min(len(samples), (active[-1] + 1) * hop + int(0.025 * sample_rate) + margin)
    return int(first), int(end)


_BLOCK = 1 << 16  # samples handed to the encoder at a time (the encoder re-frames them into MP3 frames)


def mp3_roundtrip(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, bitrate: int = MP3_BITRATE) -> np.ndarray:
    """The clip encoded to MP3 (libmp3lame, constant bit rate) and decoded again, same length as the input.

    Encoded a block at a time and decoded into one array, so a 10-minute track (38 MB per float32 copy) is not
    copied whole on the way in or out."""
    import av

    samples = np.asarray(samples, dtype=np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=sample_rate, layout="mono")
        stream.bit_rate = bitrate
        for start in range(0, len(samples), _BLOCK):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + _BLOCK], format="fltp", layout="mono")
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buffer.seek(0)
    n = len(samples)
    out_samples = np.zeros(n, np.float32)
    filled = 0
    with av.open(buffer) as decoded:
        for decoded_frame in decoded.decode(audio=0):
            piece = decoded_frame.to_ndarray().reshape(-1)[: n - filled]
            out_samples[filled : filled + len(piece)] = piece
            filled += len(piece)
            if filled >= n:
                break
    return out_samples  # zero-padded at the end if the decoder gave fewer samples


def harmonise(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Harmonised:
    """Resample to 16 kHz, trim, normalise and MP3 round-trip a mono clip. Raises BadMedia when it is silent."""
    samples = np.asarray(samples, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        from math import gcd

        from dflab.lazy_modules import scipy_signal

        resample_poly = scipy_signal().resample_poly

        g = gcd(SAMPLE_RATE, sample_rate)
        samples = resample_poly(samples, SAMPLE_RATE // g, sample_rate // g).astype(np.float32, copy=False)
    first, end = speech_span(samples, SAMPLE_RATE)
    speech = normalise_loudness(samples[first:end], SAMPLE_RATE)
    round_tripped = mp3_roundtrip(speech, SAMPLE_RATE)
    del speech
    return Harmonised(np.clip(round_tripped, -1.0, 1.0, out=round_tripped), first / SAMPLE_RATE)
