"""Compare a suspect copy with the original it derives from: speed, removed and inserted pieces, changed frames.

1. Alignment: PDQ hashes of both files at ALIGN_FPS; every (suspect frame, original frame) pair within the PDQ
   match threshold is a vote for "suspect time q shows original time o". The registry's line fitter
   (dflab.provenance.registry.align.fit_time_mapping) turns the votes into one speed factor and segments
   o = speed * q + offset_i: a jump of the offset between two segments is a removed piece (offset grows) or a
   repeated one (offset shrinks); suspect time on no segment is inserted footage.
2. Audio: the speech-band energy of the suspect, mapped through each segment's line, is cross-correlated with the
   original's (+-AUDIO_SEARCH_S) to confirm the alignment with an independent signal and refine the offset.
3. Content: each suspect frame is set against the original frame at its mapped time (the best within
   +-SEARCH_S, to absorb timing error) and compared by local SSIM on a coarse grid of blocks. A block that
   differs far more than the clip's own re-encoding noise while the rest of the frame matches is changed content
   (a swapped or blurred face, an inserted object).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.config import Limits, SamplingPolicy
from dflab.errors import UsageError

ALIGN_FPS = 10.0
CONTENT_FPS = 25.0  # frames compared per second in clips longer than ALL_FRAMES_UP_TO_S
ALL_FRAMES_UP_TO_S = 120.0
SEARCH_S = 0.15  # how far from the mapped time the matching original frame is looked for
MIN_CHANGED_FRAMES = 2  # a single odd frame is usually a timing mismatch during fast motion
THUMB_SIDE = 160  # grey thumbnails for the content comparison
GRID = 8  # SSIM blocks per side
TIE_MARGIN = 4
AUDIO_SEARCH_S = 0.25
MIN_REMOVED_S = 0.2  # offset jumps smaller than this are alignment noise
CHANGE_FACTOR = 3.0  # a block is changed when its dissimilarity exceeds this many times the clip's typical max
CHANGE_MIN = 0.25  # and at least this (1 - SSIM)


@dataclass
class Footage:
    path: Path
    times: np.ndarray  # seconds from the first frame, at CONTENT_FPS or the source rate
    thumbs: np.ndarray  # (n, h, w) float32 grey 0..1
    codes: np.ndarray  # (n, 256) bool PDQ bits
    qualities: np.ndarray
    duration_s: float
    audio: object | None  # dflab.media.Audio


def load_footage(path: str | Path, limits: Limits | None = None) -> Footage:
    import cv2

    from dflab.media import load
    from dflab.provenance.registry.hashers import pdq_code

    # Every frame of clips up to ALL_FRAMES_UP_TO_S: a re-timed copy shows frames that a fixed-rate sample of
    # the original would skip, and comparing against a neighbour frame looks like changed content.
    policy = SamplingPolicy(all_frames_up_to_s=ALL_FRAMES_UP_TO_S, rate_fps=CONTENT_FPS, max_side=320)
    media = load(Path(path), policy=policy, limits=limits or Limits(), require_video=True)
    if media.media_type != "video" or len(media.frames) < 2:
        raise UsageError(f"{path}: comparing needs a video (this is {media.media_type})")
    start = media.frames[0].time_s
    times, thumbs, codes, qualities = [], [], [], []
    for frame in media.frames:
        code, quality = pdq_code(frame.rgb)
        grey = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY)
        scale = THUMB_SIDE / max(grey.shape)
        size = (max(GRID * 4, round(grey.shape[1] * scale)), max(GRID * 4, round(grey.shape[0] * scale)))
        thumbs.append(cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)
        times.append(frame.time_s - start)
        codes.append(np.unpackbits(np.frombuffer(code, np.uint8)).astype(bool))
        qualities.append(quality)
    return Footage(Path(path), np.array(times), np.stack(thumbs), np.stack(codes), np.array(qualities),
                   float(media.duration_s), media.audio)  # fmt: skip


def hamming_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Hamming distances between rows of boolean bit matrices."""
    a8, b8 = a.astype(np.float32), b.astype(np.float32)
    return (a8 @ (1 - b8).T + (1 - a8) @ b8.T).astype(np.int32)


def _every(times: np.ndarray, fps: float) -> np.ndarray:
    """Indices of frames about 1/fps apart."""
    picked, next_t = [], -1.0
    for i, t in enumerate(times):
        if t >= next_t - 1e-3:
            picked.append(i)
            next_t = t + 1.0 / fps
    return np.array(picked, dtype=int)


def align(suspect: Footage, original: Footage, threshold: int = 31):
    """TimeMapping (speed + segments) of suspect time onto original time from PDQ votes."""
    from dflab.provenance.registry.align import FramePair, fit_time_mapping

    qs, os_ = _every(suspect.times, ALIGN_FPS), _every(original.times, ALIGN_FPS)
    dist = hamming_matrix(suspect.codes[qs], original.codes[os_])
    pairs = []
    for row, qi in enumerate(qs):
        if suspect.qualities[qi] < 50:
            continue
        best = int(dist[row].min())
        for col in np.nonzero((dist[row] <= threshold) & (dist[row] <= best + TIE_MARGIN))[0]:
            pairs.append(FramePair(float(suspect.times[qi]), float(original.times[os_[col]]), int(dist[row, col])))
    step = 1.0 / ALIGN_FPS
    return fit_time_mapping(pairs, threshold, tolerance_s=1.5 * step, max_gap_s=4.0 * step, min_segment_frames=4)


def _envelope(audio, hop_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    from dflab.shallow.lipsync import speech_band_energy

    return speech_band_energy(audio, hop_s=hop_s)


def audio_check(suspect: Footage, original: Footage, speed: float, offset: float, q0: float, q1: float) -> dict | None:
    """Refine one segment's offset with the audio: NCC of speech-band energy over residual shifts."""
    if suspect.audio is None or original.audio is None or q1 - q0 < 1.0:
        return None
    st, se = _envelope(suspect.audio)
    ot, oe = _envelope(original.audio)
    grid = np.arange(q0, q1, 0.01)
    sv = np.interp(grid, st, se)
    best = (-np.inf, 0.0)
    for shift in np.arange(-AUDIO_SEARCH_S, AUDIO_SEARCH_S + 1e-9, 0.01):
        ov = np.interp(speed * grid + offset + shift, ot, oe)
        a, b = sv - sv.mean(), ov - ov.mean()
        denom = float(np.sqrt((a @ a) * (b @ b)))
        corr = float(a @ b) / denom if denom > 1e-12 else -np.inf
        if corr > best[0]:
            best = (corr, float(shift))
    if not np.isfinite(best[0]):
        return None
    return {"correlation": round(best[0], 3), "offset_correction_s": round(best[1], 3)}


def _block_dissimilarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(GRID, GRID) mean 1-SSIM per block, after matching b's brightness/contrast to a's (re-grading is not an edit)."""
    from skimage.metrics import structural_similarity

    if a.shape != b.shape:
        import cv2

        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    b = (b - b.mean()) / (b.std() + 1e-6) * a.std() + a.mean()
    _, ssim_map = structural_similarity(a, b, data_range=1.0, full=True, win_size=7)
    h, w = (a.shape[0] // GRID) * GRID, (a.shape[1] // GRID) * GRID
    blocks = (1.0 - ssim_map[:h, :w]).reshape(GRID, h // GRID, GRID, w // GRID).mean(axis=(1, 3))
    return blocks


def content_changes(suspect: Footage, original: Footage, mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(suspect times, per-frame max block dissimilarity, mapped original times) for frames on a segment."""
    times, scores, mapped = [], [], []
    speed = mapping.speed or 1.0
    for seg in mapping.segments:
        offset = seg.orig_start - speed * seg.query_start
        on = (suspect.times >= seg.query_start - 0.05) & (suspect.times <= seg.query_end + 0.05)
        for i in np.nonzero(on)[0]:
            t_orig = speed * suspect.times[i] + offset
            # The fitted line can be a few frames off at a segment's end (a speed error of 1 % over 8 s is
            # 80 ms), so every original frame within SEARCH_S is a candidate and the best-matching one wins.
            near = np.nonzero(np.abs(original.times - t_orig) <= SEARCH_S)[0]
            if len(near) == 0:
                near = np.argsort(np.abs(original.times - t_orig))[:1]
            blocks = min((_block_dissimilarity(suspect.thumbs[i], original.thumbs[j]) for j in near),
                         key=lambda blk: float(np.median(blk)))  # fmt: skip
            times.append(float(suspect.times[i]))
            scores.append(float(blocks.max()))
            mapped.append(float(t_orig))
    order = np.argsort(times)
    return np.array(times)[order], np.array(scores)[order], np.array(mapped)[order]


def compare_files(suspect_path: str | Path, original_path: str | Path, limits: Limits | None = None) -> dict:
    """The full comparison as a JSON-ready dict (see the module docstring); audio-only when either file has
    no video stream (compare_audio_files)."""
    from dflab.media import probe
    from dflab.timeline import flagged_ranges

    kinds = [probe(path, limits or Limits())["type"] for path in (suspect_path, original_path)]
    if "image" in kinds:
        raise UsageError(f"{suspect_path if kinds[0] == 'image' else original_path}: comparing needs a video or "
                         "audio file, not an image")  # fmt: skip
    if "audio" in kinds:
        return compare_audio_files(suspect_path, original_path, limits)
    suspect = load_footage(suspect_path, limits)
    original = load_footage(original_path, limits)
    mapping = align(suspect, original)
    if not mapping.segments:
        return {"suspect": str(suspect_path), "original": str(original_path), "aligned": False,
                "summary": "The suspect does not match the original anywhere (no frames within the PDQ threshold)."}  # fmt: skip
    speed = mapping.speed or 1.0
    segments = sorted(mapping.segments, key=lambda s: s.query_start)
    offsets = [s.orig_start - speed * s.query_start for s in segments]
    seg_json, removed, inserted = [], [], []
    for k, seg in enumerate(segments):
        entry = {"suspect": [round(seg.query_start, 3), round(seg.query_end, 3)],
                 "original": [round(seg.orig_start, 3), round(seg.orig_end, 3)], "frames": seg.frames}  # fmt: skip
        audio = audio_check(suspect, original, speed, offsets[k], seg.query_start, seg.query_end)
        if audio is not None:
            entry["audio"] = audio
        seg_json.append(entry)
        if k == 0:
            continue
        prev = segments[k - 1]
        jump = offsets[k] - offsets[k - 1]
        q_gap = seg.query_start - prev.query_end
        cut_q = 0.5 * (prev.query_end + seg.query_start) if q_gap <= 2.5 / ALIGN_FPS else None
        if q_gap > 2.5 / ALIGN_FPS:
            inserted.append({"suspect": [round(prev.query_end, 3), round(seg.query_start, 3)],
                             "duration_s": round(q_gap, 3)})  # fmt: skip
            cut_q = seg.query_start
        if jump >= MIN_REMOVED_S:
            o_a, o_b = speed * cut_q + offsets[k - 1], speed * cut_q + offsets[k]
            removed.append({"suspect_s": round(cut_q, 3), "original": [round(o_a, 3), round(o_b, 3)],
                            "duration_s": round(jump, 3)})  # fmt: skip
        elif jump <= -MIN_REMOVED_S:
            inserted.append({"suspect": [round(seg.query_start, 3), round(seg.query_end, 3)],
                             "repeats_original": [round(seg.orig_start, 3), round(seg.orig_end, 3)],
                             "duration_s": round(seg.query_end - seg.query_start, 3)})  # fmt: skip
    times, scores, mapped = content_changes(suspect, original, mapping)
    changed = []
    if len(scores) >= 5:
        typical = float(np.median(scores))
        flags = (scores > max(CHANGE_MIN, CHANGE_FACTOR * typical))
        for start, end in flagged_ranges(times, flags, min_gap_s=0.3):
            inside = (times >= start) & (times <= end)
            if flags[inside].sum() < MIN_CHANGED_FRAMES:
                continue
            changed.append({"suspect": [round(start, 3), round(end, 3)],
                            "original": [round(float(mapped[inside].min()), 3), round(float(mapped[inside].max()), 3)],
                            "max_dissimilarity": round(float(scores[inside].max()), 3), "frames": int(flags[inside].sum())})  # fmt: skip
    covered = sum(s.query_end - s.query_start for s in segments)
    return {
        "suspect": str(suspect_path), "original": str(original_path), "aligned": True,
        "speed_factor": None if mapping.speed is None else round(mapping.speed, 3),
        "suspect_duration_s": round(suspect.duration_s, 3), "original_duration_s": round(original.duration_s, 3),
        "matched_fraction": round(covered / max(suspect.times[-1], 1e-6), 3),
        "segments": seg_json, "removed": removed, "inserted": inserted, "changed": changed,
        "typical_dissimilarity": round(float(np.median(scores)), 4) if len(scores) else None,
        "summary": _summary(mapping.speed, removed, inserted, changed),
    }  # fmt: skip


def compare_audio_files(suspect_path: str | Path, original_path: str | Path, limits: Limits | None = None) -> dict:
    """Audio-only comparison (dflab.shallow.audio_align): speed, pitch handling, removed and inserted pieces."""
    from dflab.media import load_audio
    from dflab.shallow.audio_align import align_audio, edits_from_segments

    suspect = load_audio(suspect_path, limits=limits or Limits())
    original = load_audio(original_path, limits=limits or Limits())
    head = {"suspect": str(suspect_path), "original": str(original_path), "mode": "audio",
            "suspect_duration_s": round(suspect.duration_s, 3), "original_duration_s": round(original.duration_s, 3)}  # fmt: skip
    alignment = align_audio(suspect, original)
    if alignment is None or not alignment.mapping.segments:
        return {**head, "aligned": False,
                "summary": "The suspect's audio does not match the original's anywhere, at any speed from "
                           "0.45x to 2.2x."}  # fmt: skip
    mapping, fit = alignment.mapping, alignment.fit
    speed = mapping.speed if mapping.speed is not None else fit.factor
    segments = sorted(mapping.segments, key=lambda s: s.query_start)
    removed, inserted = edits_from_segments(segments, speed, min_jump_s=MIN_REMOVED_S, locate_cut=alignment.locate_cut)
    covered = sum(s.query_end - s.query_start for s in segments)
    return {
        **head, "aligned": True, "speed_factor": round(speed, 3),
        "pitch_follows_speed": fit.pitch_follows_speed if abs(speed - 1.0) >= 0.02 else None,
        "audio_correlation": round(fit.ncc, 3),
        "matched_fraction": round(covered / max(suspect.duration_s, 1e-6), 3),
        "segments": [{"suspect": [round(s.query_start, 3), round(s.query_end, 3)],
                      "original": [round(s.orig_start, 3), round(s.orig_end, 3)], "frames": s.frames}
                     for s in segments],
        "removed": removed, "inserted": inserted,
        "summary": _summary(speed, removed, inserted, [], pitch_follows=fit.pitch_follows_speed),
    }  # fmt: skip


def _summary(speed, removed, inserted, changed, pitch_follows: bool | None = None) -> str:
    parts = []
    if speed is not None and abs(speed - 1.0) >= 0.02:
        pitch = {True: " (pitch moved with it, tape-style)", False: " (pitch kept)"}.get(pitch_follows, "")
        parts.append(f"played at {speed:.2f}x{pitch}")
    if removed:
        parts.append(f"{len(removed)} piece(s) removed ({sum(r['duration_s'] for r in removed):.1f} s of the original)")
    if inserted:
        parts.append(f"{len(inserted)} inserted or repeated piece(s)")
    if changed:
        parts.append("changed content at " + ", ".join(f"{c['suspect'][0]:.1f}-{c['suspect'][1]:.1f} s" for c in changed))
    return ("The suspect is the original " + "; ".join(parts) + ".") if parts else "The suspect matches the original: no edit found."
