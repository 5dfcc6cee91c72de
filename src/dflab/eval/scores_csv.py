"""`--save-scores FILE.csv`: one line per manifest row with its score, itself a valid manifest.

Paths are rewritten relative to the new CSV's folder, so the file can be fed back to `dflab eval` or loaded
into a spreadsheet; the manifest's other columns follow the score columns.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from dflab.atomic import write_text_atomic
from dflab.eval.runner import EvalResult


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def scores_csv_text(result: EvalResult, out_path: Path) -> str:
    base = Path(out_path).resolve().parent
    has_method = any(r.row.method is not None for r in result.rows)
    head = ["path", "label"] + (["method"] if has_method else []) + ["score", "verdict", "error"]
    head += [f"score_{name}" for name in result.baselines]
    taken = {h.lower() for h in head}  # a re-evaluated scores file must not repeat its old score columns
    extra = [k for k in dict.fromkeys(k for r in result.rows for k in r.row.extra) if k.lower() not in taken]
    head += extra
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    for r in result.rows:
        line = [os.path.relpath(r.row.file, base), r.row.label_name]
        line += [r.row.method or ""] if has_method else []
        line += [_cell(r.score), r.verdict or "", r.error or ""]
        line += [_cell(r.baseline_scores.get(name)) for name in result.baselines]
        line += [r.row.extra.get(k, "") for k in extra]
        writer.writerow(line)
    return buf.getvalue()


def save_scores(result: EvalResult, out_path: str | Path) -> Path:
    out = Path(out_path)
    write_text_atomic(out, scores_csv_text(result, out))
    return out
