"""Informed detection: when blind decoding fails, test the picture against the payloads the lab has issued.

Why. After heavy damage (a small photo cropped, halved and saved at JPEG 50 is ~80x80 pixels of JPEG) the tile is
still there at its true alignment (whole-tile correlation z ~7 for the median photo) but a third of the 282
coded bits read wrong, so Viterbi + CRC-24 cannot recover 64 unknown bits. The lab issued every payload itself
(payload.py: tag + ledger record id), so it need not recover them: it only has to tell which of the N payloads
it issued, if any, the picture carries. That is a far easier question: one correlation per candidate.

How. The blind search's folds (every view, period guess and detection grid it tried) are reused. In each fold
the sync code gives the TOP_SHIFTS likeliest tile offsets; at each, the full tile a candidate would have
embedded (sync chips + its coded bits, spread) is correlated with the folded tile. The correlation divided by
the fold's norm is ~N(0, 1) for a tile that is not there (a fixed +-1 pattern against zero-mean noise). The
best candidate is accepted only above `threshold_z(tests)`, where tests = folds x 1024 offsets x N candidates:
the max over that many ~N(0, 1) statistics exceeds it with probability at most FALSE_MATCH_ODDS per picture
(union bound; looking at only the top offsets of each fold can only lower the max). The same odds as blind
decoding's 16 CRC-24 checks (9.5e-7). With the ~64 folds of a small picture the threshold is z 7.0 for 10
candidates, 7.6 for 1,000 and 7.9 for 10,000: a bigger ledger needs a little more of the mark left.

What it can and cannot say. In payload format 1 (the record id as is, every mark issued before format 2,
payload.py) neighbouring records differ only in their low payload bits and the CRC, so their tiles share ~70 %
of their chips (coded-bit distance 44-64 of 282): a damaged mark that clears the threshold for its own payload
clears it for its neighbours nearly as well. Such a match says `present` (a mark this ledger issued is there)
and names the record (`identified`) only when the best beats every other candidate on the chips where they
differ by a clear margin (InformedMatch). Format 2 permutes the record id, so every other payload, issued or
not, is far away (distance 74-98 to the nearest of 1,000 dense ids); then the winner's own strength counts too:
had a rival been the mark, the winner would have scored well below it (strength_aware_odds), so a format-2
match that is present is named in nearly every case (bench/watermark_informed.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from dflab.provenance.watermark import ecc
from dflab.provenance.watermark.pattern import CODED_BITS, DEFAULT_KEY, PAYLOAD_BITS, REPEATS, TILE, layout_for_key

FALSE_MATCH_ODDS = 1e-6  # per picture, whatever the number of candidates (blind decoding: 9.5e-7)
TOP_SHIFTS = 32  # tile offsets tested per fold: the sync code's strongest (where the true one usually is)
MAX_CANDIDATES = 10_000  # the newest issued payloads tested; older ones only by blind decoding
CHUNK = 4096  # candidates scored at once (bounds memory: folds x shifts x CHUNK floats)
MAX_MISATTRIBUTION_ODDS = 1e-3  # per picture, for naming one record (see InformedMatch)


@dataclass(frozen=True)
class Candidate:
    """A payload the lab issued, with the key it was embedded with and the ledger record that names it."""

    payload: bytes
    key: str = DEFAULT_KEY
    record: int | None = None


@dataclass(frozen=True)
class InformedMatch:
    """The best candidate for one picture and how far to trust it (see the module docstring).

    present: the best candidate's full-tile z clears the threshold for this many folds x offsets x candidates,
    so a tile close to the issued ones is there (false-match odds <= FALSE_MATCH_ODDS on an unmarked picture).
    identified: also, no other candidate could plausibly be the one: `misattribution_odds`, the union over the
    other candidates of the chance that a picture carrying that one would beat it by this margin (for a
    format-2 winner: and score the winner this high, strength_aware_odds), is at most MAX_MISATTRIBUTION_ODDS.
    Neighbouring format-1 records differ in few payload bits (their tiles share ~70 % of their chips), so a
    picture can be `present` with its record still uncertain."""

    candidate: Candidate | None
    z: float
    threshold: float
    candidates: int
    folds: int
    runner_up: Candidate | None
    runner_up_z: float  # the closest competitor's z at the best one's fold and offset
    margin_z: float  # the best over that competitor, on the chips where their tiles differ, in noise units
    misattribution_odds: float
    tests: int  # folds x offsets x candidates, summed over keys: what the threshold allows for

    @property
    def present(self) -> bool:
        return self.candidate is not None and self.z >= self.threshold

    @property
    def identified(self) -> bool:
        return self.present and self.misattribution_odds <= MAX_MISATTRIBUTION_ODDS

    @property
    def false_match_odds(self) -> float:
        """Union bound on the chance that noise scores this high against any candidate in any fold."""
        return min(1.0, self.tests * upper_tail(self.z)) if self.candidates else 1.0

    def to_json(self) -> dict:
        from dflab.provenance.payload import record_from_payload

        def record(c: Candidate | None):
            return None if c is None else (c.record if c.record is not None else record_from_payload(c.payload))

        return {
            "method": "informed",
            "present": self.present,
            "identified": self.identified,
            "candidates_tested": self.candidates,
            "folds_tested": self.folds,
            "best_record": record(self.candidate),
            "best_payload": self.candidate.payload.hex() if self.candidate else None,
            "informed_z": round(float(self.z), 2),
            "informed_threshold_z": round(float(self.threshold), 2),
            "false_match_odds": float(f"{self.false_match_odds:.2g}"),
            "runner_up_record": record(self.runner_up),
            "runner_up_z": round(float(self.runner_up_z), 2),
            "margin_z": round(float(self.margin_z), 2) if math.isfinite(self.margin_z) else None,
            "misattribution_odds": float(f"{self.misattribution_odds:.2g}"),
        }


def upper_tail(z: float) -> float:
    """P(N(0, 1) > z), accurate far into the tail (NormalDist().cdf loses it to cancellation past z ~ 6)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def tests_of(folds: int, candidates: int) -> int:
    return max(1, folds) * TILE * TILE * max(1, candidates)


def threshold_z(tests: int, odds: float = FALSE_MATCH_ODDS) -> float:
    """z such that the max of `tests` N(0, 1) statistics exceeds it with probability <= odds (union bound)."""
    return -NormalDist().inv_cdf(odds / max(1, tests))


@lru_cache(maxsize=4)
def _code_map() -> tuple[np.ndarray, np.ndarray]:
    """(A, b): coded bits = bits(payload) @ A + b over GF(2). CRC-24 is affine in a fixed-length message and the
    convolutional code is linear, so 64 unit payloads give the whole map (checked against conv_encode in tests)."""
    def encode(bits: np.ndarray) -> np.ndarray:
        return ecc.conv_encode(np.concatenate([bits, ecc.crc24(bits)]))

    zero = encode(np.zeros(PAYLOAD_BITS, dtype=np.uint8))
    rows = []
    for i in range(PAYLOAD_BITS):
        unit = np.zeros(PAYLOAD_BITS, dtype=np.uint8)
        unit[i] = 1
        rows.append(encode(unit) ^ zero)
    return np.array(rows, dtype=np.float32), zero.astype(np.float32)


def coded_signs(payloads: Sequence[bytes]) -> np.ndarray:
    """(N, CODED_BITS) float32 +-1: the coded bits each 8-byte payload's tile carries (+1 = bit 1)."""
    if not payloads:
        return np.zeros((0, CODED_BITS), dtype=np.float32)
    bits = np.unpackbits(np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(len(payloads), -1), axis=1)
    matrix, offset = _code_map()
    coded = np.mod(bits.astype(np.float32) @ matrix + offset, 2.0)
    return coded * 2.0 - 1.0


@lru_cache(maxsize=8)
def _shift_indices(key: str) -> tuple[np.ndarray, np.ndarray]:
    """For every cyclic offset s = dy * TILE + dx: where the sync chips and the data chips (CODED_BITS x
    REPEATS) of a tile starting at s sit in the folded tile. (TILE*TILE, ...) flat indices."""
    layout = layout_for_key(key)
    ys, xs = np.divmod(np.arange(TILE * TILE), TILE)
    dy, dx = ys[:, None], xs[:, None]

    def moved(flat: np.ndarray) -> np.ndarray:
        y, x = np.divmod(flat.reshape(1, -1), TILE)
        return (((y + dy) % TILE) * TILE + (x + dx) % TILE).reshape((TILE * TILE,) + flat.shape)

    return moved(layout.sync_index), moved(layout.data_index)


def fold_statistics(folded: np.ndarray, key: str, top: int = TOP_SHIFTS) -> tuple[np.ndarray, np.ndarray]:
    """(sync (K,), soft (K, CODED_BITS)) at the K offsets where the sync code correlates best, both divided by
    the fold's norm: a candidate's full-tile z at offset k is sync[k] + soft[k] @ its coded signs."""
    layout = layout_for_key(key)
    flat = np.asarray(folded, dtype=np.float32).reshape(-1)
    norm = float(np.sqrt(np.sum(flat.astype(np.float64) ** 2))) + 1e-12
    sync_all = np.real(np.fft.ifft2(np.fft.fft2(folded) * layout.sync_spectrum)).reshape(-1)
    order = np.argsort(-sync_all)[:top]
    sync_at, data_at = _shift_indices(key)
    sync = (flat[sync_at[order]] * layout.sync_sign).sum(axis=1) / norm
    soft = (flat[data_at[order]] * layout.data_sign).sum(axis=2) / norm
    return sync.astype(np.float32), soft.astype(np.float32)


def is_spread_payload(payload: bytes) -> bool:
    """Whether `payload` is of payload format 2 (record id permuted, payload.py): one whose every possible
    neighbour, issued or not, is far from it in code space."""
    from dflab.provenance.payload import SPREAD_PAYLOAD_TAG

    return payload[:2] == SPREAD_PAYLOAD_TAG


def strength_aware_odds(z: float, behind: np.ndarray, differing_chips: np.ndarray, tests: int) -> float:
    """Union bound on the chance that a picture carrying one of the other candidates (same key) scores the
    winner at `z` and that candidate `behind` (z - its score, same fold and offset) below it.

    Why more than the margin alone. If another candidate j were the mark, with strength mu (its expected z),
    the winner's expected z there is mu * (1 - 2 D / 1024) (D: chips where the tiles differ) and the winner
    would fall behind j by mu * 2 D / 1024 on average. Seeing the winner at z needs mu large (or noise
    alone scoring z somewhere, at most tests * Q(z), which `present` already made tiny); seeing it ahead of j
    needs mu small. The chance of both is at most min(Q(z - mu c), Q((behind + mu g) / s)) with c = 1 - g,
    g = 2 D / 1024, s = 2 sqrt(D / 1024) (the margin's spread), whose largest value over mu is where the two
    meet. Valid only when the true payload is among the candidates or far from all of them: so it is used
    only for spread payloads (is_spread_payload), whose unissued neighbours are far away too; a format-1
    winner keeps the margin alone (an older record just outside the candidates can be its close neighbour)."""
    if len(behind) == 0:
        return min(1.0, tests * upper_tail(z))
    identical = np.asarray(differing_chips) <= 0  # the same tile: nothing can tell the two apart
    chips = np.maximum(np.asarray(differing_chips, dtype=np.float64), 1.0)
    g = 2.0 * chips / (TILE * TILE)
    s = 2.0 * np.sqrt(chips / (TILE * TILE))
    c = 1.0 - g
    d = np.maximum(np.asarray(behind, dtype=np.float64), 0.0)
    mu = np.maximum((z - d / s) / (c + g / s), 0.0)  # where Q(z - mu c) = Q((d + mu g) / s)
    exponent = np.where(mu > 0, z - mu * c, np.maximum(z, d / s))
    odds = np.where(identical, 1.0, np.vectorize(upper_tail)(exponent))
    return float(min(1.0, tests * upper_tail(z) + float(np.sum(odds))))


def best_match(folds: Mapping[str, Sequence[np.ndarray]] | Sequence[np.ndarray], candidates: Sequence[Candidate],
               odds: float = FALSE_MATCH_ODDS) -> InformedMatch:  # fmt: skip
    """The candidate whose full tile correlates best with any fold at any of its likeliest offsets, whether that
    clears the threshold for this many folds and candidates, and its margin over every other candidate at that
    same fold and offset. Folds are TILE x TILE aligned tiles, by key (each key's search aligns its own folds;
    a plain sequence serves every key); each candidate is scored with the sync code and chips of its key."""
    candidates = list(candidates)
    keys = sorted({c.key for c in candidates})
    if isinstance(folds, Mapping):
        by_key = {key: [np.asarray(f, dtype=np.float32) for f in folds.get(key, ())] for key in keys}
    else:
        shared = [np.asarray(f, dtype=np.float32) for f in folds]
        by_key = {key: shared for key in keys}
    members = {key: [i for i, c in enumerate(candidates) if c.key == key] for key in keys}
    tests = sum(tests_of(len(by_key[key]), len(members[key])) for key in keys)
    n_folds = len({id(f) for key in keys for f in by_key[key]})
    threshold = threshold_z(tests, odds)
    keys = [key for key in keys if by_key[key]]
    if not keys:
        return InformedMatch(None, 0.0, threshold, len(candidates), n_folds, None, 0.0, 0.0, 1.0, tests)
    signs = {key: coded_signs([candidates[i].payload for i in members[key]]) for key in keys}
    stats = {}
    best = (-np.inf, None, None, -1)  # z, key, row of (sync, soft), index within members[key]
    for key in keys:
        per_fold = [fold_statistics(f, key) for f in by_key[key]]
        sync = np.concatenate([s for s, _ in per_fold])  # (F*K,)
        soft = np.concatenate([d for _, d in per_fold])  # (F*K, CODED_BITS)
        stats[key] = (sync, soft)
        for start in range(0, len(members[key]), CHUNK):
            scores = soft @ signs[key][start : start + CHUNK].T + sync[:, None]
            row, col = np.unravel_index(int(np.argmax(scores)), scores.shape)
            if scores[row, col] > best[0]:
                best = (float(scores[row, col]), key, int(row), start + int(col))
    z, key, row, index = best
    # Every candidate at the best one's fold and offset: how far it falls behind on the chips that differ.
    margins = np.full(len(candidates), np.inf)
    at_best = np.full(len(candidates), -np.inf)
    differing = np.sum(signs[key] != signs[key][index], axis=1) * REPEATS  # where its key's tiles differ
    for other in keys:
        sync, soft = stats[other]
        if other != key:  # another key's folds are other alignments: compare its best anywhere
            scores = (soft @ signs[other].T + sync[:, None]).max(axis=0)
            at_best[members[other]] = scores
            margins[members[other]] = (z - scores) / np.sqrt(2.0)  # independent tiles
            continue
        scores = soft[row] @ signs[other].T + sync[row]
        at_best[members[other]] = scores
        spread = 2.0 * np.sqrt(np.maximum(differing, 1) / (TILE * TILE))
        margins[members[other]] = (z - scores) / spread
    winner = members[key][index]
    margins[winner] = np.inf
    at_best[winner] = -np.inf
    runner = int(np.argmin(margins)) if len(candidates) > 1 else None  # the closest competitor, in noise units
    if is_spread_payload(candidates[winner].payload):
        rivals = np.delete(np.asarray(members[key]), index)  # same key, the winner left out
        tail = strength_aware_odds(z, z - at_best[rivals], np.delete(differing, index), tests)
        other_keys = np.ones(len(candidates), dtype=bool)
        other_keys[members[key]] = False
        tail += sum(upper_tail(m) for m in margins[other_keys].tolist() if math.isfinite(m))
    else:
        tail = sum(upper_tail(m) for m in margins[np.isfinite(margins)].tolist())
    return InformedMatch(
        candidate=candidates[winner], z=z, threshold=threshold, candidates=len(candidates), folds=n_folds,
        runner_up=candidates[runner] if runner is not None else None,
        runner_up_z=float(at_best[runner]) if runner is not None else 0.0,
        margin_z=float(margins[runner]) if runner is not None else float("inf"),
        misattribution_odds=float(min(1.0, tail)), tests=tests,
    )  # fmt: skip


__all__ = ["Candidate", "FALSE_MATCH_ODDS", "InformedMatch", "MAX_CANDIDATES", "best_match", "coded_signs",
           "fold_statistics", "is_spread_payload", "strength_aware_odds", "threshold_z"]  # fmt: skip
