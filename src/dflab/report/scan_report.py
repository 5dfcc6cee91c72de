"""A self-contained HTML report per scanned file (pictures inline), with the JSON beside it."""

from __future__ import annotations

import html
import json
from pathlib import Path

from dflab.atomic import write_text_atomic
from dflab.report import scan_plots

VERDICT_COLOURS = {"authentic": "#2e7d32", "suspicious": "#ef6c00", "manipulated": "#c62828"}

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#212121;padding:0 1em}
.badge{display:inline-block;padding:.2em .7em;border-radius:.3em;color:#fff;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border-bottom:1px solid #ddd;padding:.35em;text-align:left;vertical-align:top}
img{max-width:100%}.frames{display:flex;gap:.5em;flex-wrap:wrap}.frames figure{margin:0;flex:1 1 300px}
figcaption{font-size:.8em;color:#555}.muted{color:#757575;font-size:.85em}
"""


def write_scan_report(result, report_dir: Path, name: str | None = None) -> Path:
    """Write NAME.html and NAME.json into report_dir (made if missing); NAME defaults to the file's name (report/names.py makes
    names that stay apart when several inputs share one)."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)  # as `dflab scan --report DIR` does
    stem = name or Path(result.path).name
    data = result.to_json()
    write_text_atomic(report_dir / f"{stem}.json", json.dumps(data, indent=2, default=str))
    html_path = report_dir / f"{stem}.html"
    write_text_atomic(html_path, render(result, data))
    return html_path


def _img(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">' if uri else ""


def render(result, data: dict) -> str:
    esc = html.escape
    colour = VERDICT_COLOURS[result.verdict]
    rows = "".join(
        f"<tr><td><b>{esc(e['name'])}</b></td><td>{e['score']:.2f}</td><td>{e['confidence']:.2f}</td>"
        f"<td>{esc(e['summary'])}</td><td>{esc(', '.join(f'{a:.1f}-{b:.1f} s' for a, b in e['time_ranges'][:6]))}</td></tr>"
        for e in sorted(data["evidence"], key=lambda e: -abs(e["score"] - 0.5) * e["confidence"])
    )
    faces = "".join(
        f"<tr><td>#{f['track_id']}</td><td>{f['score']:.2f}</td><td>{f['verdict']}</td>"
        f"<td>{f['frame_range'][0]}-{f['frame_range'][1]}</td><td>{f['time_range'][0]:.2f}-{f['time_range'][1]:.2f} s</td></tr>"
        for f in data["faces"]
    ) or '<tr><td colspan="5">No face found: only file-level cues were run.</td></tr>'
    frames = "".join(
        f"<figure>{_img(uri, caption)}<figcaption>{esc(caption)}</figcaption></figure>"
        for uri, caption in scan_plots.key_frames(result)
    )
    timeline = _img(scan_plots.score_timeline(result), "score timeline")
    ear = _img(scan_plots.ear_curve(result), "eye aspect ratio with blinks")
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in data["timings"].items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>dflab scan: {esc(str(result.path))}</title>
<style>{STYLE}</style></head><body>
<h1>{esc(Path(result.path).name)}</h1>
<p><span class="badge" style="background:{colour}">{result.verdict.upper()}</span>
 probability of manipulation <b>{result.score:.2f}</b> &middot; {esc(result.media_type)}
 &middot; {data['frames_analysed']} frame(s) analysed</p>
<p>{esc(result.summary)}</p>
<h2>Evidence</h2><table><tr><th>cue</th><th>score</th><th>confidence</th><th>what it found</th><th>where</th></tr>{rows}</table>
<h2>Faces</h2><table><tr><th>track</th><th>score</th><th>verdict</th><th>frames</th><th>time</th></tr>{faces}</table>
{('<h2>Timeline</h2>' + timeline) if timeline else ''}
{('<h2>Blinking</h2>' + ear) if ear else ''}
{('<h2>Key frames</h2><div class="frames">' + frames + '</div>') if frames else ''}
<p class="muted">Scores are probabilities of manipulation (0 = authentic, 1 = manipulated); cues with confidence 0 could not
run on this input. Timings: {esc(timings)}. Full data: {esc(Path(result.path).name)}.json beside this page.</p>
</body></html>"""
