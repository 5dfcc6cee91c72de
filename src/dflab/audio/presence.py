"""Is there speech at all? Voice detectors must abstain on tones, hum and noise.

Speech is modulated at the syllable rate: its loudness envelope carries much of its power at 2-8 Hz.
A steady tone or noise does not (both measure about 0.10 here; speech 0.39-0.72). WebRTC's VAD is no use
for this: it calls a 440 Hz tone and white noise speech. Music is modulated too and passes; the voice
detectors' own models deal with it.
"""

from __future__ import annotations

import numpy as np

MIN_SYLLABIC_SHARE = 0.25
ENVELOPE_HOP_S = 0.01


def syllabic_modulation(samples: np.ndarray, sample_rate: int) -> float:
    """Share of the log-envelope's power (0.5-50 Hz) that lies at 2-8 Hz."""
    hop = max(1, int(ENVELOPE_HOP_S * sample_rate))
    x = np.asarray(samples, dtype=np.float64)
    usable = len(x) // hop * hop
    if usable < 4 * hop:
        return 0.0
    envelope = np.log(np.sqrt(np.mean(x[:usable].reshape(-1, hop) ** 2, axis=1)) + 1e-6)
    power = np.abs(np.fft.rfft(envelope - envelope.mean())) ** 2
    freqs = np.fft.rfftfreq(len(envelope), hop / sample_rate)
    total = power[(freqs > 0.5) & (freqs < 50)].sum()
    return float(power[(freqs >= 2) & (freqs <= 8)].sum() / total) if total > 0 else 0.0


def sounds_like_speech(samples: np.ndarray, sample_rate: int) -> bool:
    return syllabic_modulation(samples, sample_rate) >= MIN_SYLLABIC_SHARE
