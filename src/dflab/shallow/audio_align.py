"""Align an audio-only copy with its original: playback speed, offset, removed and inserted pieces.

A copy played at f x speed maps suspect time q to original time o = f * q + offset (f < 1: slowed). Pitch-
corrected changes (phase vocoder, WSOLA) keep each frame's spectrum; tape-style resampling also multiplies every
frequency by f, which on a log-frequency axis is a shift by log2(f) octaves. So both are one search:

1. Global fit: log band energies of both files on a fine log-frequency grid (1/96 octave), pooled into speech
   bands for the original at 220-3500 Hz and for the suspect at the same bands times p, p = 1 (pitch kept) or
   p = f (pitch moved). For every f on a 1 % log grid the suspect's frames are re-timed onto the original's
   clock and cross-correlated with it over all lags, normalised over the overlap (a sped-up copy covers more
   than the original clip, a slowed one less) and scaled down where the overlap is short. The best few peaks of
   (f, p, lag) go on to step 2, since with jump cuts the strongest global peak can be a wrong speed; a parabola
   through the grid refines each f.
2. Local votes: the re-timed suspect is cut into 0.5 s patches every 0.1 s; each patch votes for the original
   times where it correlates best. The registry's line fitter (dflab.provenance.registry.align.fit_time_mapping,
   which the video path feeds with PDQ votes) turns the votes into one least-squares speed and parallel
   segments; the candidate whose segments explain the most suspect time (less a cost per segment) wins. An
   offset jump between segments is a removed (or repeated) piece, suspect time between segments that the
   original does not continue across is inserted material; a cut is placed where the frames switch from fitting one line to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.audio.fine_spectrum import FINE_LO_HZ, FINE_PER_OCTAVE, HOP_S, fine_log_spectrum
from dflab.errors import LimitExceeded, UsageError
from dflab.media.types import Audio
from dflab.provenance.registry.align import (
    FramePair,
    Segment,
    TimeMapping,
    fit_time_mapping,
)

# The fine log-frequency grid and its 10 ms frames are dflab.audio.fine_spectrum's (shared with the registry).
BAND_LO_HZ, BAND_HI_HZ = 220.0, 3500.0  # the original's bands; times p they stay inside the fine grid
BANDS_PER_OCTAVE = 6
# Inside the fine grid for every p in this range: 220 * 0.45 > 90 Hz and 3500 * 2.2 < 7950 Hz.
FACTOR_RANGE = (0.45, 2.2)
GRID_STEP = 0.01  # log step of the factor grid (1 %)
SMOOTH_FRAMES = 3
MIN_OVERLAP_S = 2.0
MIN_GLOBAL_NCC = 0.25  # below this the two files do not share audio anywhere
PATCH_S = 0.5
PATCH_STEP_S = 0.1
MIN_PATCH_NCC = 0.7
ACTIVE_DB = 30.0  # a frame is sound (not a pause) when its loudest band is within this of the file's peak
MIN_ACTIVE = 0.5  # patches that are mostly pause match any other pause (floored spectra are all alike): skipped
TIE_NCC = 0.04
CANDIDATES = 3  # global fits tried by local votes: with jump cuts the strongest global peak can be a wrong speed
CANDIDATE_SEPARATION = 0.03
SEGMENT_COST_S = 0.5
PATCH_BLOCK = 256
MAX_DURATION_S = 600.0  # every patch is matched against every original position: quadratic in the duration
MIN_DURATION_S = 1.0


@dataclass(frozen=True)
class GlobalFit:
    factor: float  # d(original time) / d(suspect time)
    pitch_follows_speed: bool  # True: tape-style (spectrum moved by the factor); False: pitch kept
    offset_s: float  # original time at suspect time 0 (the strongest alignment)
    ncc: float  # normalised correlation of the best alignment


@dataclass(frozen=True)
class AudioAlignment:
    fit: GlobalFit
    mapping: TimeMapping  # suspect seconds -> original seconds, from fit_time_mapping
    suspect_bands: np.ndarray  # band features of the suspect (pitch hypothesis applied), its own clock
    original_bands: np.ndarray

    def locate_cut(self, speed: float, q_lo: float, q_hi: float, offset_before: float, offset_after: float) -> float:
        """Suspect time in [q_lo, q_hi] where the mapping switches from one offset to the next.

        Each frame is matched against the original under both offsets; the switch is where the frames before
        it fit the first line and those after it the second best (least total spectral distance)."""
        frames = np.arange(int(np.ceil(q_lo / HOP_S)), int(q_hi / HOP_S) + 1)
        frames = frames[(frames >= 0) & (frames < self.suspect_bands.shape[1])]
        if len(frames) < 2:
            return 0.5 * (q_lo + q_hi)
        costs = []
        for offset in (offset_before, offset_after):
            target = np.clip(np.round((speed * frames * HOP_S + offset) / HOP_S).astype(int), 0,
                             self.original_bands.shape[1] - 1)  # fmt: skip
            costs.append(np.linalg.norm(self.suspect_bands[:, frames] - self.original_bands[:, target], axis=0))
        # total cost of switching before frame k: first line up to k-1, second line from k on
        before = np.concatenate([[0.0], np.cumsum(costs[0])])
        after = np.concatenate([np.cumsum(costs[1][::-1])[::-1], [0.0]])
        k = int(np.argmin(before + after))
        return float(frames[min(k, len(frames) - 1)] * HOP_S) if k < len(frames) else float(q_hi)


def band_features(fine: np.ndarray, pitch_ratio: float) -> np.ndarray:
    """(bands, frames): the fine spectrum pooled into BANDS_PER_OCTAVE bands over [BAND_LO, BAND_HI] x pitch_ratio,
    smoothed over SMOOTH_FRAMES and normalised per band (zero mean, unit variance)."""
    per_band = FINE_PER_OCTAVE // BANDS_PER_OCTAVE
    n_bands = round(np.log2(BAND_HI_HZ / BAND_LO_HZ) * BANDS_PER_OCTAVE)
    start = round((np.log2(BAND_LO_HZ / FINE_LO_HZ) + np.log2(pitch_ratio)) * FINE_PER_OCTAVE)
    stop = start + n_bands * per_band
    if start < 0 or stop > fine.shape[0]:
        raise UsageError(f"pitch ratio {pitch_ratio:.2f} is outside the analysed range")
    bands = fine[start:stop].reshape(n_bands, per_band, -1).mean(axis=1)
    if SMOOTH_FRAMES > 1 and bands.shape[1] >= SMOOTH_FRAMES:
        kernel = np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES
        bands = np.apply_along_axis(np.convolve, 1, bands, kernel, mode="same")
    bands = bands - bands.mean(axis=1, keepdims=True)
    return bands / (bands.std(axis=1, keepdims=True) + 1e-6)


def retime(features: np.ndarray, factor: float) -> np.ndarray:
    """Suspect frames resampled onto the original's clock: frame k there is suspect frame k / factor."""
    n = features.shape[1]
    positions = np.arange(int(np.floor((n - 1) * factor)) + 1) / factor
    lo = np.minimum(positions.astype(int), n - 2)
    frac = (positions - lo)[None, :]
    return features[:, lo] * (1.0 - frac) + features[:, lo + 1] * frac


def overlap_ncc(a: np.ndarray, b: np.ndarray, min_overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """(lags, ncc): correlation of a[:, k] with b[:, k + lag], summed over bands and normalised by both signals'
    energy inside the overlap; lags with less than min_overlap frames of overlap are left out."""
    na, nb = a.shape[1], b.shape[1]
    size = 1 << int(np.ceil(np.log2(na + nb)))
    spectrum = (np.conj(np.fft.rfft(a, size, axis=1)) * np.fft.rfft(b, size, axis=1)).sum(axis=0)
    full = np.fft.irfft(spectrum, size)
    lags = np.arange(-(na - 1), nb)
    num = full[lags % size]
    ea = np.concatenate([[0.0], np.cumsum((a**2).sum(axis=0))])
    eb = np.concatenate([[0.0], np.cumsum((b**2).sum(axis=0))])
    a_lo, a_hi = np.maximum(0, -lags), np.minimum(na, nb - lags)
    overlap = a_hi - a_lo
    ok = overlap >= min_overlap
    denom = np.sqrt((ea[a_hi] - ea[a_lo]) * (eb[a_hi + lags] - eb[a_lo + lags]))
    ncc = np.where(ok & (denom > 0), num / np.maximum(denom, 1e-9), -1.0)
    # A short overlap correlates well by chance more easily than a long one: scale by the square root of the
    # share of the shorter signal that overlaps (1 wherever one lies wholly inside the other).
    return lags, ncc * np.sqrt(overlap / min(na, nb))


def factor_grid(lo: float = FACTOR_RANGE[0], hi: float = FACTOR_RANGE[1], step: float = GRID_STEP) -> np.ndarray:
    return np.exp(np.arange(np.log(lo), np.log(hi) + 1e-9, step))


def global_candidates(suspect_fine: np.ndarray, original_fine: np.ndarray, count: int = CANDIDATES) -> list[GlobalFit]:
    """The best (factor, pitch hypothesis, offset) fits over the factor grid, strongest first: the peaks of the
    score over the grid, at least CANDIDATE_SEPARATION apart in log factor. Empty when nothing overlaps enough."""
    original = band_features(original_fine, 1.0)
    kept = band_features(suspect_fine, 1.0)
    grid = factor_grid()
    min_overlap = int(MIN_OVERLAP_S / HOP_S)
    scores = np.full((2, len(grid)), -1.0)
    lags_at = np.zeros((2, len(grid)), int)
    for i, factor in enumerate(grid):
        for moved in (False, True):
            if moved and abs(np.log(factor)) < 0.5 * GRID_STEP:
                continue  # at 1.0 both hypotheses are the same
            feats = band_features(suspect_fine, factor) if moved else kept
            warped = retime(feats, factor)
            if warped.shape[1] < min_overlap:
                continue
            lags, ncc = overlap_ncc(warped, original, min(min_overlap, original.shape[1]))
            best = int(np.argmax(ncc))
            scores[int(moved), i], lags_at[int(moved), i] = ncc[best], lags[best]
    fits: list[GlobalFit] = []
    for flat in np.argsort(-scores, axis=None):
        moved, i = np.unravel_index(int(flat), scores.shape)
        if scores[moved, i] <= -1.0 or len(fits) >= count:
            break
        factor = float(grid[i])
        if any(abs(np.log(factor / f.factor)) < CANDIDATE_SEPARATION for f in fits):
            continue
        if 0 < i < len(grid) - 1:  # parabola through the neighbours on the log-factor axis
            left, mid, right = scores[moved, i - 1], scores[moved, i], scores[moved, i + 1]
            curve = left - 2 * mid + right
            if curve < 0:
                factor *= float(np.exp(np.clip(0.5 * (left - right) / curve, -1.0, 1.0) * GRID_STEP))
        fits.append(GlobalFit(factor, bool(moved), float(lags_at[moved, i] * HOP_S), float(scores[moved, i])))
    # Natural speed is always tried too (as the line fitter always tries slope 1): several jump cuts split the
    # copy into pieces at different lags, and no single lag of the global correlation then stands out.
    unit = int(np.argmin(np.abs(np.log(grid))))
    if fits and not any(abs(np.log(f.factor)) < CANDIDATE_SEPARATION for f in fits) and scores[0, unit] > -1.0:
        fits.append(GlobalFit(1.0, False, float(lags_at[0, unit] * HOP_S), float(scores[0, unit])))
    return fits


def local_votes(suspect_fine: np.ndarray, original_fine: np.ndarray, fit: GlobalFit) -> list[FramePair]:
    """(suspect time, original time, distance) candidates: each re-timed suspect patch at its best-matching
    original positions; distance = round(100 * (1 - NCC)), so fit_time_mapping weights better matches higher."""
    original = band_features(original_fine, 1.0).astype(np.float32)
    warped = retime(band_features(suspect_fine, fit.factor if fit.pitch_follows_speed else 1.0), fit.factor)
    width, step = int(PATCH_S / HOP_S), int(PATCH_STEP_S / HOP_S)
    if warped.shape[1] < width or original.shape[1] < width:
        return []
    windows = np.lib.stride_tricks.sliding_window_view(original, width, axis=1)  # bands, positions, width
    windows = windows.transpose(1, 0, 2).reshape(windows.shape[1], -1)
    windows = windows - windows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(windows, axis=1)
    starts = np.arange(0, warped.shape[1] - width + 1, step)
    loud = suspect_fine.max(axis=0)
    active = retime((loud > loud.max() - ACTIVE_DB)[None, :].astype(float), fit.factor)[0]
    starts = np.array([s for s in starts if active[s : s + width].mean() >= MIN_ACTIVE], dtype=int)
    if len(starts) == 0:
        return []
    patches = np.stack([warped[:, s : s + width].reshape(-1) for s in starts]).astype(np.float32)
    patches = patches - patches.mean(axis=1, keepdims=True)
    pnorms = np.linalg.norm(patches, axis=1)
    pairs = []
    for row, start in enumerate(starts):
        if row % PATCH_BLOCK == 0:  # a block of patches at a time keeps the (patches x positions) matrix small
            block = slice(row, row + PATCH_BLOCK)
            ncc = (patches[block] @ windows.T) / np.maximum(pnorms[block, None] * norms[None, :], 1e-9)
        values = ncc[row % PATCH_BLOCK]
        best = float(values.max())
        if best < MIN_PATCH_NCC:
            continue
        # local maxima within the tie margin: a repeated phrase can match in two places
        peak = (values >= best - TIE_NCC) & (values >= np.roll(values, 1)) & (values >= np.roll(values, -1))
        q = (start + width / 2) * HOP_S / fit.factor
        for col in np.nonzero(peak)[0]:
            pairs.append(FramePair(float(q), float((col + width / 2) * HOP_S), round(100 * (1 - values[col]))))
    return pairs


def align_audio(suspect: Audio, original: Audio) -> AudioAlignment | None:
    """Speed, pitch hypothesis and segments of suspect against original; None when they share no audio."""
    for audio, role in ((suspect, "suspect"), (original, "original")):
        if audio.duration_s < MIN_DURATION_S:
            raise UsageError(f"the {role} audio is {audio.duration_s:.2f} s long; comparing needs at least "
                             f"{MIN_DURATION_S:.0f} s")  # fmt: skip
        if audio.duration_s > MAX_DURATION_S:
            raise LimitExceeded(f"the {role} audio is {audio.duration_s:.0f} s long; audio-only comparing handles "
                                f"up to {MAX_DURATION_S:.0f} s (cut the part in question out first)")  # fmt: skip
        if not np.any(np.abs(audio.samples) > 1e-4):
            raise UsageError(f"the {role} audio is silent; there is nothing to align")
    suspect_fine, original_fine = fine_log_spectrum(suspect), fine_log_spectrum(original)
    best: tuple[float, GlobalFit, TimeMapping] | None = None
    for fit in global_candidates(suspect_fine, original_fine):
        if fit.ncc < MIN_GLOBAL_NCC:
            continue
        pairs = local_votes(suspect_fine, original_fine, fit)
        threshold = round(100 * (1 - MIN_PATCH_NCC))
        mapping = fit_time_mapping(pairs, threshold, tolerance_s=0.06, max_gap_s=2.0, min_segment_frames=5,
                                   speed_range=(fit.factor * 0.95, fit.factor * 1.05))  # fmt: skip
        # The candidate whose segments explain the most suspect time wins (patches are PATCH_STEP_S apart on
        # the original's clock, PATCH_STEP_S / factor on the suspect's); a wrong speed explains some time too,
        # but only in many short pieces, so every segment after the first costs SEGMENT_COST_S.
        explained = mapping.matched_frames * PATCH_STEP_S / fit.factor
        explained -= SEGMENT_COST_S * max(0, len(mapping.segments) - 1)
        if best is None or explained > best[0]:
            best = (explained, fit, mapping)
    if best is None or not best[2].segments:
        return None
    _, fit, mapping = best
    suspect_bands = band_features(suspect_fine, fit.factor if fit.pitch_follows_speed else 1.0)
    return AudioAlignment(fit, mapping, suspect_bands, band_features(original_fine, 1.0))


def edits_from_segments(segments: list[Segment], speed: float, min_jump_s: float = 0.2, min_insert_s: float = 0.5,
                        locate_cut=None) -> tuple[list[dict], list[dict]]:  # fmt: skip
    """(removed, inserted) pieces between consecutive segments sorted by suspect time.

    Across a gap of g suspect seconds the original should advance speed * g; it advances speed * g + jump.
    jump >= min_jump_s: that much of the original was removed. An original that does not advance across a gap of
    at least min_insert_s: the gap is material the original lacks. Any other backward jump: a repeat.
    Segment ends are patch centres, so a cut lies within half a patch around the gap; `locate_cut(speed, q_lo,
    q_hi, offset_before, offset_after)` (AudioAlignment.locate_cut) places it there, else the gap's middle.
    """
    removed: list[dict] = []
    inserted: list[dict] = []
    offsets = [s.orig_start - speed * s.query_start for s in segments]
    for k in range(1, len(segments)):
        prev, seg = segments[k - 1], segments[k]
        jump = offsets[k] - offsets[k - 1]
        gap = max(0.0, seg.query_start - prev.query_end)
        advance = speed * gap + jump
        if jump >= min_jump_s:
            cut_q = 0.5 * (prev.query_end + seg.query_start)
            if locate_cut is not None:
                margin = 0.5 * PATCH_S / speed
                cut_q = locate_cut(speed, prev.query_end - margin, seg.query_start + margin, offsets[k - 1], offsets[k])
            removed.append({"suspect_s": round(cut_q, 3),
                            "original": [round(speed * cut_q + offsets[k - 1], 3), round(speed * cut_q + offsets[k], 3)],
                            "duration_s": round(jump, 3)})  # fmt: skip
        elif gap >= min_insert_s and abs(advance) < min_jump_s:
            inserted.append({"suspect": [round(prev.query_end, 3), round(seg.query_start, 3)],
                             "duration_s": round(gap, 3)})  # fmt: skip
        elif jump <= -min_jump_s:
            inserted.append({"suspect": [round(seg.query_start, 3), round(seg.query_end, 3)],
                             "repeats_original": [round(seg.orig_start, 3), round(seg.orig_end, 3)],
                             "duration_s": round(seg.query_end - seg.query_start, 3)})  # fmt: skip
    return removed, inserted
