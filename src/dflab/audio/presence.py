"""Is there speech at all? Voice detectors must abstain on tones, hum and noise.

Speech is modulated at the syllable rate: its loudness envelope swings widely (pauses against syllables)
and carries much of its power at 2-8 Hz, which playback at 0.5-2x moves to 1-16 Hz. A steady tone or noise
does neither (envelope spread 0.00-0.06 nats; a tone's 1-16 Hz share 0.00-0.03). On the 925 clips of the speed
test set (speech at 0.5-2x) the spread is at least 0.62 and the 1-16 Hz share at least 0.25; the 2-8 Hz band
used before turned away 19 % of them (share down to 0.09: slowed or vocoded speech), so the speed cue did not
judge the clips it was built for. The first and last half second are left out so that a fade in or out does
not look like modulation. WebRTC's VAD is no use for this: it calls a 440 Hz tone and white noise speech.
Music and other modulated sounds pass; the voice detectors' own models deal with them.
"""

from __future__ import annotations

import numpy as np

MIN_SYLLABIC_SHARE = 0.2
SYLLABIC_BAND_HZ = (1.0, 16.0)  # syllable rates (2-8 Hz) at playback speeds 0.5-2x
MIN_ENVELOPE_SPREAD = 0.2  # std of the log envelope, nats
ENVELOPE_HOP_S = 0.01
EDGE_S = 0.5
ENVELOPE_BLOCK_ROWS = 8192


def _log_envelope(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    hop = max(1, int(ENVELOPE_HOP_S * sample_rate))
    rows = np.asarray(samples)[: len(samples) // hop * hop].reshape(-1, hop)
    power = np.empty(len(rows))
    # In blocks of rows: a float64 copy of a whole long recording would be twice its float32 size, squared again.
    for start in range(0, len(rows), ENVELOPE_BLOCK_ROWS):
        block = rows[start : start + ENVELOPE_BLOCK_ROWS].astype(np.float64)
        power[start : start + len(block)] = np.mean(block**2, axis=1)
    envelope = np.log(np.sqrt(power) + 1e-6)
    edge = int(EDGE_S / ENVELOPE_HOP_S)
    return envelope[edge:-edge] if len(envelope) > 4 * edge else envelope


def syllabic_modulation(samples: np.ndarray, sample_rate: int) -> float:
    """Share of the log-envelope's power (0.5-50 Hz) that lies at syllable rates (SYLLABIC_BAND_HZ)."""
    envelope = _log_envelope(samples, sample_rate)
    if len(envelope) < 8:
        return 0.0
    power = np.abs(np.fft.rfft(envelope - envelope.mean())) ** 2
    freqs = np.fft.rfftfreq(len(envelope), ENVELOPE_HOP_S)
    total = power[(freqs > 0.5) & (freqs < 50)].sum()
    lo, hi = SYLLABIC_BAND_HZ
    return float(power[(freqs >= lo) & (freqs <= hi)].sum() / total) if total > 0 else 0.0


def envelope_spread(samples: np.ndarray, sample_rate: int) -> float:
    envelope = _log_envelope(samples, sample_rate)
    return float(np.std(envelope)) if len(envelope) else 0.0


def sounds_like_speech(samples: np.ndarray, sample_rate: int) -> bool:
    return (
        envelope_spread(samples, sample_rate) >= MIN_ENVELOPE_SPREAD
        and syllabic_modulation(samples, sample_rate) >= MIN_SYLLABIC_SHARE
    )
