"""Window features for the synthetic-speech detector: what a clip looks like after the common front end.

Every clip is first brought to one wrapper (dflab.audio.voice_frontend.harmonise: 16 kHz, silence trimmed,
one loudness, one MP3 round trip) and cut into windows of equal length, so that neither the file's codec nor
its duration nor its leading silence can tell real from synthetic. Each window then gives one feature vector:

- "lfcc": 120 LFCC statistics (dflab.audio.lfcc.utterance_statistics), the ASVspoof baseline;
- "band": the share of each 1 kHz band in the frame's energy and the spectral flatness below and above
  4 kHz (means and spreads over the speech frames). Neural vocoders draw the upper band from a smooth model
  of it: its energy follows the lower band too closely and is too noise-like (or too tonal) in a way LFCC means
  average away;
- "modulation": the long-term modulation spectrum of eight band envelopes (how fast the energy of each band
  rises and falls, 1-32 Hz). Diffusion and autoregressive TTS smooth the fast modulations within a phone;
- "aasist": AASIST-L's 160-d graph embedding and its published spoof log-odds (dflab.audio.aasist_windows),
  run on one window in four and shared by the windows around it: the network is the costly part.

The feature set a model uses is named in its weights (FEATURE_SETS); the runtime computes only those.
"""

from __future__ import annotations

import numpy as np

from dflab.audio.lfcc import utterance_statistics

SAMPLE_RATE = 16_000
WINDOW_S = 4.0
HOP_WINDOW_S = 2.0
MIN_WINDOW_S = 1.5
N_FFT = 512
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
BAND_EDGES_HZ = (0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000)
MOD_BANDS_HZ = ((1, 2), (2, 4), (4, 8), (8, 16), (16, 32))
SPEECH_BELOW_PEAK_DB = 35.0
# The front end trims silence, but the ends still differ by source: real reference recordings are often cut
# mid-word, renderings end in a natural decay. The first and last 0.3 s are left out of every window so that
# how a file starts and stops says nothing (alone, the trailing part separated the cloned_voices classes at
# AUC 0.93 after trimming).
EDGE_S = 0.3

FEATURE_SETS = {
    "lfcc": ("lfcc",),
    "lfcc+band": ("lfcc", "band"),
    "lfcc+band+modulation": ("lfcc", "band", "modulation"),
    "band+modulation": ("band", "modulation"),
    "lfcc+aasist": ("lfcc", "aasist"),
}


def speech_core(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The harmonised clip without its first and last EDGE_S (kept whole when that would leave too little)."""
    edge = int(EDGE_S * sample_rate)
    return samples[edge:-edge] if len(samples) >= 2 * edge + MIN_WINDOW_S * sample_rate else samples


def windows(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, window_s: float = WINDOW_S,
            hop_s: float = HOP_WINDOW_S) -> list[tuple[int, int]]:
    """(start, end) samples of equal windows over the clip; a clip shorter than one window is one window."""
    size, hop = int(window_s * sample_rate), int(hop_s * sample_rate)
    if len(samples) <= size:
        return [(0, len(samples))]
    starts = list(range(0, len(samples) - size + 1, hop))
    if starts[-1] + size < len(samples):  # the tail gets its own window, ending at the clip's end
        starts.append(len(samples) - size)
    return [(s, s + size) for s in starts]


def _power_frames(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < FRAME:
        x = np.pad(x, (0, FRAME - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP]
    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME), n=N_FFT, axis=1)) ** 2
    level = 10 * np.log10(power.sum(axis=1) + 1e-12)
    active = level > level.max() - SPEECH_BELOW_PEAK_DB
    if active.sum() < 10:
        active = np.ones(len(level), dtype=bool)
    return power, active


def _flatness(power: np.ndarray) -> np.ndarray:
    p = power + 1e-12
    return np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)


def band_statistics(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Per 1 kHz band, its log share of the frame energy (mean, std over speech frames), and the log spectral
    flatness of 0-4 kHz and 4-8 kHz (mean, std): 20 numbers."""
    power, active = _power_frames(samples)
    power = power[active]
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    total = power.sum(axis=1) + 1e-12
    shares = []
    for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]):
        band = (freqs >= lo) & (freqs < hi)
        shares.append(np.log10(power[:, band].sum(axis=1) / total + 1e-9))
    shares = np.stack(shares, axis=1)
    low = np.log(_flatness(power[:, (freqs > 100) & (freqs < 4000)]))
    high = np.log(_flatness(power[:, (freqs >= 4000) & (freqs < 7500)]))
    return np.concatenate([shares.mean(axis=0), shares.std(axis=0), [low.mean(), low.std(), high.mean(), high.std()]])


def modulation_spectrum(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Long-term modulation spectrum: for each of 8 bands, the share of its log envelope's variance in the
    modulation bands 1-2, 2-4, 4-8, 8-16 and 16-32 Hz (40 numbers)."""
    power, _ = _power_frames(samples)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    frame_rate = sample_rate / HOP
    out = []
    for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]):
        env = np.log(power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) + 1e-10)
        env = env - env.mean()
        spectrum = np.abs(np.fft.rfft(env * np.hanning(len(env)))) ** 2
        mod_freqs = np.fft.rfftfreq(len(env), 1.0 / frame_rate)
        total = spectrum[(mod_freqs >= MOD_BANDS_HZ[0][0]) & (mod_freqs < MOD_BANDS_HZ[-1][1])].sum() + 1e-12
        out += [np.log10(spectrum[(mod_freqs >= a) & (mod_freqs < b)].sum() / total + 1e-9) for a, b in MOD_BANDS_HZ]
    return np.array(out)


BLOCKS = {"lfcc": utterance_statistics, "band": band_statistics, "modulation": modulation_spectrum}


def window_features(samples: np.ndarray, feature_set: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One row per window of a harmonised clip, the blocks of `feature_set` side by side."""
    samples = speech_core(samples, sample_rate)
    spans = windows(samples, sample_rate)
    names = FEATURE_SETS[feature_set]
    parts = [np.stack([BLOCKS[b](samples[a:e], sample_rate) for a, e in spans]) if b in BLOCKS
             else _aasist_rows(samples, spans) for b in names]  # fmt: skip
    return np.concatenate(parts, axis=1)


def _aasist_rows(core: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    from dflab.audio.aasist_windows import sampled, spread, window_outputs

    return spread(window_outputs(core, sampled(spans)), len(spans))


def all_blocks(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """Every block for every window (windows x dims each): computed once, any feature set sliced from it."""
    samples = speech_core(samples, sample_rate)
    spans = windows(samples, sample_rate)
    return {name: np.stack([fn(samples[a:b], sample_rate) for a, b in spans]) for name, fn in BLOCKS.items()}
