"""Learned (autoencoder) face swaps against the video development set's reals: what the shipped detectors see.

Run: .venv/bin/python bench/learned_swaps.py LEARNED_DIR --devset DEVSET_DIR [--cache DIR] [--no-baseline]
     [--scanner-version FINGERPRINT]

LEARNED_DIR is what `python -m dflab.train.devset_learned` wrote, DEVSET_DIR what `python -m dflab.train.devset`
wrote. Every learned swap and every development real of the same footage groups is scanned with the members of
the video face_manipulated finding plus the watermark cue (records cached under --cache), nothing is fitted on
them. Per detector: AUC of learned swaps against reals, per group and pooled (the feature the findings fit uses:
confidence x logit(score), 0 where the detector did not run). The shipped face_manipulated finding: shares of
swaps and reals at its suspicious and manipulated lines. The watermark that `dflab swap convert` embeds: the
share of swaps where the scan still reads it after the re-publication. MesoNet (Meso4, deepfakes weights) beside.
With --refit TABLE.json (tables `dflab train findings` wrote with their per-file out-of-fold list, one fitted on
the development set with the learned swaps, one without, as --baseline-table), each table's held-out shares:
learned swaps, graphics fakes and reals flagged at its own operating points, every file scored by calibrations
fitted without its footage group.
Prints the tables and writes bench/results/learned_swaps.json.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
from _common import print_table, write_results

# The members the shipped video table was fitted with (paste reads pictures only), plus the maker's watermark.
MEMBERS = ("face_crop", "boundary", "blink", "skin_tone", "head_pose", "identity_drift", "lip_sync")
DETECTORS = sorted(MEMBERS + ("watermark",))
FINDING = "face_manipulated"


def _rows(manifest: Path) -> list[dict]:
    with manifest.open() as f:
        return [{**r, "path": str((manifest.parent / r["path"]).resolve())} for r in csv.DictReader(f)]


def combined_manifest(learned: Path, devset: Path, out: Path) -> Path:
    """The learned swaps and the development reals of their groups, in one manifest of absolute paths."""
    swaps = _rows(learned / "manifest.csv")
    groups = {r["group"] for r in swaps}
    reals = [r for r in _rows(devset / "manifest.csv") if r["label"] == "real" and r["group"] in groups]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["path", "label", "method", "group", "source", "degradation"])
        writer.writeheader()
        for r in reals + swaps:
            writer.writerow({k: r[k] for k in writer.fieldnames})
    return out


def member_feature(record: dict, name: str) -> float:
    from dflab.train.findings_fit import _feature

    for e in record["evidence"]:
        if e["name"] == name and float(e["confidence"]) > 0:
            return _feature(float(e["score"]), float(e["confidence"]))
    return 0.0


def judged(record: dict) -> dict:
    """The shipped findings on a record's cached evidence, by name."""
    from dflab.detect.evidence import Evidence
    from dflab.detect.findings import judge

    evidence = [Evidence(e["name"], float(e["score"]), float(e["confidence"]), "cached.",
                         track_scores={int(k): float(v) for k, v in (e.get("track_scores") or {}).items()},
                         decisive=bool(e.get("decisive")))
                for e in record["evidence"]]  # fmt: skip
    return {f.name: f for f in judge(evidence, record.get("tracks") or [], media_type=record["media_type"])}


def watermark_read(record: dict) -> bool:
    return any(e["name"] == "watermark" and float(e["confidence"]) > 0 and float(e["score"]) >= 0.5
               for e in record["evidence"])  # fmt: skip


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    from dflab.eval import metrics

    return round(float(metrics.roc_auc(labels, scores)), 4) if 0 < labels.sum() < len(labels) else None


def share(mask: np.ndarray) -> float | None:
    return round(float(mask.mean()), 4) if mask.size else None


def mesonet_scores(records: list[dict], cache: Path) -> np.ndarray:
    """Meso4 (deepfakes) per file, cached by content next to the scan records; NaN where it finds no face."""
    from dflab.errors import DflabError
    from dflab.eval.baselines import get_baseline
    from dflab.provenance.ledger.record import sha256_file

    scorer = get_baseline("mesonet")
    out = []
    for r in records:
        key = cache / f"mesonet_{sha256_file(r['path'])[:32]}.json"
        if not key.is_file():
            try:
                s = scorer(Path(r["path"]))
                key.write_text(json.dumps({"score": float(getattr(s, "score", s))}))
            except DflabError:
                key.write_text(json.dumps({"score": None}))
        got = json.loads(key.read_text())["score"]
        out.append(np.nan if got is None else got)
    return np.array(out, dtype=float)


def detector_rows(records: list[dict], labels: np.ndarray, groups: np.ndarray, extra: dict[str, np.ndarray]) -> list[dict]:
    names = sorted(set(groups))
    scores = {m: np.array([member_feature(r, m) for r in records]) for m in MEMBERS} | extra
    rows = []
    for name, s in scores.items():
        ran = np.array([any(e["name"] == name and float(e["confidence"]) > 0 for e in r["evidence"]) for r in records])
        if name not in MEMBERS:
            ran = ~np.isnan(s)
            s = np.where(ran, s, 0.5)  # no face found: no opinion
        row = {"detector": name, "pooled": auc(labels, s), "ran_on_swaps": share(ran[labels == 1]),
               "ran_on_reals": share(ran[labels == 0])}
        for g in names:
            keep = groups == g
            row[g] = auc(labels[keep], s[keep])
        rows.append(row)
    return rows


def finding_rows(records: list[dict], labels: np.ndarray, groups: np.ndarray) -> tuple[list[dict], np.ndarray]:
    findings = [judged(r) for r in records]
    p = np.array([(f[FINDING].score if f[FINDING].score is not None else 0.0) for f in findings])
    verdict = np.array([f[FINDING].verdict for f in findings])
    rows = []
    for g in sorted(set(groups)) + ["pooled"]:
        keep = np.ones(len(records), bool) if g == "pooled" else groups == g
        fake, real = keep & (labels == 1), keep & (labels == 0)
        rows.append({"group": g, "n_swaps": int(fake.sum()), "n_reals": int(real.sum()),
                     "finding_auc": auc(labels[keep], p[keep]),
                     "swaps_suspicious_or_worse": share(np.isin(verdict[fake], ["suspicious", "manipulated"])),
                     "reals_suspicious_or_worse": share(np.isin(verdict[real], ["suspicious", "manipulated"])),
                     "swaps_manipulated": share(verdict[fake] == "manipulated"),
                     "reals_manipulated": share(verdict[real] == "manipulated")})  # fmt: skip
    return rows, verdict


def refit_rows(tables: dict[str, Path], learned_paths: set[str]) -> list[dict]:
    """Held-out shares of each refitted table: out-of-fold probabilities against its own operating points."""
    from dflab.detect.findings import threshold_at

    rows = []
    for name, path in tables.items():
        table = json.loads(path.read_text())
        quantiles = table["real_quantiles"]
        p = np.array([r["p"] for r in table["oof"]])
        learned = np.array([Path(r["path"]).name in learned_paths and r["label"] == 1 for r in table["oof"]])
        labels = np.array([r["label"] for r in table["oof"]])
        kinds = {"learned swaps": learned, "graphics fakes": (labels == 1) & ~learned, "reals": labels == 0}
        h = table["held_out"]
        row = {"table": name, "combine": table["combine"], "members": "+".join(table["members"]),
               "auc": h["auc"], "ece": h["ece"]}  # fmt: skip
        for line, fpr in (("suspicious", 0.05), ("manipulated", 0.01)):
            t = max(threshold_at(quantiles, fpr), 0.5)
            for kind, mask in kinds.items():
                row[f"{kind} {line}"] = share(p[mask] >= t) if mask.any() else None
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("learned", type=Path, metavar="LEARNED_DIR")
    parser.add_argument("--devset", type=Path, required=True, metavar="DEVSET_DIR")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dflab_scan_cache"))
    parser.add_argument("--no-baseline", action="store_true", help="skip MesoNet")
    parser.add_argument("--refit", type=Path, metavar="TABLE.json", help="a table fitted with the learned swaps added")
    parser.add_argument("--baseline-table", type=Path, metavar="TABLE.json",
                        help="the same fit without the learned swaps (same scanner, same detectors)")
    parser.add_argument("--scanner-version", metavar="FINGERPRINT",
                        help="judge the records an earlier scanner version left in --cache (nothing is scanned)")
    args = parser.parse_args()
    from dflab.eval.scan_records import scan_manifest, scanner_fingerprint

    for folder in (args.learned, args.devset):
        if not (folder / "manifest.csv").is_file():
            print(f"no manifest.csv in {folder}", flush=True)
            return 2
    manifest = combined_manifest(args.learned, args.devset, args.cache / "manifests" / "learned_swaps.csv")
    def progress(n: int, total: int, path: str) -> None:
        if n % 20 == 0:
            print(f"  scan {n}/{total}", flush=True)

    records, errors = scan_manifest(manifest, args.cache, fingerprint=args.scanner_version, detectors=DETECTORS,
                                    progress=progress)
    by_path = {r["path"]: r for r in _rows(manifest)}
    labels = np.array([r["label"] for r in records])
    groups = np.array([r["group"] for r in records])
    degradation = np.array([by_path[r["path"]]["degradation"] for r in records])
    extra = {} if args.no_baseline else {"mesonet": mesonet_scores(records, args.cache)}
    detectors = detector_rows(records, labels, groups, extra)
    finding, verdict = finding_rows(records, labels, groups)
    marked = np.array([watermark_read(r) for r in records])
    disclosed = np.array([judged(r)["disclosed_synthetic"].verdict in ("suspicious", "manipulated") for r in records])
    wm_rows = []
    for d in sorted(set(degradation[labels == 1])) + ["all"]:
        keep = (labels == 1) & ((degradation == d) if d != "all" else True)
        wm_rows.append({"degradation": d, "n_swaps": int(keep.sum()), "watermark_read": share(marked[keep]),
                        "disclosed_synthetic_flagged": share(disclosed[keep]),
                        "face_manipulated_flagged": share(np.isin(verdict[keep], ["suspicious", "manipulated"]))})  # fmt: skip
    reals_marked = share(marked[labels == 0])
    names = sorted(set(groups))
    print(f"{int(labels.sum())} learned swaps, {int((labels == 0).sum())} reals of groups {', '.join(names)}; "
          f"{len(errors)} skipped")
    print("\nAUC, learned swaps against reals (held out: nothing was fitted on these files):")
    print_table(detectors, ["detector", "pooled", *names, "ran_on_swaps", "ran_on_reals"])
    print(f"\nShipped {FINDING} (video table): shares flagged at its suspicious and manipulated lines:")
    print_table(finding, ["group", "n_swaps", "n_reals", "finding_auc", "swaps_suspicious_or_worse",
                          "reals_suspicious_or_worse", "swaps_manipulated", "reals_manipulated"])
    print(f"\nThe maker's watermark after the re-publication (reals read as marked: {reals_marked}):")
    print_table(wm_rows, ["degradation", "n_swaps", "watermark_read", "disclosed_synthetic_flagged",
                          "face_manipulated_flagged"])
    refit = []
    if args.refit:
        tables = {"with learned swaps": args.refit} | ({"without": args.baseline_table} if args.baseline_table else {})
        refit = refit_rows(tables, {Path(r["path"]).name for r in _rows(args.learned / "manifest.csv")})
        print("\nRefitted face_manipulated tables, held out by footage group (out-of-fold, own operating points):")
        cols = [c for c in refit[0] if c not in ("members",)]
        print_table(refit, cols)
    write_results("learned_swaps", {
        "learned": str(args.learned), "devset": str(args.devset), "detectors": DETECTORS, "errors": errors,
        "n_swaps": int(labels.sum()), "n_reals": int((labels == 0).sum()), "groups": names,
        "auc": detectors, "finding": finding, "watermark": wm_rows, "reals_watermark_read": reals_marked,
        "refit": refit,
        "scanner": args.scanner_version or scanner_fingerprint(),
        "manifest_sha256": hashlib.sha256((args.learned / "manifest.csv").read_bytes()).hexdigest(),
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
