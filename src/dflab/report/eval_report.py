"""The HTML report of `dflab eval --report DIR`: eval.html (self-contained, figures inline) and eval.json."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from dflab.errors import UsageError
from dflab.atomic import write_text_atomic
from dflab.eval.runner import COMPARISON_NOTES, EvalResult, method_subsets
from dflab.eval.summary import fmt, header, table_rows

REPORT_FILES = ("eval.html", "eval.json")

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.figs img{max-width:100%;margin:0.5em}
.note{color:#555;font-size:13px}
.err{color:#a00}
"""


def prepare_report_dir(out_dir: str | Path, overwrite: bool = False) -> Path:
    """Check (before any long work) that the report can be written: the folder is created if its parent
    exists, and existing eval.html / eval.json are refused unless `overwrite`."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"report path {out} exists and is not a directory")
    if not out.exists():
        if not out.parent.is_dir():
            raise UsageError(f"cannot create report directory {out}: {out.parent} does not exist")
        out.mkdir()
    if not overwrite:
        taken = [name for name in REPORT_FILES if (out / name).exists()]
        if taken:
            raise UsageError(f"{out} already holds {', '.join(taken)} (choose another folder or pass --overwrite)")
    return out


def _roc_series(result: EvalResult) -> list[tuple[str, np.ndarray, np.ndarray]]:
    labels, scores, methods = result.scored()
    series = [("overall", labels, scores)]
    if result.ours.per_method:
        for method, (kind, mask) in method_subsets(labels, methods).items():
            suffix = {"within": "", "vs_all_real": " vs all real", "vs_all_fake": " vs all fake"}[kind]
            series.append((f"{method}{suffix}", labels[mask], scores[mask]))
    for name in result.baselines:
        b_labels, b_scores, _ = result.scored(name)
        series.append((f"baseline {name}", b_labels, b_scores))
    return series


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def render_eval_html(result: EvalResult) -> str:
    from dflab.report.eval_plots import reliability_plot, roc_plot, score_histogram

    labels, scores, _ = result.scored()
    figures = [
        ("ROC curve, overall and per method", roc_plot(_roc_series(result))),
        ("Reliability diagram", reliability_plot(labels, scores)),
        ("Score histogram per class", score_histogram(labels, scores, result.threshold)),
    ]
    figs_html = "".join(
        f'<img alt="{html.escape(title)}" title="{html.escape(title)}" src="{uri}">' for title, uri in figures
    )
    notes = "".join(f"<li><b>{k}</b>: {html.escape(v)}</li>" for k, v in COMPARISON_NOTES.items())
    errors = result.errors
    err_html = (
        "<h2>Rows that could not be scored</h2>"
        + _table(["line", "path", "error"], [[str(r.row.line), r.row.path, r.error or ""] for r in errors])
        if errors
        else ""
    )
    row_table = _table(
        ["path", "label", "method", "score", "verdict", "error"],
        [
            [r.row.path, r.row.label_name, r.row.method or "", fmt(r.score), r.verdict or "", r.error or ""]
            for r in result.rows
        ],
    )
    o = result.ours.overall
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dflab eval: {html.escape(result.manifest.name)}</title>
<style>{_CSS}</style></head><body>
<h1>Evaluation of {html.escape(str(result.manifest))}</h1>
<p>{len(result.rows)} rows, {o.n} scored ({o.n_real} real, {o.n_fake} fake),
<span class="{'err' if errors else ''}">{len(errors)} errors</span>.
Accuracy counts a row as fake when its score is at least {result.threshold:g}.
AUC intervals are 95% stratified bootstrap intervals.</p>
{_table(header(result), table_rows(result))}
<p class="note">Per-method figures compare:</p><ul class="note">{notes}</ul>
<div class="figs">{figs_html}</div>
{err_html}
<details><summary>All {len(result.rows)} rows</summary>{row_table}</details>
</body></html>
"""


def write_eval_report(result: EvalResult, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write eval.html and eval.json into `out_dir`; returns the HTML path. Each file is written atomically."""
    out = prepare_report_dir(out_dir, overwrite)
    page = render_eval_html(result)
    write_text_atomic(out / "eval.json", json.dumps(result.to_json(), indent=1, allow_nan=False) + "\n")
    write_text_atomic(out / "eval.html", page)
    return out / "eval.html"
