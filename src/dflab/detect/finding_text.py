"""The words of each finding: its one-line summary, its verdict-line headline, where, and its key figures.

Kept apart from the scoring (findings.py) so the maths stays small and the wording can grow.
"""

from __future__ import annotations

from dflab.detect.evidence import Evidence


def _strongest(members: list[Evidence], weights: dict[str, float] | None = None) -> Evidence | None:
    """The member that speaks loudest for manipulation (score furthest above 0.5, weighed by confidence), among
    those the finding's probability uses (weight > 0) when any ran: a member the fit gave no weight did not move p."""
    used = [e for e in members if (weights or {}).get(e.name, 0.0) > 0] if weights else []
    return max(used or members, key=lambda e: (e.score - 0.5) * e.confidence, default=None)


def _span(ranges: list[tuple[float, float]]) -> str:
    return ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in ranges[:4]) + (" ..." if len(ranges) > 4 else "")


def describe(kind, p, verdict, members, evidence, track_scores, track_times, thresholds, weights=None, lead=None):
    """(summary, headline, time_ranges, details) of one finding; `thresholds` are the probabilities at which it
    turns suspicious and manipulated at the scan's operating point; `weights` the finding's member weights;
    `lead` the member whose own calibrated probability is the finding's (an "any" combiner), named as strongest."""
    if p is None:
        return "None of its detectors could run on this file.", kind.what, [], {}
    if kind.name == "speed_changed":
        return _speed(kind, p, verdict, evidence["speed"], thresholds)
    if kind.name == "cut":
        return _cut(kind, p, verdict, evidence["cuts"])
    if kind.name == "disclosed_synthetic":
        return _disclosed(kind, p, members)
    lead = next((e for e in members if e.name == lead), None) or _strongest(members, weights)
    ranges: list[tuple[float, float]] = []
    details: dict = {}
    if kind.name == "face_manipulated" and track_scores:
        worst = max(track_scores, key=track_scores.get)
        details = {"track_scores": {str(t): round(s, 4) for t, s in track_scores.items()}, "worst_track": worst}
        if track_times and worst in track_times:
            ranges = [track_times[worst]]
    if lead is not None and lead.time_ranges and verdict != "authentic":
        ranges = list(lead.time_ranges)
    ranges = [(a, b) for a, b in ranges if b > a]  # a picture has no time span
    where = f" over {_span(ranges)}" if ranges else ""
    cue = f"{lead.name} {lead.score:.2f}" if lead is not None else ""
    headline = f"{kind.what} ({cue}{where})" if cue else kind.what
    if verdict == "authentic":
        verdict_words = f"below the suspicious line p >= {max(thresholds['suspicious'], 0.5):.2f}"
    else:
        verdict_words = {"manipulated": "likely", "suspicious": "possible"}[verdict]
    others = ", ".join(f"{e.name} {e.score:.2f}" for e in members if e is not lead)
    summary = (f"{kind.what[0].upper()}{kind.what[1:]}: {verdict_words} (p = {p:.2f}). Strongest: {cue}{where}"
               + (f"; also {others}" if others else "") + ".")
    return summary, headline, ranges, details


def _speed(kind, p, verdict, ev: Evidence, thresholds):
    factor = ev.details.get("speed_factor")
    details = {"speed_factor": factor, "speed_confidence": ev.details.get("speed_confidence")}
    if factor is None or abs(factor - 1.0) < 0.02 or p < 0.5:
        return (f"Playback looks natural (p(changed) = {p:.2f}).", kind.what, [], details)
    if verdict == "authentic":  # leaning to a change, but not enough to flag: say which way it leans
        return (f"Playback may be changed to about {factor:.2f}x, below the suspicious line p >= "
                f"{thresholds['suspicious']:.2f} (p(changed) = {p:.2f}).", kind.what, [], details)
    direction = "slowed" if factor < 1.0 else "sped up"
    details["speed_direction"] = "slowed" if factor < 1.0 else "sped_up"
    ranges = list(ev.time_ranges)
    where = f" in {_span(ranges)}" if ranges and len(ranges) > 1 or (ranges and ranges[0][0] > 0.5) else ""
    headline = f"playback {direction} to {factor:.2f}x{where}"
    return f"Playback {direction} to about {factor:.2f}x (p(changed) = {p:.2f}){where}.", headline, ranges, details


def _cut(kind, p, verdict, ev: Evidence):
    times = ev.details.get("cut_details") or []
    suspicious_cuts = [c for c in times if c.get("type") != "hard"]
    details = {"cuts": ev.details.get("cuts") or [], "jump_cuts": ev.details.get("jump_cuts", 0),
               "audio_splices": ev.details.get("audio_splices", 0), "hard_cuts": ev.details.get("hard_cuts", 0)}
    if not suspicious_cuts:
        hard = details["hard_cuts"]
        text = f"{hard} hard cut(s) between shots, nothing inside a shot." if hard else "No cut or splice found."
        return text, kind.what, [], details
    listed = ", ".join(f"{c['time_s']:.2f} s ({c['type']})" for c in suspicious_cuts[:4])
    if len(suspicious_cuts) > 4:  # the rest are in time_ranges and details; say that they exist
        listed += f" and {len(suspicious_cuts) - 4} more"
    headline = f"cut at {listed}"
    return (f"Cut or spliced inside continuous footage at {listed} (p = {p:.2f}).", headline,
            list(ev.time_ranges), details)


def _disclosed(kind, p, members: list[Evidence]):
    found = [e for e in members if e.score >= 0.99]
    if not found:
        return "No disclosure of synthetic media (no dflab watermark, no C2PA manifest saying so).", kind.what, [], {}
    ev = found[0]
    record = ev.details.get("record")
    if ev.name == "watermark":
        headline = "disclosed as synthetic (dflab watermark" + (f", ledger record {record})" if record is not None else ")")
    else:
        headline = "disclosed as synthetic (C2PA manifest)"
    return ev.summary, headline, [], {"by": [e.name for e in found], "record": record}
