"""dflab-v1 on small photos after the combined attacks: how much of the mark is left, measured at its true alignment.

    .venv/bin/python bench/watermark_small.py [--per-folder N (default 8)]

The photos under 400 px of bench/watermark.py's photo set (the same list), each marked once and attacked by
combined (80 % area crop + half size + JPEG 50) and combined64 (64 % area crop, the same). For every picture:

- detector: what `detect_image` reports (found, sync z, bit errors in its best-guess raw payload);
- oracle: the tile's true alignment, taken from the mark alone (marked minus unmarked picture after the same
  attack, whitened on a grid at the attacked picture's own resolution, where the mark reads best), applied to
  the marked picture. Reported there: the correlation z of the whole known 32x32 tile (what a detector that
  already knew the payload could reach), the same for the mark alone (host picture removed: the ceiling of any
  informed embedding), the raw error rate of the 282 coded bits, and whether Viterbi + CRC-24 decode the payload.

This is an upper bound for any blind search over period and offset: a detector cannot beat its own perfect
alignment. Writes bench/results/watermark_small.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, require_shared_data, write_results  # noqa: E402

ATTACKS = ("combined", "combined64")
SMALL = 400


def despread_z(values: np.ndarray) -> float:
    """Correlation z of a despread array: mean over its spread, times sqrt(n)."""
    v = values.ravel()
    return float(v.mean() / (v.std() + 1e-12) * np.sqrt(v.size))


def measure(rgb: np.ndarray, attack) -> dict:
    from dflab.provenance.watermark import detect_image, ecc, embed_image, grid
    from dflab.provenance.watermark.embed import luma
    from dflab.provenance.watermark.pattern import INFO_BITS, TILE, layout_for_key, tile_for_payload
    from dflab.provenance.watermark.sync import align, fold

    payload = bytes.fromhex("df010000c0ffee42")
    layout, tile = layout_for_key(), tile_for_payload(payload)
    coded = ecc.conv_encode(ecc.frame_message(payload))
    marked = embed_image(rgb, payload)
    attacked, clean = attack(marked), attack(rgb)
    found = detect_image(attacked)
    raw = found.raw_payload or bytes(8)
    raw_errors = int(np.sum(ecc.bytes_to_bits(raw) != ecc.bytes_to_bits(payload)))

    height, width = rgb.shape[:2]
    work_h, work_w = grid.scaled_hw((height, width), grid.embed_short_side(min(height, width)))
    side = min(attacked.shape[:2])  # the grid at the attacked picture's own resolution
    hw = grid.scaled_hw(attacked.shape[:2], side)
    # tile period on that grid: TILE working pixels -> source pixels -> attacked pixels -> grid pixels
    crop_w = round(width * (0.8 if attack.__name__ == "combined" else 0.64) ** 0.5)
    crop_h = round(height * (0.8 if attack.__name__ == "combined" else 0.64) ** 0.5)
    px = TILE * (width / work_w) * (hw[1] / crop_w)
    py = TILE * (height / work_h) * (hw[0] / crop_h)
    residual = grid.whiten(grid.resize_luma(luma(attacked), hw))
    mark_only = residual - grid.whiten(grid.resize_luma(luma(clean), hw))
    truth = align(mark_only, px, py, layout, polish=True)
    folded = fold(residual, truth.period_x, truth.period_y, truth.origin_x, truth.origin_y)
    soft = layout.soft_bits(folded)
    decoded = ecc.check_message(ecc.viterbi_decode(soft, INFO_BITS)) == payload
    return {
        "detected": bool(found.detected and found.payload == payload),
        "detector_sync_z": round(float(found.sync_z), 2),
        "detector_raw_payload_bit_errors": raw_errors,
        "oracle_tile_z": round(despread_z(folded * tile), 2),
        "oracle_mark_only_tile_z": round(despread_z(truth.folded * tile), 2),
        "oracle_coded_bit_error_rate": round(float(np.mean((soft > 0) != coded)), 3),
        "oracle_decodes": bool(decoded),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-folder", type=int, default=8, help="pictures from each faces/ source folder")
    args = parser.parse_args()
    require_shared_data()
    import watermark as photo_bench  # bench/watermark.py: the same photo set
    from dflab.provenance.watermark import attacks

    rows = []
    for rel, rgb in photo_bench.small_photos(args.per_folder, SMALL):
        row = {"photo": rel, "short_side": int(min(rgb.shape[:2]))}
        for name in ATTACKS:
            row[name] = measure(rgb, getattr(attacks, "combined" if name == "combined" else "combined_hard"))
        rows.append(row)
        print(f"  {rel[:60]:60s} {row['short_side']:4d} " + " ".join(
            f"{a}: z {row[a]['oracle_tile_z']:5.1f} / {row[a]['oracle_mark_only_tile_z']:5.1f}" for a in ATTACKS),
            file=sys.stderr, flush=True)  # fmt: skip

    summary = []
    for name in ATTACKS:
        cells = [r[name] for r in rows]

        def med(key: str) -> float:
            return round(float(statistics.median(c[key] for c in cells)), 3)

        summary.append({
            "attack": name, "photos": len(cells),
            "detected": round(float(np.mean([c["detected"] for c in cells])), 3),
            "detector_sync_z_median": med("detector_sync_z"),
            "detector_raw_payload_bit_errors_median": med("detector_raw_payload_bit_errors"),
            "oracle_tile_z_median": med("oracle_tile_z"),
            "oracle_tile_z_min": round(float(min(c["oracle_tile_z"] for c in cells)), 2),
            "oracle_mark_only_tile_z_median": med("oracle_mark_only_tile_z"),
            "oracle_coded_bit_error_rate_median": med("oracle_coded_bit_error_rate"),
            "oracle_decodes": round(float(np.mean([c["oracle_decodes"] for c in cells])), 3),
        })  # fmt: skip
    print_table(summary, list(summary[0]))
    write_results("watermark_small", {
        "data": f"the {len(rows)} photos under {SMALL} px of bench/watermark.py's photo set",
        "summary": summary, "photos": rows,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
