"""Trace a file to the registered media it derives from.

Each sampled query frame is hashed as it is and mirrored (the registry already holds crops of the originals; a
flipped re-post is its original mirrored) and looked up with a kNN search; hits within the match threshold vote
for their record. A picture that matches nothing that way is searched again by the rectangles a
picture-in-picture re-post leaves (query_views.py). Each match says through which `query_view` it was found. For a video record the
(query time, original time) pairs are fitted with parallel lines (align.py) to recover the speed factor and
the matched time ranges; the gaps between ranges on the original's side are cuts.

Audio files, and videos whose pictures match nothing but that have a soundtrack, are traced by their audio
fingerprints instead (audio_trace.py); those matches carry `by: "audio"` and a `score`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dflab.provenance.ledger.record import sha256_file
from dflab.provenance.registry.align import FramePair, fit_time_mapping
from dflab.provenance.registry.frames import sample_media
from dflab.provenance.registry.hashers import pdq_code
from dflab.provenance.registry.query_views import mirrored, rectangle_views

TIE_MARGIN = 4  # bits: original frames this close to the best one are equally plausible positions in time


def trace_media(registry, path: str | Path, top: int = 5, k: int = 64) -> dict[str, Any]:
    """Best-first matches for `path` (see the module docstring). `registry` is an open Registry."""
    from dflab.media import probe

    config = registry.config
    facts = probe(path, config.limits)
    if facts["type"] == "audio":
        return _audio_result(registry, path, top, sha256_file(Path(path)))
    media = sample_media(path, config.video_fps, config.video_max_side, config.limits)
    times, codes, qualities = [], [], []
    for time_s, rgb in zip(media.times_s, media.frames):
        code, quality = pdq_code(rgb)
        times.append(float(time_s))
        codes.append(code)
        qualities.append(quality)
    keep = [i for i, q in enumerate(qualities) if media.media_type == "image" or q >= config.min_video_quality]
    if not keep:  # every frame is nearly flat: search anyway rather than report nothing silently
        keep = list(range(len(codes)))
    # (query time, code, view): every kept frame as it is and mirrored
    queries = [(times[i], codes[i], "as is") for i in keep]
    queries += [(times[i], pdq_code(mirrored(media.frames[i]))[0], "mirrored") for i in keep]

    # record -> query time -> original time -> (distance, variant); record -> (best distance, its query view)
    votes: dict[int, dict[float, dict[float, tuple[int, str]]]] = defaultdict(lambda: defaultdict(dict))
    views: dict[int, tuple[int, str]] = {}
    _vote(registry, queries, max(k, top), votes, views)
    if not votes and media.media_type == "image":
        # nothing matched the picture as a whole: it may hold a registered picture pasted onto a new background
        pasted = [(0.0, pdq_code(part)[0], name) for name, part in rectangle_views(media.frames[0])]
        _vote(registry, pasted, max(k, top), votes, views)

    sha256 = sha256_file(Path(path))
    matches = [_match(registry, record, per_query, media.media_type, sha256) for record, per_query in votes.items()]
    matches = [m for m in matches if m is not None]
    for match in matches:
        match["query_view"] = views[match["record"]][1]
    matches.sort(key=lambda m: (-m["matched_frames"], m["distance"], m["record"]))
    matches = matches[:top]
    for match in matches:
        match["ledger"] = registry.record_source(match["record"])
    result = {
        "path": str(path),
        "media_type": media.media_type,
        "sha256": sha256,
        "frames": len(keep),
        "threshold": config.match_threshold,
        "matches": matches,
    }
    if not matches and media.media_type == "video" and facts["has_audio"]:
        # the pictures match nothing (re-shot, replaced or blanked): the soundtrack may still trace
        audio = _audio_result(registry, path, top, sha256)
        result.update({key: audio[key] for key in ("matches", "audio_quads", "audio_duration_s") if key in audio})
    return result


def _vote(registry, queries: list[tuple[float, bytes, str]], k: int, votes: dict, views: dict) -> None:
    """Search every query code; each hit within the threshold votes (see trace_media for the shapes)."""
    if not queries:
        return
    hits = registry.search([code for _, code, _ in queries], k=k)
    for (query_time, _, view), frame_hits in zip(queries, hits):
        for distance, row in frame_hits:
            best = votes[row.record][query_time].get(row.time_s)
            if best is None or distance < best[0]:
                votes[row.record][query_time][row.time_s] = (distance, row.variant)
            if row.record not in views or distance < views[row.record][0]:
                views[row.record] = (distance, view)


def _audio_result(registry, path: str | Path, top: int, sha256: str) -> dict[str, Any]:
    from dflab.errors import Unsupported
    from dflab.provenance.registry.audio_trace import trace_audio

    try:
        found = trace_audio(registry, path, top=top)
    except Unsupported:  # a silent track has no fingerprint: nothing can match it
        found = {"audio_quads": 0, "audio_duration_s": 0.0, "matches": []}
    for match in found["matches"]:
        row = registry.store.record(match["record"])
        match["exact"] = row is not None and sha256 == row.sha256
        match["ledger"] = registry.record_source(match["record"])
    return {"path": str(path), "media_type": "audio", "sha256": sha256, "frames": 0,
            "threshold": registry.config.match_threshold, **found}  # fmt: skip


def _match(registry, record_id: int, per_query: dict, query_type: str, sha256: str) -> dict[str, Any] | None:
    row = registry.store.record(record_id)
    if row is None:  # an index row without its record cannot happen with one transaction per record
        return None
    best_per_frame = {qt: min(per_orig.values()) for qt, per_orig in per_query.items()}
    frame_distances = [d for d, _ in best_per_frame.values()]
    variants = [v for _, v in best_per_frame.values()]
    match: dict[str, Any] = {
        "record": record_id,
        "path": row.path,
        "media_type": row.media_type,
        "distance": int(min(frame_distances)) if query_type == "image" else int(round(float(np.median(frame_distances)))),
        "best_distance": int(min(frame_distances)),
        "matched_frames": len(best_per_frame),
        "variant": max(set(variants), key=variants.count),  # e.g. crop80: the copy looks cropped
        "exact": sha256 == row.sha256,
        "time_ranges": [],
        "speed_factor": None,
    }
    if row.media_type == "video" and query_type == "video":
        # In a static shot one query frame is close to many original frames; only the nearest few (within
        # TIE_MARGIN bits of the best) say where it really sits in time.
        pairs = [
            FramePair(qt, ot, d)
            for qt, per_orig in per_query.items()
            for ot, (d, _) in per_orig.items()
            if d <= best_per_frame[qt][0] + TIE_MARGIN
        ]
        step = 1.0 / registry.config.video_fps
        mapping = fit_time_mapping(pairs, registry.config.match_threshold, tolerance_s=0.7 * step, max_gap_s=4.0 * step)
        match["speed_factor"] = None if mapping.speed is None else round(mapping.speed, 3)
        match["time_ranges"] = [s.as_list() for s in mapping.segments]
        if mapping.matched_frames:
            match["aligned_frames"] = mapping.matched_frames
    elif row.media_type == "video":  # a still taken from a registered video: where in the video it sits
        best_time = min(per_query[0.0].items(), key=lambda item: item[1][0])[0] if 0.0 in per_query else 0.0
        match["time_ranges"] = [[0.0, 0.0, round(best_time, 3), round(best_time, 3)]]
    elif query_type == "video":  # a registered still shown inside a video: when it is on screen
        query_times = sorted(per_query)
        match["time_ranges"] = [[round(query_times[0], 3), round(query_times[-1], 3), 0.0, 0.0]]
    return match
