"""Findings: each finding's held-out figures beside its best single member, and the verdict on media never fitted on.

Run: .venv/bin/python bench/findings.py [--cache DIR] [--per-method N] [--scanner-version FINGERPRINT]

1. Development sets (from the shipped tables, out-of-fold scores of `dflab train findings`): per finding and
   media type, the held-out-group AUC, EER and ECE of the shipped combiner, the fused one and the best member,
   and what a user gets from each: the shares of fakes and of reals flagged (suspicious or worse, 5 % line)
   with the thresholds held out by group too.
2. Media no finding was fitted on (../shared/data/manifests): every file scanned with every detector once
   (records cached under --cache), judged by the shipped findings at the default operating point. Per set: the
   relevant finding's AUC, the file score's AUC, the share of fakes flagged (verdict suspicious or manipulated)
   and of reals flagged, with the MesoNet baseline's AUC beside the face sets.
Prints the tables and writes bench/results/findings.json.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

import numpy as np
from _common import print_table, shared_data, write_results

# (set name, manifest, the finding that should catch its fakes, filter on method or speaker, baseline)
HELD_OUT_SETS = [
    ("FF++ c23 video", "ffpp_video.csv", "face_manipulated", None, "mesonet"),
    ("LivePortrait real video", "liveportrait_video.csv", "face_manipulated", None, "mesonet"),
    ("generated faces (StyleGAN2, SD 2.1) + reals", "faces_images.csv", "synthetic_image",
     {"hardfake_tpdne_stylegan2", "fake", "hardfake_unsplash_real", "utkface_crop_part1", "rmfd_kaggle_nomask_real"},
     None),
    ("CIPLAB face splices + reals", "faces_images.csv", "face_manipulated", {"ciplab_photoshop_fake", "ciplab_real"},
     None),
    ("cnndetection generators", "cnndetection_images.csv", "synthetic_image", None, None),
    # synthetic_speech trains on the other speakers' clones and recordings: only these three are held out
    ("cloned voices (Tortoise), 3 unseen speakers + reals", "cloned_voices.csv", "synthetic_voice",
     {"daniel", "geralt", "myself"}, None),
]


def _sample_manifest(manifest: Path, keep: set | None, per_method: int, out: Path) -> Path:
    """A manifest of at most `per_method` files per (method, label), paths made absolute; `keep` (None: all)
    keeps the rows whose method or speaker it names."""
    with manifest.open() as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(0)
    by_key: dict[tuple, list] = {}
    for row in rows:
        if keep is None or row.get("method") in keep or row.get("speaker") in keep:
            by_key.setdefault((row.get("method"), row["label"]), []).append(row)
    picked = [r for key in sorted(by_key, key=str) for r in rng.sample(by_key[key], min(per_method, len(by_key[key])))]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "method", "group"])
        for r in picked:
            writer.writerow([(manifest.parent / r["path"]).resolve(), r["label"], r.get("method", ""),
                             r.get("speaker") or r.get("identity") or r.get("method") or ""])
    return out


def _judged(record: dict):
    from dflab.detect.evidence import Evidence
    from dflab.detect.findings import file_verdict, judge

    evidence = [Evidence(e["name"], float(e["score"]), float(e["confidence"]), "cached.",
                         track_scores={int(k): float(v) for k, v in (e.get("track_scores") or {}).items()},
                         decisive=bool(e.get("decisive")))
                for e in record["evidence"]]
    findings = judge(evidence, record.get("tracks") or [], media_type=record["media_type"])
    return {f.name: f for f in findings}, file_verdict(findings)


def dev_rows() -> list[dict]:
    from importlib import resources

    rows = []
    folder = resources.files("dflab.detect").joinpath("findings")
    for ref in sorted(folder.iterdir(), key=lambda r: r.name) if folder.is_dir() else []:
        if not ref.name.endswith(".json"):
            continue
        import json

        table = json.loads(ref.read_text())
        h = table["held_out"]
        row = {"finding": ref.name[:-5], "n_real": h["n_real"], "n_fake": h["n_fake"], "shipped": h["chosen"],
               "members": "+".join(table["members"]),
               "auc": h["auc"], "eer": h["eer"], "ece": h["ece"], "fused_auc": h["fused"]["auc"],
               "best_member": h["best_member"], "best_auc": h["best_member_auc"],
               "best_eer": h["best_member_eer"], "best_ece": h["best_member_ece"]}
        # fakes / reals flagged at the suspicious line, thresholds read from the other groups' reals
        for key, figs in (("shipped", h), ("fused", h["fused"]), ("best", h["members"].get(h["best_member"], {}))):
            got = (figs.get("flagged_thresholds_held_out") or {}).get("suspicious")
            if got:
                row[f"{key}_fakes_flagged"], row[f"{key}_reals_flagged"] = got["fakes"], got["reals"]
        rows.append(row)
    return rows


def held_out_rows(data: Path, cache: Path, per_method: int, with_baseline: bool,
                  scanner_version: str | None = None) -> list[dict]:
    from dflab.eval import metrics
    from dflab.eval.scan_records import scan_manifest

    rows = []
    for name, manifest_name, finding, keep, baseline in HELD_OUT_SETS:
        manifest = _sample_manifest(data / "manifests" / manifest_name, keep, per_method,
                                    cache / "manifests" / f"{name.split()[0]}_{manifest_name}")
        records, errors = scan_manifest(manifest, cache, fingerprint=scanner_version)
        labels = np.array([r["label"] for r in records])
        judged = [_judged(r) for r in records]
        finding_p = np.array([(j[0][finding].score if finding in j[0] and j[0][finding].score is not None else 0.0)
                              for j in judged])
        score = np.array([j[1][0] for j in judged])
        # the alternative the scanner does not use: a noisy-OR, as if the findings were independent
        noisy_or = np.array([1 - np.prod([1 - f.score for f in j[0].values() if f.score is not None]) for j in judged])
        flagged = np.array([j[1][1] != "authentic" for j in judged])
        row = {"set": name, "n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum()),
               "finding": finding, "skipped": len(errors)}
        both = 0 < labels.sum() < len(labels)
        row["finding_auc"] = round(float(metrics.roc_auc(labels, finding_p)), 4) if both else None
        row["file_auc"] = round(float(metrics.roc_auc(labels, score)), 4) if both else None
        row["noisy_or_auc"] = round(float(metrics.roc_auc(labels, noisy_or)), 4) if both else None
        if (labels == 0).any():
            row["real_mean_score"] = round(float(score[labels == 0].mean()), 4)
            row["real_mean_noisy_or"] = round(float(noisy_or[labels == 0].mean()), 4)
        row["fakes_flagged"] = round(float(flagged[labels == 1].mean()), 4) if labels.sum() else None
        row["reals_flagged"] = round(float(flagged[labels == 0].mean()), 4) if (labels == 0).any() else None
        if baseline and with_baseline:
            from dflab.eval.baselines import get_baseline

            scorer = get_baseline(baseline)
            base = np.array([float(getattr(s := scorer(Path(r["path"])), "score", s)) for r in records])
            row[f"{baseline}_auc"] = round(float(metrics.roc_auc(labels, base)), 4) if both else None
        rows.append(row)
        print(f"  {name}: {len(records)} files", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dflab_scan_cache"))
    parser.add_argument("--per-method", type=int, default=40, help="files per (method, label) of each set")
    parser.add_argument("--no-baseline", action="store_true", help="skip MesoNet")
    parser.add_argument("--scanner-version", metavar="FINGERPRINT",
                        help="judge the records an earlier scanner version left in --cache (nothing is scanned): "
                        "the findings re-judge cached evidence, so a findings change needs no rescan")
    args = parser.parse_args()
    dev = dev_rows()
    print("Development sets, held out by group (out-of-fold):")
    print_table(dev, ["finding", "n_real", "n_fake", "shipped", "members", "auc", "eer", "ece", "fused_auc",
                      "best_member", "best_auc", "best_eer", "best_ece"])
    print("\nWhat a user gets on them: fakes / reals flagged (5 % line, thresholds held out by group too):")
    print_table(dev, ["finding", "shipped", "shipped_fakes_flagged", "shipped_reals_flagged", "best_member",
                      "best_fakes_flagged", "best_reals_flagged", "fused_fakes_flagged", "fused_reals_flagged"])
    data = shared_data()
    held = held_out_rows(data, args.cache, args.per_method, not args.no_baseline, args.scanner_version) if data else []
    if held:
        print("\nMedia never fitted on, default operating point (manipulated at 1 %, suspicious at 5 % of reals):")
        print_table(held, ["set", "n_real", "n_fake", "finding", "finding_auc", "file_auc", "fakes_flagged",
                           "reals_flagged", "mesonet_auc"])
        print("\nThe file score as the strongest finding against a noisy-OR over the findings:")
        print_table(held, ["set", "file_auc", "noisy_or_auc", "real_mean_score", "real_mean_noisy_or"])
    from dflab.eval.scan_records import scanner_fingerprint

    write_results("findings", {"development": dev, "held_out": held, "per_method": args.per_method,
                               "scanner": args.scanner_version or scanner_fingerprint()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
