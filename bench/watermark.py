"""dflab-v1 watermark: robustness on a photo set of every size, and vs the invisible-watermark package.

    .venv/bin/python bench/watermark.py [--per-folder N (default 8)] [--images N (default 6, up to 12)]
                                        [--no-baselines] [--keep-robustness] [--no-fp] [--fp-step K]

Robustness (dflab-v1 only): a photo set built from the still pictures in ../shared/data (faces/ sampled
evenly from each of its source folders, face_recognition/, dlib_faces/, the invisible_watermark covers,
cnndetection/; small ones included, pictures under the 112-pixel embedding minimum left out), each marked once
and attacked by every attack in dflab.provenance.watermark.attacks (JPEG 50; half size; 80 % and 64 % area
crops; the three together with each crop; +-3 degree rotations; a horizontal flip; the last two also after
JPEG 75). Detection rate per attack, overall and per size class (short side < 400, 400-799, >= 800 pixels).

Baselines, on the first --images photos of PHOTOS: per method and attack (none, JPEG 50, downscale 50 %, crop to
the central 80 % of the area, all three): bit accuracy (mean over images) and detection rate; PSNR; embed/decode
milliseconds at 1920x1080 (median of 3), and dflab-v1's decode time on an unmarked 1080p picture (its worst case:
every view searched). Detection rule: dflab-v1 detects when its CRC-24 passes (false-positive bound 9.5e-7 per
image); the baselines have no validity check, so they "detect" when at most k payload bits are wrong, with k the
largest value whose chance on random bits is within the same bound (64 bits: k = 11; rivaGan's 32 bits: k = 2).
Baselines get an advantage we do not take: an attacked picture whose size changed is resized back to the
original size before they decode (they have no way to resynchronise). Also measures dflab-v1's false-positive
rate on every (or every K-th) unmarked real picture in ../shared/data. Writes bench/results/watermark.json;
--keep-robustness takes the robustness section from the existing file instead of measuring it again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from dflab.provenance.payload import payload_in_format

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DFLAB_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "bench" / "results" / "watermark.json"
PHOTOS = [  # the first DEFAULT_IMAGES run by default (rivaGan needs ~30 s per 1080p pass on 2 busy cores)
    "invisible_watermark/test_vectors/original.jpg",
    "invisible_watermark/test_vectors/peppers.png",
    "face_recognition/examples/two_people.jpg",
    "liveportrait/assets/examples/source/s7.jpg",
    "c2pa_python_fixtures/tests/fixtures/A.jpg",
    "c2pa_python_fixtures/tests/fixtures/files-for-signing-tests/mars.webp",
    "face_recognition/examples/obama-1080p.jpg",
    "face_recognition/examples/knn_examples/test/obama_and_biden.jpg",
    "dlib_faces/examples/faces/bald_guys.jpg",
    "dlib_faces/examples/faces/dogs.jpg",
    "liveportrait/assets/examples/source/s9.jpg",
    "pdq/data/bridge-mods/aaa-orig.jpg",
]
DEFAULT_IMAGES = 6
RECORD = 0xC0FFEE42  # the ledger record the photos are marked for
PAYLOAD_FORMAT = 2  # payload.py: what disclosure issues now (format 1 was the record id as is: df010000c0ffee42)
PAYLOAD = payload_in_format(RECORD, PAYLOAD_FORMAT)
FP_BOUND = 16 * 2.0**-24  # dflab-v1's bound: 16 CRC-24 checks per picture
BASELINE_ATTACKS = ("none", "jpeg50", "downscale50", "crop80", "combined")
PHOTO_FOLDERS = ("face_recognition", "dlib_faces", "invisible_watermark/test_vectors", "cnndetection")
INFORMED_CANDIDATES = 1000  # allocated payloads tested when blind decoding fails: RECORD and its neighbours
SIZE_CLASSES = (("small (<400 px)", 0, 400), ("medium (400-799 px)", 400, 800), ("large (>=800 px)", 800, 10**9))
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def _load(rel: str) -> np.ndarray:
    from dflab.media.load import load_image_rgb

    return load_image_rgb(DATA / rel)


def _bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def _max_errors(n_bits: int, bound: float = FP_BOUND) -> int:
    total, k = 0.0, -1
    while k + 1 <= n_bits:
        nxt = total + math.comb(n_bits, k + 1) / 2.0**n_bits
        if nxt > bound:
            break
        total, k = nxt, k + 1
    return k


class Dflab:
    name, n_bits = "dflab-v1", 64

    def embed(self, rgb):
        from dflab.provenance.watermark import embed_image

        return embed_image(rgb, PAYLOAD)

    def decode(self, rgb, original_shape):
        from dflab.provenance.watermark import detect_image

        result = detect_image(rgb)  # no oracle resize: the detector resynchronises itself
        raw = result.raw_payload if result.raw_payload is not None else bytes(8)
        return _bits(raw), bool(result.detected and result.payload == PAYLOAD)


class ImWatermark:
    def __init__(self, method: str, n_bits: int):
        self.name, self.method, self.n_bits = method, method, n_bits
        rng = np.random.default_rng(5)
        self.bits = rng.integers(0, 2, n_bits).tolist()
        self.k = _max_errors(n_bits)
        if method == "rivaGan":
            import onnxruntime
            from imwatermark.rivaGan import RivaWatermark

            folder = DATA / "invisible_watermark" / "imwatermark"  # weights from the shared data, not the wheel
            RivaWatermark.encoder = onnxruntime.InferenceSession(str(folder / "rivagan_encoder.onnx"))
            RivaWatermark.decoder = onnxruntime.InferenceSession(str(folder / "rivagan_decoder.onnx"))

    def embed(self, rgb):
        import cv2
        from imwatermark import WatermarkEncoder

        enc = WatermarkEncoder()
        enc.set_watermark("bits", self.bits)
        bgr = enc.encode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), self.method)
        return cv2.cvtColor(np.clip(bgr, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB)

    def decode(self, rgb, original_shape):
        import cv2
        from imwatermark import WatermarkDecoder

        if rgb.shape[:2] != original_shape[:2]:
            rgb = cv2.resize(rgb, (original_shape[1], original_shape[0]), interpolation=cv2.INTER_CUBIC)
        got = np.asarray(WatermarkDecoder("bits", self.n_bits).decode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), self.method))
        got = got.astype(np.uint8).reshape(-1)[: self.n_bits]
        errors = int(np.sum(got != np.asarray(self.bits, dtype=np.uint8)))
        return got, errors <= self.k

    def expected(self):
        return np.asarray(self.bits, dtype=np.uint8)


def _expected(method) -> np.ndarray:
    return _bits(PAYLOAD) if isinstance(method, Dflab) else method.expected()


def _timing(method, rgb, repeats: int = 3) -> tuple[float, float]:
    marked = method.embed(rgb)
    embeds, decodes = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        method.embed(rgb)
        embeds.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        method.decode(marked, rgb.shape)
        decodes.append(1000 * (time.perf_counter() - t))
    return statistics.median(embeds), statistics.median(decodes)


def run_methods(photos: list[str]) -> dict:
    from dflab.provenance.watermark import psnr
    from dflab.provenance.watermark.attacks import IMAGE_ATTACKS

    methods = [Dflab(), ImWatermark("dwtDct", 64), ImWatermark("dwtDctSvd", 64), ImWatermark("rivaGan", 32)]
    images = [(rel, _load(rel)) for rel in photos]
    attacks = {name: IMAGE_ATTACKS[name] for name in BASELINE_ATTACKS}
    out: dict = {}
    for method in methods:
        acc = {a: [] for a in attacks}
        det = {a: [] for a in attacks}
        psnrs = []
        for rel, rgb in images:
            marked = method.embed(rgb)
            psnrs.append(psnr(rgb, marked))
            for attack, fn in attacks.items():
                bits, ok = method.decode(fn(marked), rgb.shape)
                acc[attack].append(float(np.mean(bits[: method.n_bits] == _expected(method))))
                det[attack].append(ok)
            print(f"  {method.name:9s} {Path(rel).name:22s} psnr {psnrs[-1]:.2f} "
                  + " ".join(f"{a}:{int(det[a][-1])}" for a in attacks), file=sys.stderr, flush=True)  # fmt: skip
        hd = next(rgb for rel, rgb in images if rgb.shape[:2] == (1080, 1920))
        embed_ms, decode_ms = _timing(method, hd, repeats=1 if method.name == "rivaGan" else 3)
        out[method.name] = {
            "payload_bits": method.n_bits,
            "psnr_db_mean": round(float(np.mean(psnrs)), 2),
            "psnr_db_min": round(float(np.min(psnrs)), 2),
            "bit_accuracy": {a: round(float(np.mean(v)), 4) for a, v in acc.items()},
            "detection_rate": {a: round(float(np.mean(v)), 4) for a, v in det.items()},
            "embed_ms_1080p": round(embed_ms, 1),
            "decode_ms_1080p": round(decode_ms, 1),
        }
    return out


def small_photos(per_folder_faces: int, under: int):
    """(path, RGB) of the photos in photo_set that are markable and shorter than `under` px on their short side."""
    from dflab.errors import DflabError
    from dflab.provenance.watermark.embed import MIN_EMBED_SHORT_SIDE

    for rel in photo_set(per_folder_faces):
        try:
            rgb = _load(rel)
        except DflabError:
            continue
        if MIN_EMBED_SHORT_SIDE <= min(rgb.shape[:2]) < under:
            yield rel, rgb


def photo_set(per_folder_faces: int) -> list[str]:
    """Every still picture of PHOTO_FOLDERS and `per_folder_faces` from each source folder of faces/ (evenly
    spaced in name order), as paths relative to DATA; deterministic."""

    def pictures(folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)

    out: list[str] = []
    for sub in sorted(p for p in (DATA / "faces").iterdir() if p.is_dir()):
        found = pictures(sub)
        step = max(1, len(found) // max(per_folder_faces, 1))
        out += [str(p.relative_to(DATA)) for p in found[::step][:per_folder_faces]]
    for folder in PHOTO_FOLDERS:
        found = pictures(DATA / folder)
        if folder == "cnndetection":
            found = found[:: max(1, len(found) // 16)]  # 320 crops of one size: 16 stand for them
        out += [str(p.relative_to(DATA)) for p in found]
    return out


def issued_candidates(n: int = INFORMED_CANDIDATES) -> list:
    """A dense ledger of n disclosed records around RECORD, in PAYLOAD_FORMAT (the hardest case for informed
    detection: in format 1 neighbouring record ids share most payload bits)."""
    from dflab.provenance.payload import payload_in_format
    from dflab.provenance.watermark.informed import Candidate

    first = RECORD - n // 2
    return [Candidate(payload_in_format(r, PAYLOAD_FORMAT), record=r) for r in range(first, first + n)]


def blind_then_informed(rgb: np.ndarray, candidates: list):
    """(blind result, informed match or None): what `dflab watermark detect` does with a ledger (generation 1)."""
    from dflab.provenance.watermark.detect import FallbackGrids, detect_residual, retry_on_fallback_grids
    from dflab.provenance.watermark.embed import luma
    from dflab.provenance.watermark.grid import detector_residual
    from dflab.provenance.watermark.informed import best_match

    gray = luma(rgb)
    folds: list = []
    blind = retry_on_fallback_grids(detect_residual(detector_residual(gray), folds_out=folds), FallbackGrids(gray),
                                    folds_out=folds)  # fmt: skip
    return blind, (None if blind.detected else best_match(folds, candidates))


def robustness(photos: list[str]) -> dict:
    """dflab-v1 on every photo x every attack: detection rate overall and per size class, the misses named.
    Blind decoding, then (where it fails) informed detection against INFORMED_CANDIDATES allocated payloads:
    `present` = a mark of this ledger is there, `identified` = and its record is named (the right one)."""
    from dflab.errors import DflabError
    from dflab.provenance.watermark import embed_image, psnr
    from dflab.provenance.watermark.attacks import IMAGE_ATTACKS
    from dflab.provenance.watermark.embed import MIN_EMBED_SHORT_SIDE

    rows, psnrs, skipped = [], [], []
    candidates = issued_candidates()
    for rel in photos:
        try:
            rgb = _load(rel)
        except DflabError:
            skipped.append(rel)
            continue
        if min(rgb.shape[:2]) < MIN_EMBED_SHORT_SIDE:
            skipped.append(rel)
            continue
        marked = embed_image(rgb, PAYLOAD)
        psnrs.append(psnr(rgb, marked))
        hits, present, identified, wrong = {}, {}, {}, {}
        for attack, fn in IMAGE_ATTACKS.items():
            result, match = blind_then_informed(fn(marked), candidates)
            hits[attack] = bool(result.detected and result.payload == PAYLOAD)
            present[attack] = hits[attack] or bool(match is not None and match.present)
            named = match is not None and match.identified
            identified[attack] = hits[attack] or bool(named and match.candidate.payload == PAYLOAD)
            wrong[attack] = bool(named and match.candidate.payload != PAYLOAD)
        rows.append({"photo": rel, "short_side": int(min(rgb.shape[:2])), "hits": hits, "present": present,
                     "identified": identified, "wrong_record": wrong})  # fmt: skip
        print(f"  {rel[:60]:60s} {min(rgb.shape[:2]):5d} " + "".join(
            "." if h else ("p" if present[a] else "x") for a, h in hits.items()), file=sys.stderr, flush=True)  # fmt: skip

    def rates(subset: list[dict], column: str = "hits") -> dict:
        return {a: round(float(np.mean([r[column][a] for r in subset])), 4) for a in IMAGE_ATTACKS} if subset else {}

    classes = {}
    for name, lo, hi in SIZE_CLASSES:
        subset = [r for r in rows if lo <= r["short_side"] < hi]
        classes[name] = {"photos": len(subset), "detection_rate": rates(subset),
                         "informed_present_rate": rates(subset, "present"),
                         "informed_identified_rate": rates(subset, "identified")}  # fmt: skip
    return {
        "photos": len(rows), "skipped_too_small_or_unreadable": len(skipped),
        "psnr_db_mean": round(float(np.mean(psnrs)), 2), "psnr_db_min": round(float(np.min(psnrs)), 2),
        "detection_rate": rates(rows), "informed_present_rate": rates(rows, "present"),
        "informed_identified_rate": rates(rows, "identified"),
        "informed_candidates": len(candidates),
        "informed_wrong_record_named": {a: sum(r["wrong_record"][a] for r in rows) for a in IMAGE_ATTACKS},
        "by_size": classes,
        "misses": {a: [r["photo"] for r in rows if not r["hits"][a]] for a in IMAGE_ATTACKS},
        "informed_misses": {a: [r["photo"] for r in rows if not r["present"][a]] for a in IMAGE_ATTACKS},
    }  # fmt: skip


def print_robustness(res: dict) -> None:
    names = ["all"] + list(res["by_size"])
    counts = [res["photos"]] + [c["photos"] for c in res["by_size"].values()]
    tables = [res["detection_rate"]] + [c["detection_rate"] for c in res["by_size"].values()]
    head = f"{'attack':18s} " + " ".join(f"{n[:20]:>20s}" for n in names)
    print(head)
    print(" " * 19 + " ".join(f"{f'n={c}':>20s}" for c in counts))
    print("-" * len(head))
    for attack in res["detection_rate"]:
        print(f"{attack:18s} " + " ".join(f"{t.get(attack, float('nan')):>20.3f}" for t in tables))
    print(f"detection rate (exact payload); PSNR mean {res['psnr_db_mean']} dB, min {res['psnr_db_min']} dB")
    if "informed_present_rate" in res:
        print(f"\nblind, then informed against {res['informed_candidates']} allocated payloads: present / identified")
        for attack in res["detection_rate"]:
            cells = [f"{t['informed_present_rate'].get(attack, float('nan')):.3f} / "
                     f"{t['informed_identified_rate'].get(attack, float('nan')):.3f}"
                     for t in [res] + list(res["by_size"].values())]  # fmt: skip
            print(f"{attack:18s} " + " ".join(f"{c:>20s}" for c in cells))
        print(f"wrong record named: {sum(res['informed_wrong_record_named'].values())}")


def unmarked_decode_ms(repeats: int = 3) -> float:
    """dflab-v1's slowest case: an unmarked 1080p picture, where every view (upright, mirrored, rotated back)
    is searched before it gives up."""
    from dflab.provenance.watermark import detect_image

    rgb = _load(PHOTOS[0])
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        detect_image(rgb)
        times.append(1000 * (time.perf_counter() - t))
    return round(statistics.median(times), 1)


def unmarked_lineage_ms(repeats: int = 3) -> float:
    """What `scan` and `verify` pay on that picture: every generation's key (image_lineage, three keys sharing
    one search of the views)."""
    from dflab.provenance.watermark.lineage import image_lineage

    rgb = _load(PHOTOS[0])
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        image_lineage(rgb)
        times.append(1000 * (time.perf_counter() - t))
    return round(statistics.median(times), 1)


def false_positives(step: int = 1) -> dict:
    """Every (or every K-th) unmarked picture: blind decoding, then informed detection against
    INFORMED_CANDIDATES allocated payloads (its false matches, its highest z against its threshold)."""
    from dflab.media.load import load_image_rgb

    paths = sorted(p for p in DATA.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))[::step]
    n, hits, zs, skipped = 0, [], [], 0
    candidates, informed_hits, named, gaps = issued_candidates(), [], [], []
    for path in paths:
        try:
            rgb = load_image_rgb(path)
        except Exception:  # noqa: BLE001 - unreadable or unsupported test fixtures are simply not counted
            skipped += 1
            continue
        result, match = blind_then_informed(rgb, candidates)
        n += 1
        zs.append(result.sync_z)
        if result.detected:
            hits.append(str(path.relative_to(DATA)))
        if match is not None and match.candidate is not None:
            gaps.append(match.z - match.threshold)
            if match.present:
                informed_hits.append(str(path.relative_to(DATA)))
            if match.identified:
                named.append(str(path.relative_to(DATA)))
    return {
        "images": n, "false_detections": len(hits), "false_detection_paths": hits, "skipped_unreadable": skipped,
        "theoretical_rate_bound": FP_BOUND, "null_sync_z_p50": round(float(np.median(zs)), 2),
        "null_sync_z_max": round(float(np.max(zs)), 2),
        "informed_candidates": len(candidates), "informed_false_matches": len(informed_hits),
        "informed_false_match_paths": informed_hits, "informed_records_named": len(named),
        "informed_null_z_minus_threshold_p50": round(float(np.median(gaps)), 2) if gaps else None,
        "informed_null_z_minus_threshold_max": round(float(np.max(gaps)), 2) if gaps else None,
    }  # fmt: skip


def print_table(res: dict) -> None:
    attacks = list(next(iter(res.values()))["bit_accuracy"])
    head = f"{'method':10s} {'bits':>4s} {'PSNR':>6s} " + " ".join(f"{a:>16s}" for a in attacks) + "  embed/decode ms@1080p"
    print(head)
    print("-" * len(head))
    for name, r in res.items():
        cells = " ".join(f"{r['bit_accuracy'][a]:>7.3f} / {r['detection_rate'][a]:>5.2f} " for a in attacks)
        print(f"{name:10s} {r['payload_bits']:>4d} {r['psnr_db_mean']:>6.2f} {cells}  {r['embed_ms_1080p']:.0f} / {r['decode_ms_1080p']:.0f}")
    print("cells: bit accuracy / detection rate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-folder", type=int, default=8, help="pictures from each faces/ source folder")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES, help=f"baseline photos (max {len(PHOTOS)})")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip the invisible-watermark comparison (the existing file's is kept)")
    parser.add_argument("--keep-robustness", action="store_true",
                        help="reuse the robustness section of the existing results file (measure the rest)")
    parser.add_argument("--no-fp", action="store_true", help="skip the false-positive scan of all unmarked pictures")
    parser.add_argument("--fp-step", type=int, default=1, help="scan every K-th unmarked picture")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 2
    if args.keep_robustness and RESULTS.is_file():
        results: dict = {"robustness": json.loads(RESULTS.read_text())["robustness"]}
    else:
        results = {"robustness": robustness(photo_set(args.per_folder))}
    print_robustness(results["robustness"])
    results["unmarked_decode_ms_1080p"] = unmarked_decode_ms()
    print(f"dflab-v1 decode on an unmarked 1080p picture (every view searched): {results['unmarked_decode_ms_1080p']} ms")
    results["unmarked_lineage_ms_1080p"] = unmarked_lineage_ms()
    print(f"every generation's key on it (scan, verify): {results['unmarked_lineage_ms_1080p']} ms\n")
    if args.no_baselines and RESULTS.is_file():  # keep the last comparison rather than drop it
        previous = json.loads(RESULTS.read_text())
        results.update({k: previous[k] for k in ("photos", "attacks", "methods") if k in previous})
    if not args.no_baselines:
        photos = PHOTOS[: args.images]
        results.update(photos=photos, attacks=", ".join(BASELINE_ATTACKS), methods=run_methods(photos))
        print_table(results["methods"])
    if not args.no_fp:
        fp = false_positives(args.fp_step)
        results["false_positives"] = fp
        print(f"\nfalse positives on unmarked real pictures: {fp['false_detections']} / {fp['images']} "
              f"(theoretical bound {fp['theoretical_rate_bound']:.1e} per picture; null sync z median "
              f"{fp['null_sync_z_p50']}, max {fp['null_sync_z_max']}); informed against "
              f"{fp['informed_candidates']} allocated payloads: {fp['informed_false_matches']} false matches (z minus "
              f"threshold: median {fp['informed_null_z_minus_threshold_p50']}, max "
              f"{fp['informed_null_z_minus_threshold_max']})")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, RESULTS)
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
