"""Frame-rate conversion: the repeat/drop patterns it leaves without any change of playback speed.

Converting footage made at rate s to a file rate F by nearest frame (ffmpeg `fps`, an editor's conform) shows
source frame floor(k * s / F + phase) at output frame k: the step pattern of re-timing by s / F. 25 -> 30 fps
repeats one frame in six (the pattern of 0.833x), 30 -> 25 drops one in six (1.2x). Footage often went through
two conversions before anyone checks it: LivePortrait d6 is 25 fps picture in a 30 fps file (a repeat every sixth
frame as shot), d10 15 fps with every frame doubled; converted again (d6 to 60 fps, say) the two patterns compose
into one that matches no single ratio and read as 0.25x re-timing at full confidence (bench/speed_video_audio.py).

So a pattern counts as re-timing only when no conversion explains it: `frame_rate_ratio` checks the factor
against the file's rate, and `conversion_explaining` simulates one- and two-stage conversions into the file's
rate (source rate s, an intermediate rate, both phases) and compares their step sequences with the frames.
"""

from __future__ import annotations

import numpy as np

# frame rates whose conversions leave a re-timing pattern without any change of speed
FRAME_RATES = (23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 59.94, 60.0)
# rates a picture may have had before a conversion: the common ones, 48 fps, and their halves (footage with every
# frame doubled as shot, like LivePortrait d10: 15 fps in a 30 fps file, which reads as 0.5x repeats as is)
SOURCE_RATES = FRAME_RATES + (48.0,) + tuple(rate / 2 for rate in (23.976, 24.0, 25.0, 29.97, 30.0))
RATE_RATIO_TOLERANCE = 0.005
# A conversion explains the frames when its simulated step sequence correlates with them at least this share of
# the best single re-timing pattern's correlation. Re-timed clips of the test sets reach at most 0.72 of it with
# a conversion their contrast allows; natural conversions 0.9-1.0, and more than 1 when two conversions compose
# (bench/speed_video_audio.py).
EXPLAINS_SHARE = 0.85
PHASES = 12
# the repeat/drop contrast (speed_video.contrast) that rules a candidate out: clear drops are no repeat-only
# conversion, clear repeats no drop-only one (the re-timed clips read 0.00-0.39 and 0.43-0.71)
CLEAR_DROPS = 0.45
CLEAR_REPEATS = 0.30


def frame_rate_ratio(factor: float, fps: float | None = None) -> str | None:
    """'s/F' when the pattern of `factor` is what converting from a rate s to the file's rate F = `fps` leaves
    (factor = s / F within 0.5 %, s one of SOURCE_RATES): a conversion, not a speed change. A file's rate pins
    the pair: 1.25x drops in a 24 fps file are a 30 -> 24 conversion, in a 25 or 30 fps file a speed-up (no
    common rate is 31.25 or 37.5 fps). Without the file's rate, any pair of FRAME_RATES counts."""
    best, name = RATE_RATIO_TOLERANCE + 1e-12, None
    if fps is not None and fps > 0:
        for source in SOURCE_RATES:
            error = abs(factor * fps / source - 1.0)
            if abs(source / fps - 1.0) > RATE_RATIO_TOLERANCE and error < best - 1e-12:
                best, name = error, f"{source:g}/{fps:g}"
        return name
    for a in FRAME_RATES:
        for b in FRAME_RATES:
            error = abs(factor / (a / b) - 1.0)
            if a != b and error < best - 1e-12:  # the first (lowest) pair wins a tie: 25/30, not 50/60
                best, name = error, f"{a:g}/{b:g}"
    return name


def conversion_steps(source: float, middle: float, fps: float, n: int) -> np.ndarray:
    """Source-frame steps between n + 1 consecutive output frames after converting `source` -> `middle` ->
    `fps` by nearest frame, for PHASES x PHASES phase pairs: shape (PHASES * PHASES, n)."""
    phases = np.arange(PHASES) / PHASES
    middle_index = np.floor(np.arange(n + 1)[None, :] * (middle / fps) + phases[:, None])  # phase2 x frames
    source_index = np.floor(middle_index[None, :, :] * (source / middle) + phases[:, None, None])
    return np.diff(source_index, axis=2).reshape(PHASES * PHASES, n)


def _candidates(fps: float):
    """(name, source rate, intermediate rate) of the conversions into `fps` worth simulating."""
    for source in SOURCE_RATES:
        yield f"{source:g}/{fps:g}", source, fps  # one stage
        for middle in FRAME_RATES:
            if middle >= source / 2 and min(abs(middle / fps - 1.0), abs(middle / source - 1.0)) > RATE_RATIO_TOLERANCE:
                yield f"{source:g}/{middle:g}/{fps:g}", source, middle  # two (a middle rate below half the source's
                # would throw most of it away)


def _best_correlation(observed: np.ndarray, sequences: np.ndarray) -> float:
    z = (observed - observed.mean()) / (observed.std() + 1e-9)
    spread = sequences.std(axis=1)
    keep = spread > 1e-6  # a constant sequence (no event) explains nothing
    if not keep.any():
        return -1.0
    centred = sequences[keep] - sequences[keep].mean(axis=1, keepdims=True)
    return float(np.max(centred @ z / (len(z) * spread[keep])))


def conversion_explaining(observed: np.ndarray, fps: float, best_score: float, contrast: float) -> str | None:
    """The name of a one- or two-stage frame-rate conversion ('25/30', '25/30/60') whose step sequence
    correlates with `observed` (the locally normalised frame-to-frame change) at least EXPLAINS_SHARE of
    `best_score` (the best re-timing pattern's correlation), or None. A conversion that only repeats frames is
    ruled out by clear drops (contrast above CLEAR_DROPS), one that only drops by clear repeats."""
    if fps <= 0 or best_score <= 0:
        return None
    n = len(observed)
    best, name = EXPLAINS_SHARE * best_score, None
    for candidate, source, middle in _candidates(fps):
        steps = conversion_steps(source, middle, fps, n)
        repeats, drops = bool((steps == 0).any()), bool((steps >= 2).any())
        if (repeats and not drops and contrast > CLEAR_DROPS) or (drops and not repeats and contrast < CLEAR_REPEATS):
            continue
        score = _best_correlation(observed, steps.astype(np.float32))
        if score >= best:
            best, name = score, candidate
    return name


# re-timing factors searched for footage that was converted before it was re-timed (coarse, then fine)
COMPOSITE_FACTORS = np.arange(0.50, 1.951, 0.01)
COMPOSITE_BETTER = 1.10  # the composite must correlate this much better than the plain re-timing pattern


def _composite_scores(observed: np.ndarray, source: float, fps: float, factors: np.ndarray) -> np.ndarray:
    """Best correlation with `observed` of footage made at `source`, converted to `fps` as shot, re-timed by each
    factor at `fps` (all phase pairs), one value per factor."""
    n = len(observed)
    z = ((observed - observed.mean()) / (observed.std() + 1e-9)).astype(np.float32)
    phases = np.arange(PHASES) / PHASES
    frame = np.floor(np.arange(n + 1)[None, None, :] * factors[:, None, None] + phases[None, :, None])  # r, ph2, k
    content = np.floor(frame[:, None, :, :] * (source / fps) + phases[None, :, None, None])  # r, ph1, ph2, k
    steps = np.diff(content, axis=3).reshape(len(factors), PHASES * PHASES, n).astype(np.float32)
    spread = steps.std(axis=2)
    corr = np.einsum("rpk,k->rp", steps - steps.mean(axis=2, keepdims=True), z) / (n * np.maximum(spread, 1e-6))
    corr[spread < 1e-6] = -1.0
    return corr.max(axis=1)


def retimed_after_conversion(observed: np.ndarray, fps: float, plain_score: float) -> tuple[float, str] | None:
    """(factor, 's/F') when `observed` is better explained as footage made at s, converted to the file's rate F as
    shot, then re-timed by the factor at rate F (LivePortrait d6 at 0.75x reads as 0.25x repeats as a plain
    pattern): its step sequence must correlate COMPOSITE_BETTER times the plain pattern's `plain_score`."""
    if fps <= 0 or plain_score <= 0:
        return None
    best, found = COMPOSITE_BETTER * plain_score, None
    # NTSC rates (23.976, 29.97 / 2) differ from their round neighbours by 0.1 %: within 10 s the same sequence
    for source in sorted({round(rate) if abs(rate - round(rate)) < 0.03 else rate for rate in SOURCE_RATES}):
        if source >= fps * (1.0 - RATE_RATIO_TOLERANCE):
            continue  # only footage with frames repeated as shot: dropped ones are gone, nothing composes
        coarse = _composite_scores(observed, source, fps, COMPOSITE_FACTORS)
        i = int(np.argmax(coarse))
        if coarse[i] < best:
            continue
        fine_factors = np.arange(COMPOSITE_FACTORS[i] - 0.01, COMPOSITE_FACTORS[i] + 0.0101, 0.001)
        fine = _composite_scores(observed, source, fps, fine_factors)
        j = int(np.argmax(fine))
        best, found = max(coarse[i], fine[j]), (round(float(fine_factors[j]), 4), f"{source:g}/{fps:g}")
    return found
