"""Is there speech at all? Voice detectors must abstain on tones, hum and noise.

Speech is modulated at the syllable rate: its loudness envelope swings widely (pauses against syllables)
and carries much of its power at 2-8 Hz. A steady tone or noise does neither (envelope spread 0.01-0.06
nats and 2-8 Hz share 0.00-0.17 here; speech 0.77-1.42 and 0.38-0.77). The first and last half second are
left out so that a fade in or out does not look like modulation. WebRTC's VAD is no use for this: it calls
a 440 Hz tone and white noise speech. Music is modulated too and passes; the voice detectors' own models
deal with it.
"""

from __future__ import annotations

import numpy as np

MIN_SYLLABIC_SHARE = 0.25
MIN_ENVELOPE_SPREAD = 0.2  # std of the log envelope, nats
ENVELOPE_HOP_S = 0.01
EDGE_S = 0.5


def _log_envelope(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    hop = max(1, int(ENVELOPE_HOP_S * sample_rate))
    x = np.asarray(samples, dtype=np.float64)
    usable = len(x) // hop * hop
    envelope = np.log(np.sqrt(np.mean(x[:usable].reshape(-1, hop) ** 2, axis=1)) + 1e-6)
    edge = int(EDGE_S / ENVELOPE_HOP_S)
    return envelope[edge:-edge] if len(envelope) > 4 * edge else envelope


def syllabic_modulation(samples: np.ndarray, sample_rate: int) -> float:
    """Share of the log-envelope's power (0.5-50 Hz) that lies at 2-8 Hz."""
    envelope = _log_envelope(samples, sample_rate)
    if len(envelope) < 8:
        return 0.0
    power = np.abs(np.fft.rfft(envelope - envelope.mean())) ** 2
    freqs = np.fft.rfftfreq(len(envelope), ENVELOPE_HOP_S)
    total = power[(freqs > 0.5) & (freqs < 50)].sum()
    return float(power[(freqs >= 2) & (freqs <= 8)].sum() / total) if total > 0 else 0.0


def envelope_spread(samples: np.ndarray, sample_rate: int) -> float:
    envelope = _log_envelope(samples, sample_rate)
    return float(np.std(envelope)) if len(envelope) else 0.0


def sounds_like_speech(samples: np.ndarray, sample_rate: int) -> bool:
    return (
        envelope_spread(samples, sample_rate) >= MIN_ENVELOPE_SPREAD
        and syllabic_modulation(samples, sample_rate) >= MIN_SYLLABIC_SHARE
    )
