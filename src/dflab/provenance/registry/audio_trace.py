"""Register and trace audio by its peak-quad fingerprints (audio_fingerprint.py).

Tracing: every query quad is looked up by its key (and neighbouring cells near a border). A hit pairs a query
quad with a registered one and so implies a time scale s = registered span / query span (original seconds per
suspect second), and a frequency shift (query octave - registered octave). Only two kinds of hit are kept:
shift ~ 0 (pitch kept: phase vocoder, WSOLA, a codec) and shift ~ log2(s) (tape-style resampling moves every
frequency by the speed factor). Per record and kind, the scales vote in a histogram; the hits near its peak
become (query time, original time) pairs, and the registry's line fitter (align.fit_time_mapping, the same one
video tracing uses) asks them to agree on one speed and parallel lines (jump cuts shift the offset). The votes
on those lines are the record's score.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dflab.config import Limits
from dflab.errors import Unsupported
from dflab.provenance.registry.align import FramePair, TimeMapping, fit_time_mapping
from dflab.provenance.registry.audio_fingerprint import (
    FINGERPRINT_NAME,
    PEAK_FRAMES,
    Peaks,
    Quads,
    peak_quads,
    quad_hashes,
    query_hashes,
    spectral_peaks,
)
from dflab.provenance.registry.store import AudioHits

SCALE_RANGE = (0.45, 2.2)  # playback speeds looked for (as dflab.shallow.audio_align)
KEPT_SHIFT_OCT = 0.03  # a pitch-kept hit moves its anchor by less than this (peak interpolation jitter)
TAPE_MISMATCH_OCT = 0.1  # a tape-style hit's shift agrees with its span ratio to within this (span jitter)
# Scale histograms: a span ratio is only good to several per cent, a tape shift to well under one.
KEPT_BIN, TAPE_BIN = 0.04, 0.01  # natural-log widths
RECORDS_PER_KIND = 8  # records (with the most consistent hits) that go on to the line fit, per kind
LINE_TOLERANCE_S = 0.05  # anchor times of a true match sit this close to the fitted line
MIN_VOTES = 10  # query anchors on the lines below which a record is not reported (see bench/audio_trace.py)
CHUNK_S = 60.0  # long audio is analysed in pieces: the fine spectrum of an hour would not fit in memory
# The line fit compares every pair of hits (memory grows with their square): noise-like sound matched against a
# registered copy of itself gave 30,000 hits for 6 s and asked for 7 GB per array. Past this many, an evenly
# spread subset votes; a true match keeps thousands of hits on its lines.
MAX_FIT_HITS = 4000


@dataclass(frozen=True)
class AudioMatch:
    record: int
    votes: int  # distinct query anchors on the fitted lines
    pitch_follows_speed: bool
    mapping: TimeMapping


def audio_peaks(samples: np.ndarray, sample_rate: int) -> tuple[Peaks, float]:
    """(peaks, duration) of 16 kHz mono samples, analysed CHUNK_S at a time with a margin around each piece."""
    from dflab.audio.fine_spectrum import FINE_LO_HZ, HOP_S, fine_log_spectrum
    from dflab.media.types import Audio

    duration = len(samples) / sample_rate
    margin = int(2 * PEAK_FRAMES * HOP_S * sample_rate) + 512
    step = int(CHUNK_S * sample_rate)
    parts = []
    for start in range(0, max(len(samples), 1), step):
        lo, hi = max(0, start - margin), min(len(samples), start + step + margin)
        if hi - lo < 3 * 512:
            continue
        peaks = spectral_peaks(fine_log_spectrum(Audio(samples=samples[lo:hi], sample_rate=sample_rate)), FINE_LO_HZ)
        times = peaks.times_s + lo / sample_rate
        own = (times >= start / sample_rate) & (times < (start + step) / sample_rate)
        parts.append((times[own], peaks.octaves[own], peaks.levels_db[own]))
    if not parts:
        return Peaks(np.zeros(0), np.zeros(0), np.zeros(0)), duration
    return Peaks(*(np.concatenate([p[k] for p in parts]) for k in range(3))), duration


def file_quads(path: str | Path, limits: Limits | None = None) -> tuple[Quads, float]:
    """(quads, audio duration) of a file's audio track; Unsupported when it has none."""
    from dflab.audio import SAMPLE_RATE
    from dflab.media import load_audio

    audio = load_audio(Path(path), sample_rate=SAMPLE_RATE, limits=limits or Limits())
    if not np.any(np.abs(audio.samples) > 1e-4):
        raise Unsupported(f"{path}: the audio is silent; there is nothing to fingerprint")
    peaks, duration = audio_peaks(audio.samples, audio.sample_rate)
    return peak_quads(peaks), duration


def register_audio(store, record: int, quads: Quads, duration_s: float) -> int:
    """Store a record's quads; returns how many."""
    store.add_audio(record, FINGERPRINT_NAME, duration_s, quad_hashes(quads), quads.anchor_s, quads.span_s,
                    quads.anchor_oct)  # fmt: skip
    return len(quads)


def match_audio(query: Quads, hits: AudioHits, min_votes: int = MIN_VOTES) -> list[AudioMatch]:
    """Records whose hits agree on one speed and offset (see the module docstring), most votes first."""
    if len(hits) == 0:
        return []
    scale = hits.span_s / query.span_s[hits.query_row]
    shift = query.anchor_oct[hits.query_row] - hits.anchor_oct
    in_range = (scale >= SCALE_RANGE[0]) & (scale <= SCALE_RANGE[1])
    kept = in_range & (np.abs(shift) <= KEPT_SHIFT_OCT)
    tape = in_range & ~kept & (np.abs(shift - np.log2(np.maximum(scale, 1e-9))) <= TAPE_MISMATCH_OCT)
    matches = []
    for moved, mask, log_scale, width in ((False, kept, np.log(np.maximum(scale, 1e-9)), KEPT_BIN),
                                          (True, tape, shift * np.log(2.0), TAPE_BIN)):  # fmt: skip
        counts = Counter(hits.record[mask].tolist())
        for record, n in counts.most_common(RECORDS_PER_KIND):
            if n < min_votes:
                break
            mine = mask & (hits.record == record)
            match = _fit_record(query, hits, mine, log_scale[mine], width, record, moved)
            if match is not None and match.votes >= min_votes:
                matches.append(match)
    best: dict[int, AudioMatch] = {}
    for match in matches:  # a record found under both kinds keeps the better one
        if match.record not in best or match.votes > best[match.record].votes:
            best[match.record] = match
    return sorted(best.values(), key=lambda m: (-m.votes, m.record))


def _fit_record(query: Quads, hits: AudioHits, mine: np.ndarray, log_scale: np.ndarray, width: float, record: int,
                moved: bool) -> AudioMatch | None:  # fmt: skip
    """The record's hits near its most voted scale, fitted with parallel lines of one speed."""
    edges = np.arange(np.log(SCALE_RANGE[0]), np.log(SCALE_RANGE[1]) + width, width)
    histogram, _ = np.histogram(log_scale, bins=edges)
    smooth = np.convolve(histogram, [1, 1, 1], mode="same")  # a true scale near a bin edge splits its votes
    peak = int(np.argmax(smooth))
    mode = 0.5 * (edges[peak] + edges[peak + 1])
    near = np.abs(log_scale - mode) <= 2 * width
    rows = np.nonzero(mine)[0][near]
    if len(rows) < 2:
        return None
    if len(rows) > MAX_FIT_HITS:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_FIT_HITS).round().astype(int)]
    pairs = [FramePair(float(q), float(o), 0) for q, o in zip(query.anchor_s[hits.query_row[rows]], hits.anchor_s[rows])]
    spread = np.exp(2 * width)
    mapping = fit_time_mapping(pairs, 0, tolerance_s=LINE_TOLERANCE_S, max_gap_s=2.0, min_segment_frames=3,
                               speed_range=(np.exp(mode) / spread, np.exp(mode) * spread))  # fmt: skip
    if not mapping.segments:
        return None
    return AudioMatch(record, mapping.matched_frames, moved, mapping)


def lookup(store, query: Quads, min_votes: int = MIN_VOTES) -> tuple[list[AudioMatch], int]:
    """(matches, stored hits looked at) of query quads in a RegistryStore."""
    keys, rows = query_hashes(query)
    hits = store.audio_hits(keys, FINGERPRINT_NAME)
    hits = AudioHits(rows[hits.query_row], hits.record, hits.anchor_s, hits.span_s, hits.anchor_oct)
    return match_audio(query, hits, min_votes), len(hits)


def trace_audio(registry, path: str | Path, top: int = 5) -> dict[str, Any]:
    """Best-first audio matches for `path` in the shape of tracing.trace_media's result."""
    query, duration = file_quads(path, registry.config.limits)
    found = []
    for match in lookup(registry.store, query)[0][:top]:
        row = registry.store.record(match.record)
        if row is None:
            continue
        found.append(_match_json(match, row, duration))
    return {"audio_quads": len(query), "audio_duration_s": round(duration, 3), "matches": found}


def _match_json(match: AudioMatch, row, duration: float) -> dict[str, Any]:
    mapping = match.mapping
    speed = mapping.speed
    covered = sum(s.query_end - s.query_start for s in mapping.segments)
    return {
        "record": match.record, "path": row.path, "media_type": row.media_type,
        # no Hamming distance for audio: the score is the number of quad anchors that agree on one line
        "distance": None, "best_distance": None, "matched_frames": match.votes, "variant": "audio",
        "exact": False, "time_ranges": [s.as_list() for s in mapping.segments],
        "speed_factor": None if speed is None else round(speed, 3),
        "by": "audio", "score": match.votes,
        "pitch_follows_speed": match.pitch_follows_speed if speed is not None and abs(speed - 1.0) >= 0.02 else None,
        "matched_fraction": round(covered / max(duration, 1e-6), 3),
    }  # fmt: skip
