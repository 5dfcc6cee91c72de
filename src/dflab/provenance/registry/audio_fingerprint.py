"""Audio fingerprints that survive re-encoding, jump cuts and playback at 0.5-2x, pitch kept or moved.

After Sonnleitner & Widmer ("Quad-based audio fingerprinting robust to time and frequency scaling", DAFx 2014;
"Robust quad-based audio fingerprinting", IEEE/ACM TASLP 2016): hash small groups of spectral peaks by numbers
that a speed change does not move. Here the groups are peak quads on a log-frequency axis:

- Peaks: local maxima of the log spectrum on dflab.audio.fine_spectrum's 1/96-octave grid (the same features
  the audio comparison uses), refined to sub-frame time and sub-band frequency by a parabola.
- Quads: each peak A with every three (B, C, D) of the next NEIGHBOURS peaks in time order that lie within
  BAND_OCT octaves of A. Choosing by order, not by a time window, makes the choice itself independent of the
  playback speed; staying near A in frequency keeps it independent of the band a resampled copy loses.
- Hash: the frequency steps B-A, C-A, D-A in octaves (a tape-style copy shifts every log frequency by log2(f),
  which cancels in a difference; a pitch-corrected copy moves nothing) and the time ratios (tB-tA)/(tD-tA),
  (tC-tA)/(tD-tA) (a speed change scales every time gap by the same factor, which cancels in a ratio).
  Triplets (two steps, one ratio) were tried first: their 8,000 cells were too few, and a 10 s query hit
  ~20 unrelated stored triplets per key in a registry of only 6 minutes.
- Each stored hash keeps A's time, the span tC-tA and A's log frequency, so every hit implies a time scale
  (span ratio), an offset and a frequency shift; tracing keeps only hits whose shift is 0 (pitch kept) or
  log2(scale) (tape-style) and then asks the votes to agree on one line (dflab.provenance.registry.audio_trace).

Everything here is pure maths on arrays; decoding and storage live elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FINGERPRINT_NAME = "peak-quads-v1"  # stored with each record: hashes of other versions never meet
HOP_S = 0.01  # frames of dflab.audio.fine_spectrum.fine_log_spectrum
FINE_PER_OCTAVE = 96
PEAK_BANDS = 8  # a peak is the maximum over +-PEAK_BANDS fine bands (1/12 octave) ...
PEAK_FRAMES = 4  # ... and +-PEAK_FRAMES frames (40 ms)
PEAK_MIN_DB = 10.0  # above the floored spectrum's floor (the floor is 45 dB under the file's peak)
PEAK_CONTRAST_DB = 3.0  # above the mean of its +-PEAK_BANDS neighbourhood: a ridge, not a flat plateau
SMOOTH_FRAMES = 1  # time smoothing of the spectrum before peak picking (3 and 5 measured no better)
# B, C and D come from the next NEIGHBOURS peaks near A in frequency: 35 quads per anchor. With 5 (10 quads)
# a phase-vocoder speed-up (librosa, 128 ms windows) kept too few intact quads: 1.5x/2x copies traced 38/77 %
# on a 13-base sample, against 92/92 % with 7.
NEIGHBOURS = 7
BAND_OCT = 0.5  # ... within this many octaves of A
MIN_SPAN_S = 0.03  # tD - tA: shorter spans make the time ratio mostly jitter
MAX_SPAN_S = 2.0
DF_STEP_OCT = 1 / 32  # quantisation of the frequency steps (1/24: 2.4x the stored hits per lookup; 1/48: fewer
# phase-vocoder copies traced)
RATIO_BINS = 6  # quantisation of the time ratios over [0, 1]: a phase vocoder moves peaks by tens of ms (12 bins lost them)
SOFT_MARGIN = 0.25  # a query value this close to a cell border is also looked up in the neighbouring cell
DF_LEVELS = round(2 * BAND_OCT / DF_STEP_OCT) + 2


@dataclass(frozen=True)
class Peaks:
    times_s: np.ndarray  # sorted
    octaves: np.ndarray  # log2(frequency / 1 Hz)
    levels_db: np.ndarray


@dataclass(frozen=True)
class Quads:
    """One row per quad A, B, C, D (tA <= tB <= tC <= tD). `steps` (n, 3): log-frequency steps B-A, C-A, D-A in
    octaves; `ratios` (n, 2): (tB - tA) / span and (tC - tA) / span with span = tD - tA. Both are unchanged by
    playback speed; anchor time, span and anchor octave say where and how fast."""

    anchor_s: np.ndarray
    span_s: np.ndarray
    anchor_oct: np.ndarray
    steps: np.ndarray
    ratios: np.ndarray

    def __len__(self) -> int:
        return len(self.anchor_s)


def spectral_peaks(fine_db: np.ndarray, lo_hz: float, per_octave: int = FINE_PER_OCTAVE) -> Peaks:
    """Local maxima of a (bands, frames) log spectrum whose band k sits at lo_hz * 2**(k / per_octave)."""
    from scipy.ndimage import maximum_filter, uniform_filter1d

    if fine_db.shape[1] < 3:
        return Peaks(np.zeros(0), np.zeros(0), np.zeros(0))
    if SMOOTH_FRAMES > 1:
        fine_db = uniform_filter1d(fine_db, SMOOTH_FRAMES, axis=1, mode="nearest")
    local_max = maximum_filter(fine_db, size=(2 * PEAK_BANDS + 1, 2 * PEAK_FRAMES + 1), mode="nearest")
    local_mean = uniform_filter1d(fine_db, 2 * PEAK_BANDS + 1, axis=0, mode="nearest")
    floor = float(fine_db.min())
    is_peak = (fine_db >= local_max) & (fine_db >= floor + PEAK_MIN_DB) & (fine_db >= local_mean + PEAK_CONTRAST_DB)
    is_peak[[0, -1], :] = False  # a parabola needs both neighbours
    is_peak[:, [0, -1]] = False
    band, frame = np.nonzero(is_peak)
    centre = fine_db[band, frame]
    # Parabolic refinement: sub-frame times make the time ratios finer than the 10 ms hop, sub-band
    # frequencies make the tape-style shift measurable to well under a band.
    dt = _vertex(fine_db[band, frame - 1], centre, fine_db[band, frame + 1])
    dk = _vertex(fine_db[band - 1, frame], centre, fine_db[band + 1, frame])
    times = (frame + dt) * HOP_S
    octaves = np.log2(lo_hz) + (band + dk) / per_octave
    order = np.argsort(times, kind="stable")
    return Peaks(times[order], octaves[order], centre[order])


def _vertex(left: np.ndarray, mid: np.ndarray, right: np.ndarray) -> np.ndarray:
    curve = left - 2 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curve < 0, 0.5 * (left - right) / curve, 0.0)
    return np.clip(offset, -0.5, 0.5)


def peak_quads(peaks: Peaks) -> Quads:
    """Every (A, B, C, D) with B, C, D among the next NEIGHBOURS peaks within BAND_OCT of A, in time order."""
    from itertools import combinations

    t, f = peaks.times_s, peaks.octaves
    rows: list[tuple[int, ...]] = []
    n = len(t)
    for a in range(n):
        near: list[int] = []
        b = a + 1
        while b < n and len(near) < NEIGHBOURS and t[b] - t[a] <= MAX_SPAN_S:
            if abs(f[b] - f[a]) <= BAND_OCT:
                near.append(b)
            b += 1
        rows.extend((a, *group) for group in combinations(near, 3))
    if not rows:
        return Quads(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, 3)), np.zeros((0, 2)))
    idx = np.array(rows)
    times = t[idx]
    span = times[:, 3] - times[:, 0]
    keep = span >= MIN_SPAN_S
    idx, times, span = idx[keep], times[keep], span[keep]
    octaves = f[idx]
    return Quads(times[:, 0], span, octaves[:, 0], octaves[:, 1:] - octaves[:, :1],
                 (times[:, 1:3] - times[:, :1]) / span[:, None])  # fmt: skip


def _cells(values: np.ndarray, origin: float, step: float, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(cell, position inside the cell in [0, 1)) of each value on a grid of `levels` cells."""
    scaled = (values - origin) / step
    cell = np.clip(np.floor(scaled), 0, levels - 1)
    return cell.astype(np.int64), scaled - cell


def _coordinates(quads: Quads) -> list[tuple[np.ndarray, np.ndarray, int]]:
    coords = [_cells(quads.steps[:, k], -BAND_OCT, DF_STEP_OCT, DF_LEVELS) + (DF_LEVELS,) for k in range(3)]
    coords += [_cells(quads.ratios[:, k], 0.0, 1.0 / RATIO_BINS, RATIO_BINS) + (RATIO_BINS,) for k in range(2)]
    return coords


def _pack(cells: list[np.ndarray]) -> np.ndarray:
    key = np.zeros_like(cells[0])
    for cell, levels in zip(cells, (DF_LEVELS,) * 3 + (RATIO_BINS,) * 2):
        key = key * levels + cell
    return key


def quad_hashes(quads: Quads) -> np.ndarray:
    """The stored key of each quad (int64): its quantised steps and ratios."""
    return _pack([cell for cell, _, _ in _coordinates(quads)])


def query_hashes(quads: Quads) -> tuple[np.ndarray, np.ndarray]:
    """(keys, row of the quad each key belongs to): each quad under its own cell and, for every coordinate within
    SOFT_MARGIN of a cell border, also under the neighbouring cell, so jitter across a border still meets the
    registered twin."""
    base = np.arange(len(quads))
    variants = [(base, [])]
    for cell, position, levels in _coordinates(quads):
        grown = []
        for rows, cells in variants:
            grown.append((rows, [*cells, cell[rows]]))
            pos = position[rows]
            near = (pos < SOFT_MARGIN) | (pos > 1.0 - SOFT_MARGIN)
            other = np.clip(cell[rows] + np.where(pos >= 0.5, 1, -1), 0, levels - 1)
            near &= other != cell[rows]
            if near.any():
                grown.append((rows[near], [*[c[near] for c in cells], other[near]]))
        variants = grown
    keys = np.concatenate([_pack(cells) for _, cells in variants])
    rows = np.concatenate([rows for rows, _ in variants])
    return keys, rows


def fingerprint(fine_db: np.ndarray, lo_hz: float) -> tuple[np.ndarray, Quads]:
    """(stored keys, quads) of a fine log spectrum (see the module docstring)."""
    quads = peak_quads(spectral_peaks(fine_db, lo_hz))
    return quad_hashes(quads), quads
