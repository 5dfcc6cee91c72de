"""Informed detection on small photos: the true payload's z against the best of 1,000 wrong allocated payloads.

    .venv/bin/python bench/watermark_informed.py [--per-folder N (default 8)] [--limit N] [--wrong N (1000)]
                                                 [--payload-format 1|2 (default: what disclosure issues now)]

The photos under 400 px of bench/watermark.py's photo set (the same list, as bench/watermark_small.py), each
marked with the payload of ledger record TRUE_RECORD and attacked (JPEG 50, half size, 80 % and 64 % crops, the
combined attacks). For each picture the blind detector runs first; its folds (every view, period guess and grid
it tried) are then scored (watermark/informed.py) against the true payload alone and against --wrong other
allocated payloads (records 1..N+1 without the true one: a dense ledger, the hardest case since neighbouring
record ids share most of their bits; with --payload-format 2, the default, each record's payload is its id
permuted, payload.py, which spreads neighbours apart in code space). Reported per attack: blind detection
rate; median and minimum informed z of the true payload; median and maximum z of the best wrong payload; the
threshold for the true payload among --wrong + 1 candidates and the informed detection rate at it (true payload
above the threshold and above every wrong one). Also the CPU time of scoring one picture's folds against 10, 1,000 and 10,000 candidates, and of
reading that many allocated payloads from a ledger (in memory) of 10,000 disclosed records.
Writes bench/results/watermark_informed.json (format 2) or watermark_informed_format1.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, require_shared_data, write_results  # noqa: E402

ATTACKS = ("combined", "combined64")  # the others decode blindly on 85-100 % of these photos (bench/watermark.py)
SMALL = 400
TRUE_RECORD = 500


def blind_and_folds(rgb: np.ndarray):
    """(blind result, folds the blind search tried): what informed detection starts from."""
    from dflab.provenance.watermark.detect import FallbackGrids, detect_residual, retry_on_fallback_grids
    from dflab.provenance.watermark.embed import luma
    from dflab.provenance.watermark.grid import detector_residual

    gray = luma(rgb)
    folds: list = []
    first = detect_residual(detector_residual(gray), folds_out=folds)
    result = retry_on_fallback_grids(first, FallbackGrids(gray), folds_out=folds)
    return result, folds


def ledger_read_ms() -> dict:
    """CPU ms to read the newest 10 / 1,000 / 10,000 disclosed records' payloads from a ledger of 10,000."""
    from dflab.lab import Lab
    from dflab.provenance.issued import issued_candidates
    from dflab.provenance.ledger import Record

    with Lab.memory() as lab:
        lab.keys.init()
        records = [Record(content_sha256=f"{i:064x}", action="generate", media_type="image",
                          extra={"synthetic": True, "watermark_generation": 1}) for i in range(10_000)]  # fmt: skip
        lab.ledger().append_batch(records)
        return {str(n): cpu_ms(lambda: issued_candidates(lab.ledger(), n)) for n in (10, 1000, 10000)}


def cpu_ms(fn) -> float:
    start = time.process_time()
    fn()
    return round(1000 * (time.process_time() - start), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-folder", type=int, default=8, help="pictures from each faces/ source folder")
    parser.add_argument("--limit", type=int, default=0, help="only the first N small photos (0: all)")
    parser.add_argument("--wrong", type=int, default=1000, help="wrong allocated payloads per picture")
    parser.add_argument("--payload-format", type=int, choices=(1, 2), default=None,
                        help="how record ids become payloads (payload.py); default: what disclosure issues now")
    args = parser.parse_args()
    require_shared_data()
    import watermark as photo_bench  # bench/watermark.py: the same photo set
    from dflab.provenance.payload import CURRENT_PAYLOAD_FORMAT, payload_in_format
    from dflab.provenance.watermark import embed_image
    from dflab.provenance.watermark.attacks import IMAGE_ATTACKS
    from dflab.provenance.watermark.informed import Candidate, best_match

    payload_format = args.payload_format or CURRENT_PAYLOAD_FORMAT

    def payload_for_record(record: int) -> bytes:
        return payload_in_format(record, payload_format)

    true = Candidate(payload_for_record(TRUE_RECORD), record=TRUE_RECORD)
    wrong = [Candidate(payload_for_record(r), record=r) for r in range(1, args.wrong + 2) if r != TRUE_RECORD][: args.wrong]
    rows = []
    for rel, rgb in photo_bench.small_photos(args.per_folder, SMALL):
        if args.limit and len(rows) >= args.limit:
            break
        marked = embed_image(rgb, true.payload)
        row = {"photo": rel, "short_side": int(min(rgb.shape[:2]))}
        for name in ATTACKS:
            blind, folds = blind_and_folds(IMAGE_ATTACKS[name](marked))
            if blind.detected:
                row[name] = {"blind": blind.payload == true.payload, "folds": 0}
                continue
            z_true = best_match(folds, [true]).z
            z_wrong = best_match(folds, wrong).z
            match = best_match(folds, [true] + wrong)
            row[name] = {"blind": False, "folds": len(folds), "true_z": round(z_true, 2),
                         "best_wrong_z": round(z_wrong, 2), "threshold": round(match.threshold, 2),
                         "present": match.present, "identified": match.identified,
                         "named_record": match.candidate.record if match.candidate else None,
                         "margin_z": round(match.margin_z, 2),
                         "misattribution_odds": float(f"{match.misattribution_odds:.2g}")}  # fmt: skip
        rows.append(row)
        print(f"  {rel[:56]:56s} {row['short_side']:4d} " + " ".join(
            f"{a}: " + ("blind" if row[a]["blind"] else f"{row[a]['true_z']:4.1f}/{row[a]['best_wrong_z']:4.1f} m {row[a]['margin_z']:4.1f}")
            for a in ATTACKS), file=sys.stderr, flush=True)  # fmt: skip

    summary = []
    for name in ATTACKS:
        cells = [r[name] for r in rows]
        tested = [c for c in cells if not c["blind"] and "true_z" in c]
        summary.append({
            "attack": name, "photos": len(cells),
            "blind": round(float(np.mean([c["blind"] for c in cells])), 3),
            "blind_or_present": round(float(np.mean([c["blind"] or c.get("present", False) for c in cells])), 3),
            "blind_or_identified": round(float(np.mean([c["blind"] or (c.get("identified", False)
                                                        and c["named_record"] == TRUE_RECORD) for c in cells])), 3),
            "wrong_record_named": int(sum(c.get("identified", False) and c["named_record"] != TRUE_RECORD
                                          for c in cells)),
            "true_z_median": round(statistics.median(c["true_z"] for c in tested), 2) if tested else None,
            "true_z_min": round(min(c["true_z"] for c in tested), 2) if tested else None,
            "best_wrong_z_median": round(statistics.median(c["best_wrong_z"] for c in tested), 2) if tested else None,
            "best_wrong_z_max": round(max(c["best_wrong_z"] for c in tested), 2) if tested else None,
            "threshold_median": round(statistics.median(c["threshold"] for c in tested), 2) if tested else None,
            "folds_median": statistics.median(c["folds"] for c in tested) if tested else None,
        })  # fmt: skip
    print_table(summary, list(summary[0]))

    # Cost of the scoring alone (the blind search that made the folds is paid anyway).
    sample = next((r for r in rows), None)
    timing = {}
    if sample is not None:
        rgb = photo_bench._load(sample["photo"])
        _, folds = blind_and_folds(IMAGE_ATTACKS["combined"](embed_image(rgb, true.payload)))
        for n in (10, 1000, 10000):
            candidates = [Candidate(payload_for_record(r), record=r) for r in range(1, n + 1)]
            timing[str(n)] = cpu_ms(lambda: best_match(folds, candidates))
        timing["folds"] = len(folds)
        timing["ledger_read"] = ledger_read_ms()
        print(f"\nCPU ms to score one picture's {len(folds)} folds against 10 / 1,000 / 10,000 candidates: "
              f"{timing['10']} / {timing['1000']} / {timing['10000']}; reading them from the ledger: "
              f"{' / '.join(str(v) for v in timing['ledger_read'].values())}")  # fmt: skip
    write_results("watermark_informed" if payload_format == 2 else "watermark_informed_format1", {
        "data": f"the {len(rows)} photos under {SMALL} px of bench/watermark.py's photo set",
        "payload_format": payload_format, "true_record": TRUE_RECORD, "wrong_candidates": len(wrong),
        "summary": summary, "scoring_cpu_ms": timing, "photos": rows,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
