"""The evaluation as a table of formatted cells, shared by the terminal output and the HTML report."""

from __future__ import annotations

import math

from dflab.eval.runner import EvalResult, MetricSet

COMPARISON_SHORT = {
    None: "",
    "within": "within",
    "vs_all_real": "vs all real",
    "vs_all_fake": "vs all fake",
    "unscored": "none scored",
}


def fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _auc_cell(m: MetricSet) -> str:
    if not math.isfinite(m.auc):
        return "n/a"
    lo, hi = m.auc_ci
    ci = f" [{fmt(lo)}, {fmt(hi)}]" if math.isfinite(lo) else ""
    return f"{fmt(m.auc)}{ci}"


def header(result: EvalResult) -> list[str]:
    cols = ["set", "vs", "n", "real", "fake", "AUC [95% CI]", "EER", "AP", f"acc@{result.threshold:g}", "ECE"]
    return cols + [f"AUC {name}" for name in result.baselines]


def table_rows(result: EvalResult) -> list[list[str]]:
    """One row for the whole manifest, then one per method (sorted by name)."""
    sets: list[tuple[str, MetricSet, dict[str, MetricSet | None]]] = [
        ("overall", result.ours.overall, {n: b.overall for n, b in result.baselines.items()})
    ]
    for method, m in result.ours.per_method.items():
        sets.append((method, m, {n: b.per_method.get(method) for n, b in result.baselines.items()}))
    rows = []
    for name, m, base in sets:
        row = [
            name,
            COMPARISON_SHORT.get(m.comparison, m.comparison or ""),
            str(m.n),
            str(m.n_real),
            str(m.n_fake),
            _auc_cell(m),
            fmt(m.eer),
            fmt(m.ap),
            fmt(m.accuracy),
            fmt(m.ece),
        ]
        row += [fmt(b.auc) if b is not None else "n/a" for b in base.values()]
        rows.append(row)
    return rows


def text_table(result: EvalResult) -> str:
    """A fixed-width table for the terminal, followed by a line on errors and the per-method convention."""
    head = header(result)
    body = table_rows(result)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = []
    n_err = len(result.errors)
    if n_err:
        notes.append(f"{n_err} of {len(result.rows)} rows could not be scored and are left out (see errors).")
    if any(m.comparison in ("vs_all_real", "vs_all_fake") for m in result.ours.per_method.values()):
        notes.append("'vs all real': a method with only fakes is scored as its fakes against every real row.")
    return "\n".join(lines + notes)
