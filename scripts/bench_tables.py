"""Write docs/benchmarks.md from bench/results/*.json: one section per benchmark, headline figures in tables.

    python scripts/bench_tables.py            # rewrite docs/benchmarks.md
    python scripts/bench_tables.py --check    # exit 1 when docs/benchmarks.md is not what the JSON gives

What each benchmark measures comes from the first line of its script's docstring (bench/<name>.py), the data it
reads and the headline figures from a small renderer here; a results file without a renderer still gets a
section listing its top-level figures, so a new benchmark never breaks the page. Deterministic: the same JSON
always gives the same text (tests/test_docs.py checks the committed page against it).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "docs" / "benchmarks.md"

# Words of the lab's working history that result files still carry in a few labels; the page speaks to users.
RELABEL = {"issue set": "test set", "issue's set": "test set"}


def clean(text: object) -> str:
    out = str(text)
    for old, new in RELABEL.items():
        out = out.replace(old, new)
    return out


def num(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        text = f"{value:,.{digits}f}".rstrip("0")  # 4.2 rather than 4.200; 1.0 rather than 1.
        return text + "0" if text.endswith(".") else text
    return clean(value)


def pct(value: object, digits: int = 1) -> str:
    return "-" if value is None else f"{float(value) * 100:.{digits}f} %"


def table(headers: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(num(c) if not isinstance(c, str) else clean(c) for c in row) + " |" for row in rows]
    return lines


def machine_line(doc: dict) -> str:
    """Where and when the figures were taken, from whatever the file records."""
    info = doc.get("machine") if isinstance(doc.get("machine"), dict) else {}
    parts = []
    when = info.get("when") or doc.get("when")
    if when:
        parts.append(f"recorded {when}")
    cpus = info.get("cpus") or doc.get("cpus") or doc.get("cpu_count")
    if cpus:
        parts.append(f"{cpus} CPUs")
    for key in ("load_average_1min", "load_average_1m_after", "load_average"):
        load = doc.get(key, doc.get("summary", {}).get(key) if isinstance(doc.get("summary"), dict) else None)
        if isinstance(load, list):
            load = load[0]
        if isinstance(load, (int, float)):
            parts.append(f"load average {load:.1f}")
            break
    return ("Machine: " + ", ".join(parts) + ".") if parts else ""


# ---------------------------------------------------------------------------------------------------------------
# One renderer per known results file: (data it reads, lines of figures).


@dataclass(frozen=True)
class Spec:
    data: str
    render: Callable[[dict], list[str]]
    what: str = ""  # when the benchmark has no script of its own


def _api_scanner(d: dict) -> list[str]:
    median = d["median_s"]
    return table(["way of scanning", "median seconds per call", "per call, each run"],
                 [[way, f"{median[way]:.1f}", " / ".join(f"{t:.1f}" for t in d["seconds"].get(way, []))]
                  for way in median]) + [
        "", f"Clip: {d['clip']} ({d['duration_s']} s, {d['frames_analysed']} frames analysed). A fresh process per "
        f"call costs {d['ratio_fresh_process_over_warm']:.1f}x a warm Scanner."]


def _audio_speed(d: dict) -> list[str]:
    return table(["stage", "ms per 10 s clip", "times real time"],
                 [[s["stage"], s["ms_per_10s_clip"], f"{s['rtf']:.1f}x"] for s in d["stages"]])


def _aasist_cost(d: dict) -> list[str]:
    return table(["stage", "CPU s (user + system)"], [[r["stage"], f"{r['cpu_s']:.3f}"] for r in d["rows"]]) + [
        "", f"One torch thread, {d['clips']} clips, median of {d['repeats']} runs each."]


def _audio_trace(d: dict) -> list[str]:
    rows = [[r["group"], r["clips"], f"{r['top1']}/{r['clips']} ({r['top1_pct']:.1f} %)"] for r in d["summary"]]
    u, t = d["unregistered"], d["timing"]
    return table(["copies", "n", "top-1 right"], rows) + [
        "",
        f"Registered: {d['originals']} originals and {d['decoys']} decoys ({d['registered_hours'] * 60:.0f} min of "
        f"audio). Never-registered files: {u['false_matches']} false match(es) among {u['files']}. Speed factor "
        f"median error {d['factor_error_median'] * 100:.2f} %. Lookup {t['lookup_ms_per_clip_median']:.0f} ms median "
        f"per clip ({t['lookup_ms_per_clip_mean']:.0f} ms mean).",
    ]


def _compare_audio(d: dict) -> list[str]:
    s = d["summary"]
    by_method: dict[str, list[dict]] = {}
    for r in d["table"]:
        by_method.setdefault(r["method"], []).append(r)
    rows = [[m, sum(r["clips"] for r in rs), pct(min(r["within_5pct"] for r in rs)),
             pct(max(r["median_err"] for r in rs), 2)] for m, rs in by_method.items()]
    return table(["method", "clips", "factor within 5 % (worst factor)", "median error (worst factor)"], rows) + [
        "",
        f"All {s['clips']} clips: factor within 5 % on {pct(s['within_5pct'])}, p95 error {pct(s['p95_err'], 2)}, "
        f"max {pct(s['max_err'], 1)}; pitch handling told right on {pct(s['pitch_handling_correct'])}. Jump cuts "
        f"inside the original found: {s['cuts_found']}/{s['cuts_inside_original']} "
        f"({s['of_those_found']}/{s['cuts_with_0.6s_on_both_sides']} with 0.6 s of uncut audio on both sides); "
        f"{s['false_removed_on_cut_clips']} false removed pieces; sped-up clips with a spurious edit: "
        f"{s['sped_up_clips_with_an_edit_reported']}.",
    ]


def _cuts(d: dict) -> list[str]:
    s = d["summary"]
    return table(["measure", "value"], [
        ["hard cuts found", f"{round(s['hard_cut_detection'] * s['hard_cuts'])}/{s['hard_cuts']}"],
        ["jump cuts found", f"{round(s['jump_cut_detection'] * s['jump_cuts'])}/{s['jump_cuts']}"],
        ["false cuts per minute, re-encoded clips", num(s["false_cuts_per_min_reencoded"], 2)],
        ["false cuts per minute, all clips", num(s["false_cuts_per_min_all"], 2)],
        ["timing error, max", f"{s['timing_error_max_s']:.2f} s"],
        ["cost", f"{s['cut_ms_per_s_video']:.0f} ms per second of video"],
        ["video", f"{s['minutes_of_video']} min (seed {d['seed']})"],
    ])


def _speed_long_clips(d: dict) -> list[str]:
    def cell(row, key):
        return "-" if row.get(key) is None else f"{row[key]}/{row['clips']}"

    def not_judged(row):  # the speed finding could not run at all (no sound and no consecutive frames)
        n = sum(c["variant"] == row["variant"] and c[row["mode"]]["verdict"] == "not_applicable" for c in d["clips"])
        return f"{n}/{row['clips']}"

    rows = [[r["variant"], r["mode"], r["clips"], not_judged(r), cell(r, "flagged"), cell(r, "manipulated"),
             cell(r, "within_5pct"), cell(r, "wrong_side")] for r in d["rows"]]
    cost = d["decode_cpu_s"]
    return table(["variant", "mode", "clips", "not judged", "flagged", "manipulated", "factor within 5 %",
                  "wrong side of 1"], rows) + [
        "", f"Decoding a 60 s 720p clip as a scan does, CPU seconds (median of 3): {cost['sampled only']} sampled "
        f"only, {cost['run']} with the run."]


def _decode_speed(d: dict) -> list[str]:
    return table(["clip", "method", "frames", "wall s (best)", "CPU s", "video s per wall s"],
                 [[r["clip"], r["method"], r["frames"], r["wall_s"], r["cpu_s"], r["video_s_per_wall_s"]]
                  for r in d["rows"]])


def _detector_speed(d: dict) -> list[str]:
    return table(["what", "torch threads", "batch", "crops per s"],
                 [[r["what"], r["threads"], r["batch"], f"{r['crops_per_s']:.1f}"] for r in d["rows"]]) + [
        "", f"Target: {d['target_crops_per_s']} crops per second."]


def _eval_manifest(d: dict) -> list[str]:
    rows = [["all", d["n"], d["auc"], f"{d['auc_ci'][0]:.2f}-{d['auc_ci'][1]:.2f}", d["eer"], d["ap"],
             d["accuracy"], d["ece"]]]
    rows += [[m, r["n"], r["auc"], f"{r['auc_ci'][0]:.2f}-{r['auc_ci'][1]:.2f}", r["eer"], r["ap"], r["accuracy"],
              r["ece"]] for m, r in d["per_method"].items()]
    return [f"Manifest: `{Path(d['manifest']).name}`.", ""] + table(
        ["method", "n", "AUC", "95 % CI", "EER", "AP", "accuracy at 0.5", "ECE"], rows) + [
        "", f"{d['files_per_s']:.2f} files per second."]


def _face_crop_eval(d: dict) -> list[str]:
    rows = [[r["method"], num(r.get("fake_score")), r["video_auc_vs_originals"], r["crop_auc_vs_originals"],
             r["video_auc_vs_originals_lp"], r["crop_auc_vs_originals_lp"]]
            for r in d["per_method"] if r["model"] == "shipped"]
    return table(["unseen method", "fake clip score", "video AUC vs 3 originals", "crop AUC vs originals",
                  "video AUC, + held-out reals", "crop AUC, + held-out reals"], rows)


def _face_crop_eval_before(d: dict) -> list[str]:
    return table(["left-out method", "fake clip score", "highest real", "video AUC", "crop AUC"],
                 [[r["method"], r["fake_score"], r["max_real_score"], r["video_auc"], r["crop_auc"]]
                  for r in d["lomo"]])


def _face_crop_heldout(d: dict) -> list[str]:
    """Per weights file: FF++ unseen methods (mean AUCs), LivePortrait d19, and the faces/ pictures' false alarms."""
    rows = []
    for model in d["models"]:
        mean = next((r for r in d.get("ffpp", []) if r["model"] == model and r["method"] == "mean"), {})
        d19 = next((r for r in d.get("driving", []) if r["clip"] == "d19"), {})
        pics = {r["set"]: r for r in d["pictures"] if r["model"] == model}
        reals = " / ".join(pct(pics[s]["at_0.5"], 0) for s in ("ciplab_real", "rmfd_kaggle_nomask_real",
                                                                 "hardfake_unsplash_real", "utkface_crop_part1") if s in pics)
        rows.append([model, num(mean.get("video_auc_vs_originals")), num(mean.get("crop_auc_vs_originals")),
                     num(d19.get(f"{model}_score")), reals,
                     num(pics.get("AUC", {}).get("ciplab_splices_vs_ciplab_reals"))])
    return table(["weights", "FF++ video AUC, mean of 4 unseen methods", "FF++ crop AUC, mean", "d19 (real) score",
                  "held-out reals at 0.5 or more: CIPLAB / RMFD / Unsplash / UTKFace", "CIPLAB splices vs reals AUC"],
                 rows) + ["", f"Pictures: at most {d.get('pictures_per_folder')} per faces/ folder. Weights: "
                          + "; ".join(f"{k}: {clean(v)}" for k, v in d["models"].items()) + "."]


def _face_speed(d: dict) -> list[str]:
    f, m = d["find_faces_720p"], d["find_faces_multi_face_clip"]
    return table(["measure", "value"], [
        ["face detection + 478-point mesh, 720p frame (median / p95)", f"{f['median_ms']} / {f['p95_ms']} ms"],
        ["same on a multi-face clip (median / p95)", f"{m['median_ms']} / {m['p95_ms']} ms"],
        ["identity embedding (median)", f"{d['embedding_ms_median']} ms"],
        ["whole face analysis of the clip (best)", f"{d['analyse_total_s']['best']} s for {d['clip']}"],
    ])


def _findings(d: dict) -> list[str]:
    out: list[str] = []
    if d.get("development"):
        out += ["Development sets, held out by group (out-of-fold):", ""] + table(
            ["finding", "real / fake", "combiner", "AUC", "EER", "ECE", "best member", "its AUC"],
            [[r["finding"], f"{r.get('n_real')} / {r.get('n_fake')}", num(r.get("shipped")), num(r.get("auc")),
              num(r.get("eer")), num(r.get("ece")), num(r.get("best_member")), num(r.get("best_auc"))]
             for r in d["development"]]) + [""]
        flagged = [r for r in d["development"] if r.get("shipped_fakes_flagged") is not None]
        if flagged:
            out += ["What a user gets on them: fakes / reals flagged (suspicious or worse: the 5 % line, its "
                    "threshold read from the other groups' real files):", ""] + table(
                ["finding", "shipped (members)", "fakes / reals flagged", "best member alone", "fakes / reals flagged",
                 "fused", ],
                [[r["finding"], f"{r['shipped']} ({r.get('members', '-')})",
                  f"{pct(r['shipped_fakes_flagged'])} / {pct(r['shipped_reals_flagged'])}", num(r.get("best_member")),
                  f"{pct(r.get('best_fakes_flagged'))} / {pct(r.get('best_reals_flagged'))}",
                  f"{pct(r.get('fused_fakes_flagged'))} / {pct(r.get('fused_reals_flagged'))}"] for r in flagged]) + [""]
    if d.get("held_out"):
        out += ["Media no finding was fitted on, default operating point:", ""] + table(
            ["set", "real / fake", "finding", "finding AUC", "file score AUC", "fakes flagged", "reals flagged",
             "MesoNet AUC"],
            [[r["set"], f"{r.get('n_real')} / {r.get('n_fake')}", r.get("finding", "-"), num(r.get("finding_auc")),
              num(r.get("file_auc")), pct(r.get("fakes_flagged")), pct(r.get("reals_flagged")),
              num(r.get("mesonet_auc"))] for r in d["held_out"]])
    return out or ["(no finding has a fitted table or a held-out set yet)"]


def _ledger(d: dict) -> list[str]:
    p = d["proofs"]
    return table(["measure", "value"], [
        ["batched appends per s (1,000 per transaction)", f"{d['batched']['appends_per_s']:,.0f}"],
        ["single appends per s, synchronous FULL / NORMAL",
         f"{d['single_full']['appends_per_s']:,.0f} / {d['single_normal']['appends_per_s']:,.0f}"],
        ["inclusion proof (mean / p99)", f"{p['inclusion_proof']['mean_ms']:.2f} / {p['inclusion_proof']['p99_ms']:.1f} ms"],
        ["consistency proof (mean / p99)",
         f"{p['consistency_proof']['mean_ms']:.2f} / {p['consistency_proof']['p99_ms']:.1f} ms"],
        ["offline check of a proof file (mean / p99)",
         f"{p['verify_bundle_offline']['mean_ms']:.2f} / {p['verify_bundle_offline']['p99_ms']:.1f} ms"],
        ["audit of every record (`ledger verify --all`)", f"{d['verify_all']['seconds']:.1f} s"],
        ["records", f"{d['params']['records']:,}"],
    ])


def _ledger_postgres(d: dict) -> list[str]:
    sq, pg = d["backends"]["sqlite"], d["backends"]["postgresql"]

    def row(label, pick, fmt):
        return [label, fmt.format(pick(sq)), fmt.format(pick(pg))]

    rows = [
        row("batched appends per s (1,000 per transaction)", lambda s: s["batched"]["appends_per_s"], "{:,.0f}"),
        row("batched appends per CPU-second of the writer", lambda s: s["batched"]["appends_per_cpu_s"], "{:,.0f}"),
        row("inclusion proof (p50 / p99 ms)", lambda s: (s["proofs"]["inclusion_proof"]["p50_ms"],
                                                         s["proofs"]["inclusion_proof"]["p99_ms"]), "{0[0]:.2f} / {0[1]:.1f}"),
        row("prove(): proof + checkpoint + record (p50 ms)", lambda s: s["proofs"]["prove_bundle"]["p50_ms"], "{:.2f}"),
        row("signed checkpoint (ms)", lambda s: s["proofs"]["checkpoint_ms"], "{:.1f}"),
        row("database size (MiB)", lambda s: s["batched"]["db_mib"], "{:.0f}"),
    ]
    if "verify_all" in sq:
        rows.append(row("audit of every record (s)", lambda s: s["verify_all"]["seconds"], "{:.1f}"))
    return table(["measure", "SQLite", "PostgreSQL"], rows) + [
        "", f"Records: {sq['batched']['records']:,} on each backend (the same records, batches of "
        f"{d['params']['batch']:,})."]


def _registry_postgres(d: dict) -> list[str]:
    rows = [[r["index"], r["codes"], r["p50_ms"], r["p99_ms"], r["rss_mb"], r.get("load_s", "-"),
             r.get("index_from_store_s", "-"), r.get("refresh_1000_ms", "-"), r.get("refresh_kept_index", "-")]
            for r in d["rows"]]
    return table(["index", "codes", "p50 ms", "p99 ms", "RSS MB", "bulk load s", "index from the store s",
                  "refresh after 1,000 new codes ms", "same index kept"], rows)


def _batch(d: dict) -> list[str]:
    rows = [[r["engine"], r["workers"], r["files"], r["wall_s"], r["files_per_s"]] for r in d["rows"]]
    return table(["engine", "workers", "files", "wall s", "files/s"], rows) + [
        "", f"2 workers / 1 worker: **{d['speedup_2_over_1']:.2f}x** (whole command: start-up and model loading "
        "included)."]


def _learned_swaps(d: dict) -> list[str]:
    groups = d["groups"]
    lines = [f"{d['n_swaps']} learned swaps against {d['n_reals']} development reals of their footage groups; "
             "nothing was fitted on these files. AUC per detector (confidence x logit(score)), per group and pooled:", ""]
    lines += table(["detector", "pooled", *groups, "ran on swaps"],
                   [[r["detector"], r["pooled"], *(r.get(g) for g in groups), pct(r["ran_on_swaps"])] for r in d["auc"]])
    lines += ["", "The shipped face_manipulated finding (video table), flagged at its suspicious (5 %) and manipulated "
              "(1 %) lines:", ""]
    lines += table(["group", "swaps", "reals", "finding AUC", "swaps suspicious+", "reals suspicious+",
                    "swaps manipulated", "reals manipulated"],
                   [[r["group"], r["n_swaps"], r["n_reals"], r["finding_auc"], pct(r["swaps_suspicious_or_worse"]),
                     pct(r["reals_suspicious_or_worse"]), pct(r["swaps_manipulated"]), pct(r["reals_manipulated"])]
                    for r in d["finding"]])  # fmt: skip
    lines += ["", "The maker's watermark after each re-publication (`dflab swap convert` discloses every output):", ""]
    lines += table(["re-publication", "swaps", "watermark read", "disclosed_synthetic flags"],
                   [[r["degradation"], r["n_swaps"], pct(r["watermark_read"]), pct(r["disclosed_synthetic_flagged"])]
                    for r in d["watermark"]])  # fmt: skip
    if d.get("refit"):
        lines += ["", "face_manipulated refitted with the learned swaps added (`dflab train findings` on both manifests), "
                  "against the same fit without them; out-of-fold by footage group, each at its own operating points:", ""]
        lines += table(["table", "combiner", "AUC", "ECE", "learned swaps flagged (5 % / 1 % line)",
                        "graphics fakes flagged", "reals flagged"],
                       [[r["table"], f"{r['combine']} ({r['members']})", r["auc"], r["ece"],
                         f"{pct(r['learned swaps suspicious'])} / {pct(r['learned swaps manipulated'])}",
                         f"{pct(r['graphics fakes suspicious'])} / {pct(r['graphics fakes manipulated'])}",
                         f"{pct(r['reals suspicious'])} / {pct(r['reals manipulated'])}"] for r in d["refit"]])  # fmt: skip
    return lines


def _lip_sync(d: dict) -> list[str]:
    rows = [[r["clip"], r["natural"]["score"], r["dub"]["score"], r["shift500ms"]["score"],
             f"{r['natural']['correlation']:.2f} / {r['dub']['correlation']:.2f}"] for r in d["rows"]]
    return table(["clip", "score natural", "score dubbed", "score audio 500 ms late", "correlation natural / dubbed"],
                 rows)


def _registry(d: dict) -> list[str]:
    return table(["index", "codes", "p50 ms", "p99 ms", "RSS MB", "recall@1"],
                 [[r["index"], r["codes"], r["p50_ms"], r["p99_ms"], r["rss_mb"], num(r.get("recall_at_1"))]
                  for r in d["rows"]])


def _scan_memory(d: dict) -> list[str]:
    runs = sorted(d["runs"], key=lambda r: r["seconds"])
    shortest = runs[0]["peak_rss_mb"] if runs and runs[0].get("peak_rss_mb") else None
    ratios = [r["peak_rss_mb"] / shortest if shortest and r.get("peak_rss_mb") else None for r in runs]
    rows = [[r["clip"], r["exit"], num(r.get("frames_analysed")), f"{r['peak_rss_mb']:,.0f} MB",
             f"{ratio:.2f}" if ratio is not None else "-", f"{r['wall_s']:.0f}"] for r, ratio in zip(runs, ratios)]
    flat = bool(ratios) and all(ratio is not None and ratio <= 1.10 for ratio in ratios)
    return table(["clip", "exit", "analysis frames", "peak RSS", "vs shortest", "wall s"], rows) + [
        "", f"Target: the 60 s clip under {d['target_60s_mb']:,.0f} MB ({'met' if d['meets_60s_target'] else 'not met'});"
        f" every length within 10 % of the shortest ({'met' if flat else 'not met'})."]


def _scan_speed(d: dict) -> list[str]:
    t = d["stage_median_s"]
    slow = sorted(((k, v) for k, v in t.items() if k != "total"), key=lambda kv: -kv[1])[:5]
    return [f"**Whole process: median wall {d['median_wall_s']:.1f} s, median CPU {d['median_cpu_s']:.1f} s** for "
            f"{d['duration_s']:.0f} s of video ({d['clip']}, {d['frames_analysed']} frames analysed, every detector on; "
            f"target: wall <= 5 s; measured at load average {d['load_average_1min']:.1f})."] + [""] + table(
        ["stage (slowest five, wall inside the scan)", "seconds"], [[k, f"{v:.2f}"] for k, v in slow])


def _synthetic_voice_tried(d: dict) -> list[str]:
    headers = ["model", "folds", "clones AUC", "clones EER", "EER half A", "EER half B", "all renderings AUC",
               "EER", "ECE", "LibriSpeech flagged", "LivePortrait flagged", "cloned_voices reals flagged"]
    rows = [[r["model"], r["folds"], num(r["clones_auc"]), pct(r["clones_eer"]), pct(r["half_a_eer"]),
             pct(r["half_b_eer"]), num(r["all_fakes_auc"]), pct(r["all_fakes_eer"]), num(r["ece"]),
             r["libri_flagged"], r["lp_flagged"], r["cloned_reals_flagged"]] for r in d["logistic"] + d["cnn"]]
    cost = d["cost"]["cpu_s_per_10s"]
    return table(headers, rows) + ["", "Scan-time CPU per 10 s of speech, one thread: front end "
                                   f"{cost['front_end']:.3f} s, LFCC statistics {cost['lfcc_statistics']:.3f} s, "
                                   f"maps and CNN {cost['maps_and_cnn']:.3f} s."]


def _speech_detection(d: dict) -> list[str]:
    rows = [[r["held_out_system"], pct(r["eer"]), pct(r.get("eer_vs_ljspeech_real")), num(r.get("n_fake"))]
            for r in d["lotso"]]
    sv = d["speaker_verification"]
    return table(["held-out TTS system", "EER", "EER vs the same voice's real recordings", "fakes"], rows) + [
        "", f"Speaker verification on LibriSpeech: EER {pct(sv['eer'], 2)} ({sv['same_pairs']} same-speaker / "
        f"{sv['different_pairs']} different-speaker pairs), threshold {sv['threshold']:.3f}."]


def _speed_accuracy(d: dict) -> list[str]:
    rows = [[r["group"], r["n"], pct(r["accuracy"]), pct(r["factor_err_median"]), pct(r["within_5pct"])]
            for r in d["leave_one_speaker_out"]]
    agree = d.get("scan_agreement", {})
    tail = [f"", f"The scan's speed cue agrees with the model on {agree['agree']} of {agree['clips']} clips."] \
        if agree else []
    return ["Leave-one-speaker-out:", ""] + table(
        ["group", "n", "judged right", "factor error median", "factor within 5 %"], rows) + tail


def _speed_localisation(d: dict) -> list[str]:
    return table(["recording", "n", "changed, whole recording", "changed, as the scan reads it", "range IoU (median)",
                  "factor error whole / scan"],
                 [[r["group"], r["n"], r["whole clip changed"], r["changed (scan)"], num(r.get("IoU median"), 2),
                   f"{pct(r['factor err whole'])} / {pct(r['factor err (scan)'])}" if "factor err whole" in r else "-"]
                  for r in d["table"]]) + ["", f"The windows run at {d['windows_real_time_factor']}x real time."]


def _swap_quality(d: dict) -> list[str]:
    q, g = d["quality"], d["gpu_training"]
    return table(["measure", "value"], [
        ["reconstruction SSIM, held-out frames", f"{q['recon_ssim_heldout_d6']} ({q['recon_frames']} frames)"],
        ["identity distance to target / to source", f"{q['identity_dist_to_target_A']} / {q['identity_dist_to_source_B']}"],
        ["frames nearer the target", pct(q["identity_nearer_target_fraction"])],
        ["landmark error (inter-ocular units)", q["landmark_error_iod"]],
        ["flicker, output / input", q["flicker_ratio"]],
        ["model", f"{q['model_size']} px, {q['model_iteration']:,} iterations ({g['swap']['seconds']:.0f} s on "
                  f"{g['device']})"],
    ]) + [""] + table(["preset", "size", "iterations per s", "device"],
                      [[r["preset"], r["size"], r["it_per_s"], r["device"]] for r in d["speed"]])


def _synthetic_image(d: dict) -> list[str]:
    lomo = d["leave_one_generator_out"]
    cnn = d["cnndetection"]["per_method"]
    mesonet = d["cnndetection"]["baselines"].get("mesonet", {})
    rows = [[g, lomo[g]["auc"], lomo[g]["auc_jpeg"], cnn.get(g, {}).get("auc")] for g in lomo if g != "mean"]
    rows.append(["mean", lomo["mean"]["auc"], lomo["mean"]["auc_jpeg"], d["cnndetection"]["auc"]])
    out = table(["generator", "AUC, generator unseen", "same, JPEG", "AUC, shipped model (in sample)"], rows)
    if mesonet:
        out += ["", f"MesoNet (Meso4_DF) on the same 320 files: AUC {mesonet['auc']:.3f}."]
    if "ffpp" in d:
        f = d["ffpp"]
        out += [f"On the 7 FaceForensics++ clips (detector alone): AUC {f['auc']:.3f}"
                + (f", MesoNet {f['baselines']['mesonet']['auc']:.3f}." if "mesonet" in f.get("baselines", {}) else ".")]
    return out


def _synthetic_image_logo(d: dict) -> list[str]:
    generators = d["generators"]
    rows = [[name] + [row[g] for g in generators] + [row["mean"], row["faces_mean"]]
            for name, row in d["logo_auc"].items()]
    out = table(["variant (held-out AUC)"] + generators + ["mean", "faces (StyleGAN2, SD 2.1)"], rows)
    found = {g: r["separating_as_stored"] + r["separating_after_normalisation"] for g, r in d["confounds"].items()}
    out += ["", "Trivial properties that separate a generator's fakes from its reals (AUC >= 0.75): "
            + "; ".join(f"{g}: {', '.join(v)}" for g, v in found.items() if v) + "."]
    return out


def _synthetic_image_finding(d: dict) -> list[str]:
    held = d["held_out"]
    out = table(["candidate", "AUC", "EER", "ECE"], [[name, c["auc"], c["eer"], c["ece"]]
                                                      for name, c in held["candidates"].items()])
    out += ["", f"Chosen: {held['chosen']} (best member: {held['best_member']}); operating points "
            + ", ".join(f"{k} {v:.3f}" for k, v in d["operating_points"].items()) + ".", ""]
    rows = [[g, r[f"{held['chosen']}_auc"], pct(r["fakes_flagged_suspicious"]), pct(r["reals_flagged_suspicious"]),
             r["n_fake"], r["n_real"]] for g, r in d["per_generator"].items()]
    out += table(["held-out generator", "AUC (chosen)", "fakes flagged (5 % line)", "reals flagged", "fakes",
                  "reals"], rows)
    out += ["", "Real pictures flagged at the suspicious line, per source: "
            + ", ".join(f"{s} {pct(r['flagged_suspicious'])}" for s, r in d["per_real_source"].items()) + "."]
    return out


def _video_speed_accuracy(d: dict) -> list[str]:
    rows = [[r["method"], r["factor"], r.get("detected", r.get("flagged", "-")), num(r.get("error median %"), 2),
             num(r.get("within 5 %"), 1)] for r in d["held_out"]]
    right = sum(1 for r in d.get("scan", []) if r.get("right"))
    tail = [f"", f"`dflab scan` factor within 5 %: {right} of {len(d['scan'])} clips."] if d.get("scan") else []
    return ["Thresholds held out by source group:", ""] + table(
        ["re-timing", "factor", "detected (natural: flagged)", "factor error median %", "within 5 % (all clips) %"],
        rows) + tail


def _speed_video_audio(d: dict) -> list[str]:
    retimed = [[r["factor"], r["n"], r["changed"], r["right side"], r["confident within 5 %"], r["confident wrong"],
                r.get("manipulated within 5 %", "-"), r.get("manipulated wrong", "-")] for r in d["retimed"]]
    natural = [[r["method"], r["n"], r["flagged"], r.get("suspicious+", "-"), r["confident far from 1"],
                num(r["highest confidence"], 2)] for r in d["natural"]]
    return (["Re-timed copies (frames repeated/dropped at an unchanged rate, sound by atempo):", ""]
            + table(["factor", "clips", "changed", "right side of 1", "confident, within 5 %", "confident, wrong",
                     "manipulated, within 5 %", "manipulated, wrong"], retimed)
            + ["", "Natural clips:", ""]
            + table(["variant", "clips", "read as changed", "speed finding suspicious or manipulated",
                     "confident, > 5 % from 1", "highest confidence"], natural))


def _fuzz(d: dict) -> list[str]:
    keys = ["runs", "exit 0", "exit 1", "exit 2", "tracebacks", "hangs", "other exits", "multi-line"]
    rows = [[r["command"]] + [r.get(k, 0) for k in keys] for r in d["per_command"]]
    rows.append(["all"] + [d["total"].get(k, 0) for k in keys])
    return table(["command", "runs", "exit 0", "exit 1 (verify: problems found)", "exit 2", "tracebacks", "hangs",
                  "other exits", "multi-line errors"], rows) + [
        "", f"{d['mutants']} mutants (seed {d['seed']}), every command {_FUZZ_RUNNER[d.get('runner', 'subprocess')]} "
        f"with a {d['timeout_s']:.0f} s timeout; a hang is a run killed at the timeout. Mutants on which the commands "
        f"that read their kind of file disagree (some accept, some refuse): {d.get('disagreements', '-')}."] + [
        f"Failure: {f['command']} on mutant {f['mutant']} ({f['detail']}): {f['outcome']} (docs/validation.md says "
        "what was fixed)." for f in d.get("failures", [])] + _fuzz_door(d)


_FUZZ_RUNNER = {"subprocess": "a subprocess", "fork": "a child forked from a warm parent (`--runner fork`)",
                "in-process": "called in the campaign's process"}


def _fuzz_door(d: dict) -> list[str]:
    door = d.get("front_door")
    if not door:
        return []
    rows = [[r["reader"], r["runs"], r["accepted"], r["refused"], r["crashes"], r["hangs"]] for r in door["per_reader"]]
    return ["", f"Front door: {door['mutants']} mutants (seed {door['seed']}) through the open-and-check step and "
            "the readers every command reads through, in-process:", ""] + table(
        ["reader", "runs", "accepted", "refused (one clear error)", "crashes", "hangs"], rows)


def _watermark_robustness(r: dict) -> list[str]:
    classes = list(r["by_size"].items())
    headers = ["attack", f"all ({r['photos']})"] + [f"{name} ({c['photos']})" for name, c in classes]
    rows = [[attack, pct(rate)] + [pct(c["detection_rate"].get(attack)) for _, c in classes]
            for attack, rate in r["detection_rate"].items()]
    out = [f"Detection rate (exact payload) on {r['photos']} photos of every size, PSNR mean {r['psnr_db_mean']} dB "
           f"(min {r['psnr_db_min']} dB); columns by the photo's short side (photos in brackets)."] + [""] + table(
        headers, rows)
    if "informed_present_rate" not in r:
        return out
    rows = [[attack, f"{pct(rate)} / {pct(r['informed_identified_rate'][attack])}"]
            + [f"{pct(c['informed_present_rate'].get(attack))} / {pct(c['informed_identified_rate'].get(attack))}"
               for _, c in classes] for attack, rate in r["informed_present_rate"].items()]  # fmt: skip
    wrong = sum(r["informed_wrong_record_named"].values())
    return out + ["", f"Blind decoding, then (where it fails) informed detection against {r['informed_candidates']} "
                  "allocated payloads (a dense ledger: the photo's record and its neighbours): mark present (a payload "
                  "this ledger allocated correlates above the threshold) / record identified (the right one, told "
                  f"apart from its neighbours). A wrong record named: {wrong} times.", ""] + table(headers, rows)


def _watermark(d: dict) -> list[str]:
    out: list[str] = []
    if "robustness" in d:
        out += _watermark_robustness(d["robustness"]) + [""]
    if "unmarked_decode_ms_1080p" in d:
        out += [f"Decode time on an unmarked 1080p picture (every view searched, the slowest case): "
                f"{d['unmarked_decode_ms_1080p']:.0f} ms.", ""]
    if "methods" not in d:
        return out
    attacks = ["none", "jpeg50", "downscale50", "crop80", "combined"]
    rows = [[name, m["payload_bits"], m["psnr_db_mean"]]
            + [f"{m['bit_accuracy'][a]:.3f} / {m['detection_rate'][a]:.2f}" for a in attacks]
            + [f"{m['embed_ms_1080p']:.0f} / {m['decode_ms_1080p']:.0f}"] for name, m in d["methods"].items()]
    fp = d["false_positives"]
    return out + ["Against the invisible-watermark package:", ""] + table(
        ["method", "bits", "PSNR dB"] + [f"{a}: bits / detected" for a in attacks]
        + ["embed / decode ms, 1080p"], rows) + [
        "", f"False detections on {fp['images']} unmarked real pictures: {fp['false_detections']}"
        + (f"; informed against {fp['informed_candidates']} allocated payloads: {fp['informed_false_matches']} false "
           f"matches (the highest z stays {-fp['informed_null_z_minus_threshold_max']:.2f} below its threshold)"
           + (f", {fp['informed_records_named']} records named." if "informed_records_named" in fp else ".")
           if "informed_false_matches" in fp else ".")]


def _watermark_small(d: dict) -> list[str]:
    rows = [[r["attack"], r["photos"], pct(r["detected"]), r["detector_sync_z_median"],
             r["detector_raw_payload_bit_errors_median"], r["oracle_tile_z_median"], r["oracle_tile_z_min"],
             r["oracle_mark_only_tile_z_median"], r["oracle_coded_bit_error_rate_median"], pct(r["oracle_decodes"])]
            for r in d["summary"]]  # fmt: skip
    return ["What the combined attacks leave of the mark on photos under 400 px: the detector's view, then the "
            "tile at its true alignment (an upper bound for any search; 'mark only' removes the host picture).",
            ""] + table(["attack", "photos", "detected", "sync z (median)", "raw payload bit errors of 64 (median)",
                         "tile z at true alignment (median)", "(min)", "mark only (median)",
                         "coded bit error rate there (median)", "payload decodes there"], rows)  # fmt: skip


def _watermark_small_variants(d: dict) -> list[str]:
    rows = d["summary"]
    attacks = [k[: -len(" z median")] for k in rows[0] if k.endswith(" z median")]
    detect = f"{attacks[0]} blind" in rows[0]  # --detect: also what the detector found, blind and informed

    def cell(r: dict, a: str) -> str:
        z = f"{r[f'{a} z median']} / {pct(r[f'{a} z>=7.6'])}"
        return z + (f" / {pct(r[f'{a} blind'])} / {pct(r[f'{a} identified'])}" if detect else "")

    table_rows = [[r["variant"], ", ".join(str(v) for v in d["variants"][r["variant"]]), r["psnr_min"]]
                  + [cell(r, a) for a in attacks] for r in rows]  # fmt: skip
    return ["Where the embedding puts its 40 dB budget, and how much of the tile survives: the whole known tile's z "
            "at its true alignment after each attack (median / share of photos at z >= 7.6, the informed threshold "
            "for 1,000 candidates). Variant: source pixels per chip, working-grid floor, texture gamma, low-pass "
            "sigma in chips; v1 is the shipped embedding.", ""] + table(
        ["variant", "chip px, floor, gamma, blur, PSNR reached", "PSNR min dB"]
        + [f"{a}: z median / z >= 7.6" + (" / blind / identified" if detect else "") for a in attacks],
        table_rows) + (["", "Blind: decoded by the unchanged detector; identified: blind, or named by informed "
                        "detection among 1,000 allocated format-2 payloads (records 1-1001, marked with record 500)."]
                       if detect else [])


def _watermark_informed(d: dict) -> list[str]:
    rows = [[r["attack"], r["photos"], pct(r["blind"]), pct(r["blind_or_present"]), pct(r["blind_or_identified"]),
             r["wrong_record_named"], r["true_z_median"], r["true_z_min"], r["best_wrong_z_median"],
             r["best_wrong_z_max"], r["threshold_median"]] for r in d["summary"]]  # fmt: skip
    t = d.get("scoring_cpu_ms") or {}
    fmt = d.get("payload_format", 1)
    how = ("record ids permuted, payload format 2" if fmt == 2 else "record ids as they are, payload format 1")
    return [f"Photos under 400 px marked with ledger record {d['true_record']} ({how}), tested against it and "
            f"{d['wrong_candidates']} other allocated payloads (records 1..{d['wrong_candidates'] + 1}) where blind "
            "decoding fails.", ""] + table(
        ["attack", "photos", "blind", "blind or present", "blind or identified", "wrong record named",
         "true payload z (median)", "(min)", "best wrong z (median)", "(max)", "threshold (median)"], rows) + (
        ["", f"Scoring one picture's {t['folds']} folds: {t['10']:.0f} / {t['1000']:.0f} / {t['10000']:.0f} ms CPU "
         "for 10 / 1,000 / 10,000 candidates (on top of the blind search that made the folds)"
         + (f"; reading them from a ledger of 10,000 disclosed records: "
            f"{' / '.join(f'{v:.0f}' for v in t['ledger_read'].values())} ms." if "ledger_read" in t else ".")]
        if t else [])


def _serve_load(d: dict) -> list[str]:
    s = d["summary"]
    big = s["big_upload"]
    return table(["scans", "clients", "workers", "succeeded", "equal to the CLI", "time to result p50 / p99 s",
                  "scans/s", "requests/s", "status poll p50 / p99 ms"],
                 [[s["scans"], s["clients"], s["workers"], s["succeeded"], s["equal_to_cli"],
                   f"{s['time_to_result_p50_s']:.1f} / {s['time_to_result_p99_s']:.1f}", s["scans_per_s"],
                   s["requests_per_s"], f"{s['poll_p50_ms']:.0f} / {s['poll_p99_ms']:.0f}"]]) + _serve_idle(s) + [
        "", "A 1 GB upload: " + "; ".join(
            f"{'declared size' if u['declared_size'] else 'streamed without a size'}: {u['status']} when the client "
            f"had sent {u['body_bytes_sent'] // (1024 * 1024)} MiB" for u in big["uploads"])
        + f". Server memory {big['rss_before_mib']:.0f} MiB before, {big['rss_peak_mib']:.0f} MiB at most meanwhile."]


def _serve_idle(s: dict) -> list[str]:
    """The idle-poll baseline measured right after the load (results that have one)."""
    if s.get("idle_poll_p99_ms") is None:
        return []
    return ["", f"Scans ran in {'a worker process' if s.get('scan_in') == 'process' else 'threads of the server'}. "
            f"Right after the load, with the workers idle, the same clients' polls took {s['idle_poll_p50_ms']:.0f} / "
            f"{s['idle_poll_p99_ms']:.0f} ms (p50 / p99): the poll p99 under load is {s['poll_p99_ratio_to_idle']:.2f}x "
            f"the idle one (load average {s['load_average_1min_after_load']:.1f} after the load)."]


def _serve_poll_causes(d: dict) -> list[str]:
    return table(["condition", "polls", "poll p50 / p90 / p99 ms", "scans finished", "server CPU s", "load average"],
                 [[r["condition"], r["polls"], f"{r['poll_p50_ms']:.0f} / {r['poll_p90_ms']:.0f} / {r['poll_p99_ms']:.0f}",
                   "-" if r["scans_finished"] is None else r["scans_finished"], r["server_cpu_s"],
                   f"{r['load_average_1min']:.1f}"] for r in d["conditions"]])  # fmt: skip


def _trace_robustness(d: dict) -> list[str]:
    u = d["unrelated"]
    return table(["edit", "copies", "recall", "found through"],
                 [[r["attack"], r["queries"], pct(r["recall"]), r["found_through"]] for r in d["rows"]]) + [
        "", f"False matches on {u['queries']} unrelated, unregistered photos: {u['false_matches']}. Trace time, "
        f"median: {d['trace_ms_p50_found']} ms when the copy is found, {d['trace_ms_p50_unrelated']} ms for an "
        f"unrelated picture (every view searched)."]


SPECS: dict[str, Spec] = {
    "api_scanner": Spec("LivePortrait d0 (3 s), scanned repeatedly", _api_scanner),
    "aasist_cost": Spec("10 s LibriSpeech clips", _aasist_cost),
    "audio_speed": Spec("10 s LibriSpeech clips", _audio_speed),
    "audio_trace": Spec("the speed test set built from LibriSpeech, LJSpeech and LivePortrait speech", _audio_trace),
    "compare_audio": Spec("the speed test set (888 altered clips against their natural clip)", _compare_audio),
    "cuts": Spec("cuts inserted into the LivePortrait, FaceForensics++ and face_recognition clips", _cuts),
    "decode_speed": Spec("a synthetic 720p clip and a FaceForensics++ 720p original", _decode_speed),
    "detector_speed": Spec("aligned face crops from a 720p clip", _detector_speed),
    "eval_manifest": Spec("`manifests/cnndetection_images.csv` (320 pictures, 8 generators)", _eval_manifest),
    "face_crop_eval": Spec("the 7 FaceForensics++ c23 clips (never trained on) and held-out LivePortrait d0, d19",
                           _face_crop_eval),
    "face_crop_eval_before": Spec(
        "the 7 FaceForensics++ clips; each method's fake left out of the fit",
        _face_crop_eval_before,
        what="The previous face-crop model (trained with FaceForensics++ fakes), leave-one-method-out: the "
             "baseline the current model is compared with"),
    "face_crop_heldout": Spec("FaceForensics++ (7 files), the 12 LivePortrait driving clips, CIPLAB splices and "
                              "reals, the held-out fifth of the faces/ reals", _face_crop_heldout),
    "face_crop_heldout_lr1e4": Spec(
        "FaceForensics++ (7 files), the 12 LivePortrait driving clips, CIPLAB splices and reals, the held-out fifth "
        "of the faces/ reals", _face_crop_heldout,
        what="`bench/face_crop_heldout.py --results face_crop_heldout_lr1e4`: the shipped face-crop weights against "
             "a 2,500-step warm start on faces/ at learning rate 1e-4 (not shipped; docs/models/face_crop.md)"),
    "face_crop_heldout_mix": Spec(
        "FaceForensics++ (7 files), the 12 LivePortrait driving clips, CIPLAB splices and reals, the held-out fifth "
        "of the faces/ reals", _face_crop_heldout,
        what="`bench/face_crop_heldout.py --results face_crop_heldout_mix`: the shipped face-crop weights against "
             "a warm start on faces/ plus the shipped model's own data, half the pairs each (`--preset mix`; "
             "docs/models/face_crop.md)"),
    "face_speed": Spec("FaceForensics++ original 004 (720p) and the face_recognition multi-face clip", _face_speed),
    "findings": Spec("the development sets each finding was fitted on (held out by group), and the manifests of "
                     "../shared/data that no finding was fitted on", _findings),
    "fuzz": Spec("7 small real files from ../shared/data (JPEG, PNG, WebP, MP4 with sound, Matroska, WAV, MP3) "
                 "with bit flips, cuts, insertions, deletions and header-field edits", _fuzz),
    "batch": Spec("pictures from face_recognition and cnndetection (links to ../shared/data)", _batch),
    "ledger": Spec("10^6 synthetic records in a temporary SQLite ledger", _ledger),
    "ledger_postgres": Spec("synthetic records in a temporary SQLite file and a fresh PostgreSQL 15 schema (local "
                            "server, same machine)", _ledger_postgres,
                            "Ledger on SQLite and PostgreSQL side by side (`bench/ledger.py --postgres auto`): batched "
                            "appends, proofs and the audit at the same size"),
    "learned_swaps": Spec("autoencoder face swaps of the development clips (`python -m dflab.train.devset_learned`) and "
                          "the development reals of their groups", _learned_swaps),
    "lip_sync": Spec("7 LivePortrait and face_recognition talking clips, first 10 s", _lip_sync),
    "registry": Spec("10^6 random 256-bit codes plus the PDQ hashes of the 320 cnndetection pictures; edited copies "
                     "as queries", _registry),
    "registry_postgres": Spec("random 256-bit codes plus the PDQ hashes of 40 cnndetection pictures, in a fresh "
                              "PostgreSQL 15 schema (local server, same machine)", _registry_postgres,
                              "Registry with its hashes in PostgreSQL (`bench/registry.py --backend postgresql`): "
                              "single-query latency, memory, bulk load, the index built from the database and its "
                              "incremental refresh"),
    "scan_memory": Spec("LivePortrait's d6.mp4 with its sound, scaled and padded to 1920x1080, looped", _scan_memory),
    "scan_speed": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s", _scan_speed),
    "scan_speed_framerates_before": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                         _scan_speed, "`bench/scan_speed.py --label framerates_before`: the scan "
                                         "before full-size frames only where read (docs/performance.md), run back to "
                                         "back with scan_speed_framerates_after on the same machine"),
    "scan_speed_framerates_after": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                        _scan_speed, "`bench/scan_speed.py --label framerates_after`: the scan with "
                                        "full-size frames only where read (docs/performance.md)"),
    "scan_speed_onepass_before": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                      _scan_speed, "`bench/scan_speed.py --label onepass_before`: the scan before "
                                      "the cues' frames were kept during the face stage (docs/performance.md), run "
                                      "back to back with scan_speed_onepass_after on the same machine"),
    "scan_speed_onepass_after": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                     _scan_speed, "`bench/scan_speed.py --label onepass_after`: the scan with the "
                                     "cues' frames kept during the face stage (docs/performance.md)"),
    "scan_speed_imports_before": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                      _scan_speed, "`bench/scan_speed.py --label imports_before`: the scan before "
                                      "the deferred imports, rarer garbage collection, no decode for a frame's size "
                                      "and torch's thread count set before loading (docs/performance.md), run back "
                                      "to back with scan_speed_imports_after"),
    "scan_speed_imports_after": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                     _scan_speed, "`bench/scan_speed.py --label imports_after`: the scan with the "
                                     "deferred imports, rarer garbage collection, no decode for a frame's size and "
                                     "torch's thread count set before loading (docs/performance.md)"),
    "scan_speed_process_before": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                      _scan_speed, "`bench/scan_speed.py --label process_before`: the scan before "
                                      "the identity embeddings and the face-crop network ran in child processes "
                                      "(docs/performance.md), run back to back with scan_speed_process_after"),
    "scan_speed_process_after": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                     _scan_speed, "`bench/scan_speed.py --label process_after`: the scan with the "
                                     "identity embeddings and the face-crop network in child processes started "
                                     "with it (docs/performance.md)"),
    "scan_speed_one_busy_core": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                     _scan_speed, "`bench/scan_speed.py --runs 5 --label one_busy_core`: the same "
                                     "scan while another process keeps one of the two cores busy (a Python busy "
                                     "loop), run between two idle runs of scan_speed.json (docs/performance.md)"),
    "scan_speed_single_process": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                      _scan_speed, "`bench/scan_speed.py --runs 5` on the code before both steps "
                                      "of child processes (one process, key frames decoded again), run just before "
                                      "scan_speed.json on the same machine"),
    "scan_speed_keyframes_before": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                        _scan_speed, "`bench/scan_speed.py --label keyframes_before`: the scan before "
                                        "the command started its model children first and the key frames came from "
                                        "copies kept during the first pass (docs/performance.md), run back to back "
                                        "with scan_speed_keyframes_after"),
    "scan_speed_keyframes_after": Spec("LivePortrait's s18.mp4 (1280x720, 30 fps, speech) looped to 10 s",
                                       _scan_speed, "`bench/scan_speed.py --label keyframes_after`: the scan with the "
                                       "model children started before the command's imports and no second decode "
                                       "for the key frames (docs/performance.md)"),
    "serve_load": Spec("50 different pictures of ../shared/data/faces, uploaded at once by 10 clients to `dflab serve` "
                       "(2 scan threads in its scan process)", _serve_load),
    "serve_load_threads": Spec("serve_load's 50 pictures and 10 clients, with `dflab serve --scan-in threads` (the "
                               "scans on 2 threads of the server)", _serve_load,
                               "`bench/serve_load.py --scan-in threads`: the former layout under the same load, to "
                               "compare with serve_load"),
    "serve_poll_causes": Spec("30 different pictures of ../shared/data/faces; 10 clients polling every 0.25 s",
                              _serve_poll_causes),
    "speech_detection": Spec("ljspeech_tts (7 TTS systems) against LJSpeech and LibriSpeech real speech",
                             _speech_detection),
    "speed_accuracy": Spec("the speed test set: 12 sources, 10 s clips, 0.5-2x", _speed_accuracy),
    "speed_long_clips": Spec("8 sources (LivePortrait, FaceForensics++ originals) looped to 24 s or more, re-timed "
                             "0.75x / 1.25x / 1.5x by ffmpeg setpts + fps with atempo, and silent copies",
                             _speed_long_clips),
    "speed_localisation": Spec("30 s recordings of 10 speakers with the middle 10 s re-timed", _speed_localisation),
    "swap_quality": Spec("LivePortrait d6 (target) and d9 (source)", _swap_quality),
    "synthetic_image": Spec("cnndetection crops (8 generators) and the FaceForensics++ clips", _synthetic_image),
    "synthetic_image_logo": Spec("faces/ (StyleGAN2, Stable Diffusion 2.1, their matched camera photos, UTKFace) and "
                                 "cnndetection (8 generators), every picture normalised alike", _synthetic_image_logo,
                                 "Generated-picture detectors left one generator out (10 generators): per held-out "
                                 "generator the AUC of its fakes against its matched reals, for each feature variant "
                                 "(`python -m dflab.train.synthetic_image_logo`)"),
    "synthetic_image_probe_finding_trial": Spec(
        "faces/ and cnndetection (the generated-picture development set), out of fold by generator",
        _synthetic_image_finding,
        "Trial, not shipped: the synthetic_image finding refitted with the frozen-feature probe (image_early, "
        "C = 0.001) beside its members, held out by generator"),
    "synthetic_image_logo_native_crop": Spec(
        "as synthetic_image_logo without UTKFace, each picture's centre 224 px at its own pixels (no resize), one "
        "JPEG re-compression", _synthetic_image_logo,
        "The leave-one-generator-out table on native-resolution crops: do the generators' up-sampling traces, "
        "kept unresampled, generalise?"),
    "synthetic_image_logo_without_utkface": Spec(
        "as synthetic_image_logo, with the UTKFace reals (200 px, the only source up-sampled by the normalisation) "
        "never fitted on", _synthetic_image_logo,
        "The leave-one-generator-out table without fitting on UTKFace: does the up-sampling of 200 px reals explain "
        "the failure?"),
    "synthetic_voice_tried": Spec(
        "cloned_voices, ljspeech_tts, LibriSpeech and LivePortrait speech through the scan's front end, 4 s windows",
        _synthetic_voice_tried),
    "speed_video_audio": Spec("the 10 LivePortrait driving clips with sound (<= 10 s, own size) re-timed 0.75-1.5x "
                              "and as natural copies (re-encoded, resized, 25/30, 24 and 60 fps), and the 12 driving "
                              "clips as published", _speed_video_audio),
    "speed_video_audio_before": Spec("the same clips, with the speed cue before round-fraction steps, the side-of-1 "
                                     "rule and the speech-likeness gate", _speed_video_audio,
                                     "The speed cue with its sound on the same clips before this change: the "
                                     "baseline the current figures are compared with"),
    "video_speed_accuracy": Spec("the video speed test set: LivePortrait and FaceForensics++ clips re-timed 0.5-2x",
                                 _video_speed_accuracy),
    "trace_robustness": Spec("40 registered photos (cnndetection, dlib_faces, face_recognition), edited copies, and "
                             "80 unregistered photos from faces/", _trace_robustness),
    "watermark": Spec("118 photos of every size (faces/, face_recognition/, dlib_faces/, the invisible-watermark "
                      "covers, cnndetection); 6 of them for the baselines; every 10th unmarked real picture of the "
                      "data folder; informed detection against 1,000 allocated payloads", _watermark),
    "watermark_informed": Spec("the 75 photos under 400 px of the watermark benchmark's photo set",
                               _watermark_informed),
    "watermark_small_variants": Spec("the 75 photos under 400 px of the watermark benchmark's photo set",
                                     _watermark_small_variants),
    "watermark_small_variants_detect": Spec(
        "the 75 photos under 400 px of the watermark benchmark's photo set; the small-picture weighting before (v1) "
        "and after (gamma0.2)", _watermark_small_variants,
        what="Embedding variants for small photos, with what the detector finds (`bench/watermark_small_variants.py "
             "--variants v1,gamma0.2 --attacks combined64,combined,jpeg75+rotate-3,jpeg75+flip --detect "
             "--out watermark_small_variants_detect`)"),
    "watermark_small": Spec("the 75 photos under 400 px of the watermark benchmark's photo set (face crops of "
                            "131-300 px from faces/, cnndetection 240 px crops, dlib_faces and face_recognition "
                            "examples up to 394 px)", _watermark_small),
}


def what_it_measures(name: str) -> str:
    """The first sentence of bench/<name>.py's docstring."""
    script = ROOT / "bench" / f"{name}.py"
    if not script.is_file():
        return ""
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    sentence = re.split(r"(?<=\.)\s+(?=[A-Z])", paragraph)[0] if paragraph else ""
    return clean(sentence.rstrip("."))


def _generic(doc: dict) -> list[str]:
    """Top-level figures of a results file nobody wrote a renderer for yet."""
    rows: list[list[object]] = []
    for key, value in doc.items():
        if isinstance(value, (int, float, str, bool)) and key not in ("when", "python", "machine", "platform"):
            rows.append([key.replace("_", " "), value])
        elif isinstance(value, dict):
            rows += [[f"{key} / {k}".replace("_", " "), v] for k, v in value.items()
                     if isinstance(v, (int, float, bool)) and k not in ("cpus",)]
    return table(["figure", "value"], rows[:25]) if rows else ["(no top-level figures)"]


def section(name: str, doc: dict) -> list[str]:
    spec = SPECS.get(name)
    what = (spec.what if spec and spec.what else "") or what_it_measures(name) or name.replace("_", " ")
    script = ROOT / "bench" / f"{name}.py"
    lines = [f"## {name}", "", f"{what}."]
    if spec:
        lines.append(f"Data: {spec.data}.")
    source = f"`bench/{name}.py` -> " if script.is_file() else ""
    lines.append(f"Source: {source}`bench/results/{name}.json`.")
    machine = machine_line(doc)
    if machine:
        lines.append(machine)
    lines.append("")
    try:
        lines += spec.render(doc) if spec else _generic(doc)
    except (KeyError, TypeError, IndexError, ValueError) as error:
        # A renderer that no longer fits its file must not stop the page: fall back, and say so.
        lines += [f"(the figures' layout changed: {type(error).__name__} {error}; top-level figures below)", ""]
        lines += _generic(doc)
    return lines + [""]


def render(results: Path = RESULTS) -> str:
    files = sorted(results.glob("*.json"))
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python scripts/bench_tables.py` from bench/results/*.json: do not edit by hand. -->",
        "",
        "Every script in `bench/` prints a table and writes `bench/results/<name>.json`; `make bench` runs them "
        "all. This page shows the headline figures of the committed results. Unless a section says otherwise they "
        "were measured on a 2-core x86_64 CPU machine shared with other work, so wall-clock figures vary by about "
        "2x with load (the load average is given where the file records it). What each model was trained on, and "
        "which figures are held out, is in [models/](models/); how each method works is in "
        "[methods.md](methods.md).",
        "",
    ]
    lines += [f"- [{f.stem}](#{f.stem.replace('_', '_')})" for f in files] + [""]
    for f in files:
        lines += section(f.stem, json.loads(f.read_text(encoding="utf-8")))
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with docs/benchmarks.md, write nothing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date: run python scripts/bench_tables.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text):,} characters, {text.count('## ')} benchmarks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
