"""Playback speed from the frames alone: the step pattern that re-timing leaves at an unchanged frame rate.

Re-timing a clip by factor r and keeping its frame rate makes output frame k show source time k*r + phase.
Nearest-frame re-timing (ffmpeg `setpts=PTS/r` + `fps`, an editor's "frame sampling") shows source frame
floor(k*r + phase), so the step between consecutive output frames is floor((k+1)r+ph) - floor(kr+ph): for
r < 1 it is 0 (a repeated frame) in a share 1 - r of frames, for 1 < r < 2 it is 2 (a dropped frame: about twice
the usual frame-to-frame change) in a share r - 1, in a fixed periodic order. Frame blending (ffmpeg
`framerate`, "frame blending" in editors) shows a weighted mean of the two nearest source frames; between two
source frames the picture then changes linearly, so the second difference of the frames is near zero except
where a source frame is passed, again on a grid of frac(k*r + phase).

The estimator fits both predicted patterns (grid over the fractional part of r and the phase) against the
observed frame-to-frame change (and second difference), each normalised by the local amount of motion, and keeps
the best Pearson correlation. Natural talking-head motion is jerky but not periodic: its best fit is the null
distribution the thresholds below come from (bench/video_speed_accuracy.py). The integer part of r comes from
the contrast where the clip moves most: a repeat changes nothing (low/high step ratio 0.0-0.4 on the test set),
a dropped frame about doubles the change (0.43-0.71).

What frames cannot show: r = 2.0 exactly (every other frame dropped) or 1.0 leave a constant step, no pattern;
and a frame-rate conversion is a re-timing of the frame grid without a change of speed: 25 -> 30 fps repeats one
frame in six (the pattern of 0.833x), 30 -> 25 drops one in six (1.2x). `rate_ratio` names the conversion that
explains a pattern (dflab.shallow.rate_conversion): the factor against the file's own rate (`fps`: 1.25x drops
are 30 -> 24 in a 24 fps file, a speed-up in a 25 or 30 fps one), or one or two simulated conversions whose step
sequence fits about as well (footage converted as shot and converted again: LivePortrait d6, 25 fps pictures in a
30 fps file, read 0.25x repeats at full confidence once converted to 60 fps). Footage converted as shot and then
re-timed is fitted as such (d6 at 0.75x read 0.25x). A pattern is `strong` (the speed detector lets it set the
factor and overrule the sound) only without a conversion and without a `doubt`: blends (which of f, 1 - f,
1 + f, 2 - f is a guess, and x264's B-frames blend too), a contrast between repeats and drops, a composite fit.
Two LivePortrait clips carry a conversion as shot: d6 reads 0.833x repeats (25/30), d10 0.498x (every frame
doubled); d20's repeats (about 15 %) stay below the threshold.

Measured (bench/video_speed_accuracy.py, 315 clips of LivePortrait and FF++ footage, thresholds fitted on one
source group and scored on the other): nearest-frame re-timing found at 0.5x 95 %, 0.75x 89 %, 0.9x 63 %,
1.1x 50 %, 1.25x 83 %, 1.5x 72 % with a median factor error of 0.04-0.4 %; misses are calm clips whose
frame-to-frame change is near codec noise. Frame blending is harder, because x264 B-frames are near-averages of
their references: natural clips carry a blend-like rhythm on the P/B grid. With the codec's frame types
(`pict_types`) the banded blend test finds 0.5x 10/19, 0.75x 10/19, 0.9x 6/19, 1.25x and 1.5x 6/18 (without:
8, 3, 3, 6, 6), natural clips flagged 10/38 either way. About 70 ms per 10 s clip of 320 px frames with frame
types, 50 ms without.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.media.video import area_thumbnail
from dflab.shallow.rate_conversion import (  # noqa: F401 (FRAME_RATES, frame_rate_ratio: public here too)
    FRAME_RATES,
    conversion_explaining,
    frame_rate_ratio,
    retimed_after_conversion,
)

THUMB = 64  # frames are compared as 64x64 grey thumbnails: motion, not detail
REPEAT_RATIO = 0.15  # a frame is a repeat when it changes less than 15 % of the change around it
BLEND_RATIO = 0.25  # ... a blend when it is this much closer to its neighbours' mean than to either neighbour
MIN_FRAMES = 24
# motion is normalised by its mean over +-3 frames for the step fit (it follows a talking head's changes of
# pace; +-5 and +-8 caught 1-2 fewer re-timed clips at the same false-alarm level) and +-8 for the blend fit
STEP_LOCAL_FRAMES = 3
BLEND_LOCAL_FRAMES = 8
# the fractional part of r searched; sparser patterns (r within 5 % of 1 or 2) fit natural jerks too often
FRACTION_GRID = np.arange(0.050, 0.9501, 0.001)
PHASES = 24
# A pattern counts when its correlation times sqrt(frames) (about a z-score: the null's spread shrinks as
# 1/sqrt(n), so short and long clips share one threshold) passes these: the smallest values above every natural
# and re-encoded clip of the video speed test set (LivePortrait + FF++, 38 clips) plus 0.25, leaving out the
# as-shot 25 -> 30 fps conversions, which do repeat frames. bench/video_speed_accuracy.py also fits them on one
# source group and scores the other (held out: 7.62 / 8.86 fitted on LivePortrait, 5.79 / 7.34 on FF++).
STEP_THRESHOLD = 7.7
BLEND_THRESHOLD = 8.9
# Editors and ffmpeg users re-time by round factors. Searched only at the quarter fractions (+-0.004: 29.97 against
# 30 fps), the step fit has two chances instead of ~900 to fit natural jerks, so its null is far lower: natural
# clips of both test sets reach z 4.2-5.2 there (against 7.5 over the whole grid; bench/video_speed_accuracy.py
# fits it held out by source group). A clip without any pattern over the whole grid is tested again at these
# fractions with this lower threshold: 1.25x drops of moving LivePortrait clips (d14, d20 at z 6.0-6.4) sit
# between the two lines.
# fraction -> the reading it may give: 1.25x drops, 0.75x repeats. Left to the whole-grid test: 1.75x drops and
# 0.25x repeats (a pattern whose low steps are the majority fits other rhythms too: LivePortrait d12 at 1.25x reads
# as 1.75x drops at z 6.6 here; 0.25x repeats are never too weak for it), and the period-2 pattern of 0.5x repeats
# and 1.5x drops, which only the contrast tells apart, and a calm head blurs it (d19 at 0.5x read as a strong
# 1.5x speed-up here)
PRESET_FRACTIONS = {0.25: ("drop",), 0.75: ("repeat",)}
PRESET_TOLERANCE = 0.004
PRESET_STEP_THRESHOLD = 5.5
# With the codec's frame types known, the blend fit runs in three bands of frac(r), folded to [0.05, 0.5] (the
# blend pattern of f and 1 - f is the same): long (r within 15 % of an integer), mid, and p2 (period ~2, r ~0.5 or
# 1.5). x264 B-frames are near-averages of their references, so natural clips carry a blend-like rhythm on the P/B
# grid (natural p2 z up to 8.5 on crf 34 re-encodes); in the p2 band each frame's second difference is divided by
# the median of its frame type, which brings the natural maximum to ~4. Each band has its own threshold (max over
# the natural clips of the test set + 0.25, bench/video_speed_accuracy.py). The type normalisation also removes
# the signal when the encoder puts its B-frames on the blended frames (0.5x and 1.5x blends, every other frame),
# so the single BLEND_THRESHOLD test still runs beside the bands.
BLEND_BANDS = {"long": (0.05, 0.15), "mid": (0.15, 0.42), "p2": (0.42, 0.5)}
BLEND_BAND_THRESHOLDS = {"long": 7.65, "mid": 6.43, "p2": 4.45}
TYPE_NORMALISED_BANDS = ("p2",)
# low/high step ratio (contrast()) below which the low steps are repeats (r < 1), above: drops (r > 1). On the
# test set, re-timed clips read 0.00-0.39 for repeats, 0.43-0.71 for drops
CODEC_RHYTHM = "the codec's rhythm of frame types"  # VideoSpeed.doubt of a pattern codec_rhythm_explains
REPEAT_CONTRAST = 0.40
DROP_CONTRAST = 0.80  # above it the high steps are not ~2x the low ones: not a dropped frame
# between these the contrast does not say repeats or drops: a 1.25x clip whose drops read 0.38 would be reported
# as 0.25x; above CLEAR_DROP_CONTRAST "double" steps are barely larger than single ones. Calm clips, where a step
# is near the codec's noise, land in both (LivePortrait d18 converted 30 -> 60 fps reads as 1.25x drops at 0.79)
UNCLEAR_CONTRAST = (0.30, 0.43)
CLEAR_DROP_CONTRAST = 0.72


@dataclass(frozen=True)
class VideoSpeed:
    factor: float | None  # the re-timing factor (>1: sped up); None when no re-timing pattern is seen
    confidence: float
    repeat_fraction: float  # share of frames that barely change against the change around them
    blend_fraction: float  # share of frames close to the mean of their neighbours
    n_frames: int
    method: str | None = None  # "repeat" (slowed, frames repeated), "drop" (sped up, frames dropped), "blend"
    direction: str | None = None  # "slower" or "faster" when a pattern is seen
    pattern_score: float = 0.0  # best Pearson correlation of a predicted pattern with the frames (step or blend)
    blend_score: float = 0.0  # the blend pattern's own best score (pattern_score is the larger of the two)
    rate_ratio: str | None = None  # e.g. "25/30" when the factor is a frame-rate conversion ratio
    step_z: float = 0.0  # step-pattern correlation x sqrt(frames), compared with STEP_THRESHOLD
    blend_z: float = 0.0  # blend-pattern correlation x sqrt(frames), against BLEND_THRESHOLD (or blend_band's threshold)
    step_contrast: float = 1.0  # median change at the pattern's low steps / at its high steps
    blend_band: str | None = None  # the BLEND_BANDS band whose test spoke (frame types known); None: the single test
    doubt: str | None = None  # why the factor may be wrong though no conversion explains it ("blend", ...)
    preset: bool = False  # found by the test at PRESET_FRACTIONS only (below STEP_THRESHOLD over the whole grid)

    @property
    def strong(self) -> bool:
        """A re-timing pattern that no frame-rate conversion explains, read from clear repeats or drops: the
        frames' factor can stand against the sound's."""
        return self.factor is not None and self.rate_ratio is None and self.doubt is None


def grey_thumbnails(frames: list[np.ndarray]) -> np.ndarray:
    return np.stack([grey_thumbnail(f) for f in frames]).astype(np.float32)


def grey_thumbnail(rgb: np.ndarray) -> np.ndarray:
    """THUMB x THUMB area-averaged grey, float32 (media.video.area_thumbnail of the frame's grey)."""
    import cv2

    return area_thumbnail(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), THUMB)


# A hard cut between two thumbnails: a change at least CUT_RATIO times the median change around it (31 frames) and
# at least CUT_MIN_DIFF grey levels. The loop joins of five long test clips read 9-82 times their surroundings;
# the largest motion peaks of a 1.5x copy 6.3 times.
CUT_RATIO, CUT_MIN_DIFF = 8.0, 3.0


def longest_shot(thumbs: np.ndarray) -> slice:
    """The longest stretch of consecutive thumbnails without a hard cut. A re-timing or a frame-rate conversion
    runs in one phase through a shot and a cut restarts it, so read across a cut a conversion no longer explains
    its own pattern (a natural 30 fps clip converted from 60/50 fps, looped once, read as a strong 1.33x)."""
    from scipy.ndimage import median_filter

    if len(thumbs) < 3:
        return slice(0, len(thumbs))
    diffs = np.mean(np.abs(np.diff(thumbs, axis=0)), axis=(1, 2))
    around = median_filter(diffs, size=31, mode="nearest")
    cuts = np.flatnonzero((diffs >= CUT_MIN_DIFF) & (diffs >= CUT_RATIO * np.maximum(around, 0.1)))
    bounds = [0, *(int(c) + 1 for c in cuts), len(thumbs)]
    start, end = max(zip(bounds, bounds[1:]), key=lambda span: span[1] - span[0])
    return slice(start, end)


def local_normalised(values: np.ndarray, half: int) -> np.ndarray:
    """values / their mean over +-half neighbours (edges padded), clipped at 4 so a cut does not dominate."""
    padded = np.pad(values, half, mode="reflect") if len(values) > half else np.pad(values, half, mode="edge")
    level = np.convolve(padded, np.ones(2 * half + 1) / (2 * half + 1), mode="valid")
    return np.clip(values / np.maximum(level, 1e-3), 0.0, 4.0)


def step_pattern(fraction: np.ndarray, phase: np.ndarray, n: int) -> np.ndarray:
    """Source-frame steps minus their integer part, floor((k+1)f+ph) - floor(kf+ph) in {0, 1}, shape
    fraction x phase x n: 1 where nearest-frame re-timing by r (frac(r) = f) takes one more source frame."""
    t = np.arange(n + 1, dtype=np.float64)[None, None, :] * fraction[:, None, None] + phase[None, :, None]
    return np.diff(np.floor(t), axis=2).astype(np.float32)


def blend_pattern(fraction: np.ndarray, phase: np.ndarray, n: int) -> np.ndarray:
    """1 where output frame k sits on a source frame, falling linearly to 0 half-way between two (the blended
    frame's second difference is largest where a source frame, a kink of the interpolation, is passed)."""
    t = np.arange(n, dtype=np.float64)[None, None, :] * fraction[:, None, None] + phase[None, :, None]
    return (1.0 - 2.0 * np.abs(t - np.round(t))).astype(np.float32)


def best_pattern(observed: np.ndarray, pattern, fractions: np.ndarray, phases: np.ndarray) -> tuple[float, float, float]:
    """(score, fraction, phase) of the pattern with the highest Pearson correlation with `observed`."""
    z = (observed - observed.mean()) / (observed.std() + 1e-9)
    best = (-1.0, 0.0, 0.0)
    for chunk in np.array_split(fractions, max(1, len(fractions) // 64)):
        p = pattern(chunk, phases, len(observed))
        spread = p.std(axis=2)
        corr = (p @ z.astype(np.float32)) / (len(z) * np.maximum(spread, 1e-6))
        corr[spread < 1e-6] = -1.0  # a constant pattern (no event in the clip) explains nothing
        i, j = np.unravel_index(int(np.argmax(corr)), corr.shape)
        if corr[i, j] > best[0]:
            best = (float(corr[i, j]), float(chunk[i]), float(phases[j]))
    return best


def fit_pattern(observed: np.ndarray, pattern, grid: np.ndarray = FRACTION_GRID) -> tuple[float, float, float]:
    """Coarse grid over fraction and phase, then a fine one around the best (the peak is ~1/n wide)."""
    score, fraction, _ = best_pattern(observed, pattern, grid, np.arange(PHASES) / PHASES)
    if score <= -1.0:  # nothing varies (a constant series): no pattern
        return 0.0, 0.0, 0.0
    low, high = max(0.045, float(grid[0]) - 0.002), min(0.955, float(grid[-1]) + 0.002)
    fine = np.arange(max(low, fraction - 0.002), min(high, fraction + 0.002) + 1e-9, 0.0001)
    return best_pattern(observed, pattern, fine, np.arange(100) / 100)


def _kink_weights(rate: float):
    """Pattern function: the expected size of the second difference of frames blended at rate r (the RMS of
    max(0, r - |t - m|) over source frames m, t = k*r + phase); `fraction` is ignored beyond its one value."""

    def pattern(fraction: np.ndarray, phase: np.ndarray, n: int) -> np.ndarray:
        t = np.arange(n, dtype=np.float64)[None, None, :] * rate + phase[None, :, None]
        base = np.floor(t)
        total = np.zeros(np.broadcast_shapes(t.shape, (len(fraction), 1, 1)))
        for shift in range(-2, 4):
            total = total + np.maximum(0.0, rate - np.abs(t - (base + shift))) ** 2
        return np.sqrt(total).astype(np.float32)

    return pattern


def contrast(values: np.ndarray, low: np.ndarray) -> float:
    """Median of `values` where the pattern is low over the median where it is high, in the quarter of the clip
    that moves most: where the head is still, a repeat and a single step both sit at codec noise (over the whole
    clip, 0.75x repeats of a calm LivePortrait clip read 0.41, like a drop; in the moving quarter 0.05)."""
    level = np.convolve(np.pad(values, 4, mode="reflect"), np.ones(9) / 9, mode="valid")
    moving = level >= np.percentile(level, 75)
    if low[moving].all() or not low[moving].any():
        moving = np.ones_like(low)
    if low[moving].all() or not low[moving].any():
        return 1.0
    return float(np.median(values[moving & low]) / max(float(np.median(values[moving & ~low])), 1e-6))


def type_normalised(values: np.ndarray, pict_types: list[str]) -> np.ndarray:
    """values / the median of values at frames of the same codec frame type (types with fewer than 3 frames, e.g.
    the lone I-frame, by the median of all): removes the encoder's P/B rhythm, keeps what varies within a type."""
    types = np.asarray(pict_types)
    out = values / max(float(np.median(values)), 1e-6)
    for kind in set(pict_types):
        same = types == kind
        if same.sum() >= 3:
            out[same] = values[same] / max(float(np.median(values[same])), 1e-6)
    return out


def band_blend_fits(normalised: np.ndarray, pict_types: list[str]) -> dict[str, tuple[float, float, np.ndarray]]:
    """Per band of BLEND_BANDS: (z, fraction, the series it was fitted on); `pict_types` are the inner frames'."""
    typed = type_normalised(normalised, pict_types)
    fits = {}
    for band, (low, high) in BLEND_BANDS.items():
        series = typed if band in TYPE_NORMALISED_BANDS else normalised
        score, fraction, _ = fit_pattern(series, blend_pattern, np.arange(low, high + 1e-9, 0.001))
        fits[band] = (float(score * np.sqrt(len(series))), fraction, series)
    return fits


def codec_rhythm_explains(series: np.ndarray, pict_types: list[str], pattern, fraction: float,
                          threshold: float) -> bool:
    """True when a blend pattern found in `series` is the encoder's rhythm of frame types, not frame blending:
    once each frame is divided by the median of its own type (type_normalised), the pattern no longer passes
    `threshold` near its fraction. x264 puts a P-frame after every three B-frames (PBBB: a period of 4, frac
    0.25) or alternates P and B, and a B-frame is a near-average of its references; a re-encode of natural
    LivePortrait d9 read as a 0.25x blend at confidence 0.89 from exactly that. Only blend patterns are checked:
    a repeated frame is one the encoder codes cheaply (as a B-frame), so real repeats line up with the frame
    types (LivePortrait d10's doubled frames lose their pattern under this normalisation)."""
    typed = type_normalised(series, pict_types)
    grid = np.arange(max(0.045, fraction - 0.005), min(0.955, fraction + 0.005) + 1e-9, 0.001)
    score, _, _ = fit_pattern(typed, pattern, grid)
    return score * np.sqrt(len(typed)) < threshold


def known_types(pict_types: list[str] | None, n: int) -> bool:
    """Frame types usable for the banded blend test: one per frame, none unknown, more than one kind (an all-I
    stream has no P/B rhythm to remove, and no band thresholds were fitted on one)."""
    return pict_types is not None and len(pict_types) == n and all(pict_types) and len(set(pict_types)) > 1


def estimate_video_speed(frames: list[np.ndarray], step_threshold: float = STEP_THRESHOLD,
                         blend_threshold: float = BLEND_THRESHOLD, pict_types: list[str] | None = None,
                         band_thresholds: dict[str, float] | None = None, fps: float | None = None,
                         preset_threshold: float = PRESET_STEP_THRESHOLD) -> VideoSpeed:
    """Re-timing factor from the step and blend patterns (consecutive frames of the source required).

    `pict_types` (the codec's "I"/"P"/"B" per frame, dflab.media Frame.pict_type) add the banded,
    frame-type-normalised blend test (BLEND_BAND_THRESHOLDS) to the single one (BLEND_THRESHOLD); `fps`, the
    file's frame rate, tells which factors a frame-rate conversion gives (frame_rate_ratio).
    The thresholds are arguments so the benchmark can fit them on held-out sources; callers keep the defaults."""
    if len(frames) < MIN_FRAMES:
        return VideoSpeed(None, 0.0, 0.0, 0.0, len(frames))
    return speed_from_thumbnails(grey_thumbnails(frames), step_threshold, blend_threshold, pict_types, band_thresholds,
                                 fps, preset_threshold)


def speed_from_thumbnails(thumbs: np.ndarray, step_threshold: float = STEP_THRESHOLD,
                          blend_threshold: float = BLEND_THRESHOLD, pict_types: list[str] | None = None,
                          band_thresholds: dict[str, float] | None = None, fps: float | None = None,
                          preset_threshold: float = PRESET_STEP_THRESHOLD) -> VideoSpeed:
    """estimate_video_speed on grey thumbnails (frames x 64 x 64, float)."""
    n = len(thumbs)
    if n < MIN_FRAMES:
        return VideoSpeed(None, 0.0, 0.0, 0.0, n)
    diffs = np.mean(np.abs(np.diff(thumbs, axis=0)), axis=(1, 2))  # change into frame t+1, len n-1
    if float(np.percentile(diffs, 90)) < 0.05:  # a still picture: retiming cannot be seen
        return VideoSpeed(None, 0.0, 0.0, 0.0, n)
    # second difference per inner frame: twice its distance from the mean of its two neighbours
    second = np.mean(np.abs(thumbs[2:] - 2 * thumbs[1:-1] + thumbs[:-2]), axis=(1, 2))
    repeat_fraction, blend_fraction = _still_shares(diffs, second)
    size = min(1.0, n / 100)  # short clips hold few pattern periods

    step_normalised = local_normalised(diffs, STEP_LOCAL_FRAMES)
    step_score, step_f, step_ph = fit_pattern(step_normalised, step_pattern)
    step_z = step_score * np.sqrt(len(diffs))
    low = step_pattern(np.array([step_f]), np.array([step_ph]), len(diffs))[0, 0] < 0.5
    step_contrast = contrast(diffs, low)
    blend_normalised = local_normalised(second, BLEND_LOCAL_FRAMES)
    blend_score, blend_f, _ = fit_pattern(blend_normalised, blend_pattern)
    blend_z = blend_score * np.sqrt(len(second))
    blend_margin, band, codec_rhythm = blend_z - blend_threshold, None, False
    typed = known_types(pict_types, n)
    if typed and blend_margin >= 0 and codec_rhythm_explains(blend_normalised, pict_types[1:-1], blend_pattern,
                                                             blend_f, blend_threshold):
        blend_margin, codec_rhythm = -1.0, True
    if typed:  # the banded test runs beside the single one; the larger margin speaks
        thresholds = band_thresholds or BLEND_BAND_THRESHOLDS
        fits = band_blend_fits(blend_normalised, pict_types[1:-1])
        for name in [b for b in fits if b not in TYPE_NORMALISED_BANDS and fits[b][0] >= thresholds[b]]:
            if codec_rhythm_explains(fits[name][2], pict_types[1:-1], blend_pattern, fits[name][1], thresholds[name]):
                fits[name], codec_rhythm = (0.0, fits[name][1], fits[name][2]), True
        best = max(fits, key=lambda b: fits[b][0] - thresholds[b])
        if fits[best][0] - thresholds[best] > blend_margin:
            band, (blend_z, blend_f, blend_normalised) = best, fits[best]
            blend_score, blend_margin = blend_z / np.sqrt(len(second)), blend_z - thresholds[best]
    step_margin = step_z - step_threshold
    if step_contrast > DROP_CONTRAST:  # the "double" steps are not much larger: not a dropped frame
        step_margin = -1.0
    found = {"repeat_fraction": repeat_fraction, "blend_fraction": blend_fraction, "n_frames": n,
                 "blend_score": max(blend_score, 0.0), "step_z": float(step_z), "blend_z": float(blend_z),
                 "step_contrast": step_contrast, "blend_band": band}
    preset = False
    if max(step_margin, blend_margin) < 0:
        preset_fit = preset_step_fit(step_normalised, diffs, preset_threshold)
        if preset_fit is not None:  # a round re-timing factor the whole-grid test is too broad to see
            (step_score, step_f, step_ph), step_contrast, step_margin = preset_fit
            found["step_contrast"], preset = step_contrast, True
    if max(step_margin, blend_margin) < 0:
        # no pattern: natural speed, or a re-timing frames cannot show (1.0x, 2.0x, a ramp), or only the codec's
        # rhythm of frame types
        return VideoSpeed(None, 0.3 * size, pattern_score=max(step_score, 0.0),
                          doubt=CODEC_RHYTHM if codec_rhythm else None, **found)
    if step_margin >= 0:  # repeats and drops also leave a second-difference pattern: the step fit comes first
        factor, method, ratio, doubt = _step_reading(step_f, step_contrast, step_normalised, step_score, fps)
        score, margin = step_score, step_margin
    else:
        # slowed or sped up: the predicted kink weights differ in shape for r = f and r = 1 + f (and, with the
        # banded fit folded to f <= 0.5, for 1 - f and 2 - f)
        rates = (blend_f, 1.0 + blend_f) if band is None else (blend_f, 1.0 - blend_f, 1.0 + blend_f, 2.0 - blend_f)
        kinks = {r: best_pattern(blend_normalised, _kink_weights(r), np.array([r]), np.arange(100) / 100)[0]
                 for r in rates}
        factor, method, score, margin = max(kinks, key=kinks.get), "blend", blend_score, blend_margin
        doubt = "blend"  # which of f, 1 - f, 1 + f, 2 - f is a guess, and x264's B-frames blend too
        ratio = frame_rate_ratio(factor, fps)
    confidence = float(np.clip(0.5 + margin / 4.0, 0.0, 1.0) * size)
    return VideoSpeed(round(factor, 4), confidence, method=method, direction="slower" if factor < 1 else "faster",
                      pattern_score=score, rate_ratio=ratio, doubt=doubt, preset=preset, **found)


def preset_step_fit(normalised: np.ndarray, diffs: np.ndarray, threshold: float = PRESET_STEP_THRESHOLD):
    """((score, fraction, phase), contrast, margin over `threshold`) of the best step pattern at
    PRESET_FRACTIONS that fits better than the period-2 pattern and whose repeat/drop contrast is a reading that
    fraction may give (repeats below UNCLEAR_CONTRAST, drops between it and CLEAR_DROP_CONTRAST), or None."""
    def fit(fraction: float) -> tuple[float, float, float]:
        grid = np.arange(fraction - PRESET_TOLERANCE, fraction + PRESET_TOLERANCE + 1e-9, 0.001)
        return best_pattern(normalised, step_pattern, grid, np.arange(100) / 100)

    # every other frame high also puts every fourth one high: a quarter pattern is credible only where the period-2
    # one fits worse (a calm LivePortrait d19 at 0.5x fitted 1.25x drops at z 6.3, the period 2 at 6.6)
    period_two = fit(0.5)[0]
    best = None
    for fraction, readings in PRESET_FRACTIONS.items():
        score, f, phase = fit(fraction)
        margin = score * np.sqrt(len(normalised)) - threshold
        if margin < 0 or score <= period_two or (best is not None and margin <= best[2]):
            continue
        low = step_pattern(np.array([f]), np.array([phase]), len(diffs))[0, 0] < 0.5
        step_contrast = contrast(diffs, low)
        # where a fraction gives one reading, the contrast only has to rule the other out: the unclear band
        # (UNCLEAR_CONTRAST) is unclear between f as repeats and 1 + f as drops, and only one of them is in play
        alone = len(readings) == 1
        repeats = "repeat" in readings and step_contrast < UNCLEAR_CONTRAST[1 if alone else 0]
        drops = "drop" in readings and UNCLEAR_CONTRAST[0 if alone else 1] <= step_contrast < CLEAR_DROP_CONTRAST
        if repeats or drops:
            best = ((score, f, phase), step_contrast, float(margin))
    return best


def _step_reading(fraction: float, step_contrast: float, normalised: np.ndarray, score: float,
                  fps: float | None) -> tuple[float, str, str | None, str | None]:
    """(factor, method, rate ratio, doubt) of a step pattern: repeats or drops by its contrast, whether a
    frame-rate conversion into the file's rate explains it, and the factor of footage re-timed after an as-shot
    conversion (dflab.shallow.rate_conversion)."""
    slowed = step_contrast < REPEAT_CONTRAST
    factor, method = (fraction, "repeat") if slowed else (1.0 + fraction, "drop")
    doubt = None
    if UNCLEAR_CONTRAST[0] <= step_contrast < UNCLEAR_CONTRAST[1] or step_contrast > CLEAR_DROP_CONTRAST:
        doubt = "repeats or drops unclear"  # f as repeats and 1 + f as drops both fit (0.25x or 1.25x)
    ratio = frame_rate_ratio(factor, fps)
    if ratio is None and fps:
        ratio = conversion_explaining(normalised, fps, score, step_contrast)
    if ratio is None and doubt is None and fps:
        composite = retimed_after_conversion(normalised, fps, score)
        # footage converted as shot, then re-timed, misleads the plain fit (LivePortrait d6 at 0.75x reads 0.25x,
        # at 1.1x 0.82x); the composite's factor is kept, as a weak reading (its extra freedom can fit by chance)
        if composite is not None:
            factor, doubt = composite[0], f"re-timed after a {composite[1]} fps conversion as shot"
            method = "repeat" if factor < 1.0 else "drop"
    return factor, method, ratio, doubt


def _still_shares(diffs: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """Shares of repeated frames (a dip far below the change around it: 75th percentile over +-4 frames, so runs of
    two or three repeats still dip) and of blended frames (close to their neighbours' mean, away from each):
    `diffs` is the change into each frame, `second` each inner frame's second difference."""
    window = np.lib.stride_tricks.sliding_window_view(np.pad(diffs, 4, mode="edge"), 9)
    repeats = diffs < REPEAT_RATIO * np.percentile(window, 75, axis=1)
    to_mean = 0.5 * second
    blends = (to_mean < BLEND_RATIO * np.minimum(diffs[:-1], diffs[1:])) & ~repeats[:-1] & ~repeats[1:]
    return float(repeats.mean()), float(blends.mean())
