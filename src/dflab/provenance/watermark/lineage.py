"""Marks on marks: media that dflab makes from media dflab made carries one watermark per generation.

A second mark embedded with the same key over a first one puts two payloads into one code, and the detector
reads whichever happens to be stronger (a strip cut from a disclosed video read its parent's record, not its
own). So generation n is embedded with its own key (independent chips and sync code, so the marks do not
interfere), every generation is read on its own, and the newest mark found names the file's ledger record
while the older ones name its ancestors.

Measured on a 1024 px photo (tests/provenance/test_watermark_lineage.py): with two generations both marks read
after JPEG 50, a 50 % downscale, an 80 % crop and all three together, at 37.7 dB PSNR for the two marks; with
three generations the combined attack erases the two older marks while the newest still reads. Three is
therefore the limit: disclosure refuses to mark a fourth generation rather than release an unreadable one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dflab.config import Limits
from dflab.errors import Unsupported
from dflab.provenance.watermark.detect import (
    FallbackGrids,
    SharedViews,
    WatermarkResult,
    detect_residual,
    retry_on_fallback_grids,
)
from dflab.provenance.watermark.informed import MAX_MISATTRIBUTION_ODDS, Candidate, InformedMatch, best_match
from dflab.provenance.watermark.pattern import DEFAULT_KEY

# The payloads the lab issued, or a function that reads them (called only when blind decoding fails).
Candidates = Sequence[Candidate] | Callable[[], Sequence[Candidate]]

GENERATION_KEYS = (DEFAULT_KEY, f"{DEFAULT_KEY}/gen2", f"{DEFAULT_KEY}/gen3")


@dataclass(frozen=True)
class Lineage:
    """What each generation's detector found in one picture or video, oldest generation first. `informed`: when
    blind decoding found no mark and the lab's issued payloads were given, the best of them (informed.py); a
    generation whose payload it identified carries that result (details method "informed")."""

    results: tuple[WatermarkResult, ...]
    informed: InformedMatch | None = None

    @property
    def generations(self) -> list[int]:
        """The generations (1 = the first dflab output of the chain) whose mark was found."""
        return [i + 1 for i, r in enumerate(self.results) if r.detected]

    @property
    def newest(self) -> WatermarkResult:
        """The newest mark found (it names this file), else generation 1's result (for its confidence)."""
        found = self.generations
        return self.results[found[-1] - 1] if found else self.results[0]

    @property
    def records(self) -> list[int]:
        """Ledger records named by the marks, oldest first (payloads that are not dflab records left out)."""
        from dflab.provenance.payload import record_from_payload

        records = [record_from_payload(self.results[g - 1].payload) for g in self.generations]
        return [r for r in records if r is not None]

    @property
    def method(self) -> str | None:
        """How the newest mark was found: "blind" (decoded from the picture alone), "informed" (matched against
        the lab's issued payloads) or None (no mark decoded)."""
        newest = self.newest
        return newest.details.get("method", "blind") if newest.detected else None

    def informed_json(self) -> dict | None:
        """The informed test's answer (InformedMatch.to_json), or None when it did not run."""
        return self.informed.to_json() if self.informed is not None else None

    def next_generation(self) -> int:
        """The generation of a new output made from this media: one after the newest mark found.

        Its key is GENERATION_KEYS[generation - 1]."""
        found = self.generations
        generation = (found[-1] if found else 0) + 1
        if generation > len(GENERATION_KEYS):
            raise Unsupported(
                f"this media already carries {len(GENERATION_KEYS)} generations of dflab watermarks; a fourth "
                "would not stay readable, so dflab does not make media from it"
            )
        return generation

    def to_json(self) -> list[dict]:
        from dflab.provenance.payload import record_from_payload

        return [{"generation": g, "payload": self.results[g - 1].payload_hex,
                 "record": record_from_payload(self.results[g - 1].payload),
                 "confidence": round(float(self.results[g - 1].confidence), 4)} for g in self.generations]  # fmt: skip


def read_lineage(residual: np.ndarray, media_type: str = "image", frames_used: int = 1,
                 candidates: Candidates | None = None) -> Lineage:  # fmt: skip
    """Every generation's detector on one whitened residual. The residual, its views, their period candidates and
    unshifted folds do not depend on the key: they are computed once for all generations (SharedViews).
    `candidates`: the lab's issued payloads, tested when no generation's mark decodes blindly."""
    shared = SharedViews(residual)
    folds: dict[str, list] = {key: [] for key in GENERATION_KEYS}
    results = tuple(detect_residual(residual, media_type=media_type, frames_used=frames_used, key=key, shared=shared,
                                    folds_out=folds[key] if candidates else None) for key in GENERATION_KEYS)  # fmt: skip
    return _with_informed(results, folds, candidates)


def image_lineage(rgb: np.ndarray, candidates: Candidates | None = None) -> Lineage:
    """Every generation's mark in a picture: the standard grid, then a small picture's own-resolution grids.
    `candidates`: as for read_lineage."""
    from dflab.provenance.watermark.embed import luma
    from dflab.provenance.watermark.grid import detector_residual

    if min(rgb.shape[:2]) < 16:
        return Lineage(tuple(WatermarkResult(False, None, 0.0, 0.0) for _ in GENERATION_KEYS))
    gray = luma(rgb)
    residual = detector_residual(gray)
    shared = SharedViews(residual)
    fallback = FallbackGrids(gray)  # a small picture's own-resolution grids, as detect_image searches them
    folds: dict[str, list] = {key: [] for key in GENERATION_KEYS}
    results = []
    for key in GENERATION_KEYS:
        out = folds[key] if candidates else None
        first = detect_residual(residual, key=key, shared=shared, folds_out=out)
        results.append(retry_on_fallback_grids(first, fallback, key, folds_out=out))
    return _with_informed(tuple(results), folds, candidates)


def _with_informed(results: tuple[WatermarkResult, ...], folds: dict[str, list],
                   candidates: Candidates | None) -> Lineage:  # fmt: skip
    """The lineage, with the informed test of `candidates` when no generation decoded blindly (blind first: an
    exact CRC-checked payload beats any correlation). `candidates` may be a function that reads them, called
    only then."""
    if not candidates or any(r.detected for r in results):
        return Lineage(results)
    if callable(candidates):  # read from the ledger only now that blind decoding has failed
        candidates = candidates()
    if not candidates:
        return Lineage(results)
    match = best_match(folds, [c for c in candidates if c.key in folds])
    if not match.identified:
        return Lineage(results, informed=match)
    generation = GENERATION_KEYS.index(match.candidate.key)
    blind = results[generation]
    found = replace(blind, detected=True, payload=match.candidate.payload, confidence=informed_confidence(match),
                    details={**blind.details, **match.to_json()}, raw_payload=match.candidate.payload)  # fmt: skip
    return Lineage(results[:generation] + (found,) + results[generation + 1 :], informed=match)


def informed_confidence(match: InformedMatch) -> float:
    """0.9..1 as for a blind detection: 1 when no other record could be it, 0.9 at the largest chance of a wrong
    record that still names one (MAX_MISATTRIBUTION_ODDS)."""
    return float(1.0 - 0.1 * min(1.0, match.misattribution_odds / MAX_MISATTRIBUTION_ODDS))


def file_lineage(path: str | Path, max_frames: int = 90, limits: Limits | None = None,
                 candidates: Candidates | None = None) -> Lineage:  # fmt: skip
    """The lineage of an image (full resolution) or a video (residuals averaged over up to `max_frames` frames).
    `limits` (default Limits()) as for every media read; limits.allow_partial reads what a cut video holds.
    `candidates`: the lab's issued payloads (issued_candidates), tested when nothing decodes blindly."""
    from dflab.provenance.watermark.files import media_type_of

    path = Path(path)
    limits = limits or Limits()
    if media_type_of(path, limits) == "image":
        from dflab.media.load import load_image_rgb

        return image_lineage(load_image_rgb(path, limits), candidates)
    from dflab.provenance.watermark.video import mean_residual

    residual, used = mean_residual(path, max_frames, skip_damaged=limits.allow_partial)
    return read_lineage(residual, media_type="video", frames_used=used, candidates=candidates)
