"""Findings: one calibrated judgement per kind of manipulation, and the verdict they lead to.

Each detector looks for one kind of trace, and "no speed change" is no evidence against a face swap. So the
scan no longer sums every cue into one log-odds: each *finding* combines only its own member detectors into a
calibrated probability, and the file is judged by its findings together ("did any of these happen").

A finding's combiner is one small logistic model over its members,

    p = sigmoid(bias + sum_m weight_m * confidence_m * clip(logit(score_m), -6, 6)),

fitted with grouped cross-validation (`dflab.train.findings`) and stored as `findings/<name>.json` beside this
module (members, bias, held-out figures and the real files' out-of-fold score quantiles). A member that did not
run (confidence 0) adds nothing; a finding none of whose members ran is not applicable.

A weighted sum can average a member that is sure on its own away (a straight pasted seam that only crude pastes
leave counts for little among all the fakes a face model already sees), so a table may instead combine "any":
each member is calibrated on its own (a monotone map from its confidence * clipped logit to the probability of
manipulation, fitted out-of-fold) and the finding takes the highest of its members' probabilities, the noisy-OR's
value under full dependence (the members look at one face, so they are far from independent). The operating
points are then read from the real files' held-out probabilities of that maximum, so the members share the
false-alarm budget jointly.

Operating points: a finding says "manipulated" when its probability passes the one reached by 1 % of real
development files, and "suspicious" at 5 % (`OperatingPoint`; `dflab scan --operating-point` changes them). The
file's verdict is the most severe of its findings', and the verdict line names the finding that drives it.

The file's score is the probability of its strongest finding. Findings are far from independent on real media
(one soft, compressed face moves several of them at once), so a noisy-OR over them would count one cause
several times; the strongest finding is the noisy-OR's value under full dependence, and a strong finding of one
kind is never averaged away by the absence of another (bench/findings.py compares the two on the development
media).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from dflab.detect.evidence import Evidence, Verdict
from dflab.errors import UsageError

LOGIT_CLIP = 6.0
SEVERITY = {"not_applicable": -1, "authentic": 0, "suspicious": 1, "manipulated": 2}


@dataclass(frozen=True)
class FindingKind:
    """What one finding is about: its name, member detectors and the words the verdict line uses."""

    name: str
    members: tuple[str, ...]
    what: str  # e.g. "face swapped or edited": completes "MANIPULATED: ..."


FINDING_KINDS: tuple[FindingKind, ...] = (
    FindingKind("disclosed_synthetic", ("watermark", "c2pa"), "disclosed as synthetic"),
    FindingKind("face_manipulated",
                ("face_crop", "boundary", "blink", "skin_tone", "head_pose", "identity_drift", "lip_sync", "paste"),
                "face swapped, re-enacted or edited"),
    FindingKind("synthetic_image", ("synthetic_image_probe", "synthetic_image_cnn", "synthetic_image", "spectrum"),
                "picture generated"),
    FindingKind("synthetic_voice", ("aasist", "synthetic_speech", "speaker_match"), "voice cloned or synthesised"),
    FindingKind("speed_changed", ("speed",), "playback speed changed"),
    FindingKind("cut", ("cuts",), "footage cut or spliced"),
)
KIND_BY_NAME = {k.name: k for k in FINDING_KINDS}


@dataclass(frozen=True)
class OperatingPoint:
    """False-alarm rates on real development media at which a finding turns suspicious / manipulated."""

    manipulated_fpr: float = 0.01
    suspicious_fpr: float = 0.05

    PRESETS = {"strict": (0.005, 0.01), "default": (0.01, 0.05), "sensitive": (0.05, 0.10)}

    @classmethod
    def parse(cls, text: str | None) -> OperatingPoint:
        """A preset name (strict, default, sensitive) or two false-alarm rates "M,S" (e.g. "0.01,0.05")."""
        if not text:
            return cls()
        text = text.strip().lower()
        if text in cls.PRESETS:
            return cls(*cls.PRESETS[text])
        try:
            manipulated, suspicious = (float(v) for v in text.split(","))
        except ValueError:
            raise UsageError(f"--operating-point {text!r}: give strict, default, sensitive or two "
                             "false-alarm rates M,S such as 0.01,0.05") from None
        if not (0 < manipulated <= suspicious < 1):
            raise UsageError("--operating-point M,S needs 0 < M <= S < 1 (false-alarm rates on real media)")
        return cls(manipulated, suspicious)

    def to_json(self) -> dict:
        return {"manipulated_fpr": self.manipulated_fpr, "suspicious_fpr": self.suspicious_fpr}


def threshold_at(real_quantiles, fpr: float) -> float:
    """The probability from which a finding flags at most `fpr` of real development files, given their held-out
    probabilities' quantiles (levels 0 .. 1 evenly spaced).

    Many real files can share one probability (a face model saturates, a calibrated member's map is flat), and
    "p >= the quantile" would then flag every file of that plateau, several times `fpr` of them: the threshold
    moves just above such a plateau."""
    q = np.asarray(real_quantiles, dtype=np.float64)
    levels = np.linspace(0.0, 1.0, len(q))
    t = float(np.interp(1.0 - fpr, levels, q))
    first = int(np.searchsorted(q, t - 1e-9, side="left"))  # the first quantile that reaches t
    if 1.0 - levels[first] > fpr + 1e-9:  # more than fpr of the reals reach t: t lies on a plateau
        above = q[q > t + 1e-9]
        t = float(above[0]) if len(above) else float(np.nextafter(t, np.inf))
    return t


def _feature(evidence: Evidence, score: float) -> float:
    p = min(max(float(score), 1e-6), 1.0 - 1e-6)
    return evidence.confidence * float(np.clip(math.log(p / (1.0 - p)), -LOGIT_CLIP, LOGIT_CLIP))


@dataclass(frozen=True)
class FindingModel:
    """One finding's fitted combiner and the real files' score distribution that places its operating points."""

    name: str
    members: dict[str, float]
    bias: float = 0.0
    # Out-of-fold probabilities of real development files at quantiles 0, 0.001, ..., 1 (for any operating point);
    # without them, the two fixed thresholds in `thresholds` are used.
    real_quantiles: tuple[float, ...] = ()
    thresholds: dict[str, float] = field(default_factory=lambda: {"manipulated": 0.9, "suspicious": 0.7})
    held_out: dict = field(default_factory=dict)
    fitted: bool = False
    fingerprint: str = ""
    # "logistic": the formula above; "direct": the members' own scores are already calibrated probabilities of
    # this manipulation (speed, cuts, disclosure), so the finding takes the highest of those that ran, each
    # pulled towards 0.5 by its confidence (p = 0.5 + confidence * (score - 0.5))
    combine: str = "logistic"
    # "any": per member, the knots (feature, probability) of its own monotone calibration
    calibration: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, table: dict, fingerprint: str = "") -> FindingModel:
        return cls(
            name=table["finding"],
            members={str(k): float(v) for k, v in table["members"].items()},
            bias=float(table.get("bias", 0.0)),
            real_quantiles=tuple(float(q) for q in table.get("real_quantiles") or ()),
            thresholds={k: float(v) for k, v in (table.get("operating_points") or {}).items()}
            or {"manipulated": 0.9, "suspicious": 0.7},
            held_out=dict(table.get("held_out") or {}),
            fitted=True,
            fingerprint=fingerprint,
            combine=str(table.get("combine", "logistic")),
            calibration={str(m): (tuple(float(v) for v in knots["x"]), tuple(float(v) for v in knots["p"]))
                         for m, knots in (table.get("calibration") or {}).items()},
        )

    def member_probabilities(self, evidence: dict[str, Evidence], track_id: int | None = None) -> dict[str, float]:
        """"any" tables: each member that ran, its own calibrated probability of manipulation."""
        out = {}
        for name in self.members:
            ev = evidence.get(name)
            if ev is None or ev.confidence <= 0 or name not in self.calibration:
                continue
            score = ev.track_scores.get(track_id, ev.score) if track_id is not None else ev.score
            xs, ps = self.calibration[name]
            out[name] = float(np.interp(_feature(ev, score), xs, ps))
        return out

    def probability(self, evidence: dict[str, Evidence], track_id: int | None = None) -> float | None:
        """The finding's probability from its members' evidence (None when no member could run)."""
        if self.combine == "any":
            calibrated = self.member_probabilities(evidence, track_id)
            return max(calibrated.values()) if calibrated else None
        if self.combine == "direct":
            # the member's probability, pulled towards "no information" as far as it distrusts itself on this input
            scores = [0.5 + ev.confidence * ((ev.track_scores.get(track_id, ev.score) if track_id is not None
                                              else ev.score) - 0.5)
                      for name in self.members if (ev := evidence.get(name)) is not None and ev.confidence > 0]
            return float(max(scores)) if scores else None
        total, ran = self.bias, False
        for name, weight in self.members.items():
            ev = evidence.get(name)
            if ev is None or ev.confidence <= 0:
                continue
            ran = True
            score = ev.track_scores.get(track_id, ev.score) if track_id is not None else ev.score
            total += weight * _feature(ev, score)
        return 1.0 / (1.0 + math.exp(-total)) if ran else None

    def series(self, evidence: dict[str, Evidence], times: np.ndarray) -> np.ndarray | None:
        """The finding's probability over `times`, from the members that score per frame or window."""
        if self.combine == "direct":
            curves = [0.5 + ev.confidence * (np.interp(times, ev.times, ev.series["score"]) - 0.5) for name in self.members
                      if (ev := evidence.get(name)) is not None and ev.confidence > 0 and ev.times is not None
                      and "score" in ev.series and len(ev.times) == len(ev.series["score"]) and len(ev.times)]
            return np.max(np.vstack(curves), axis=0) if curves else None
        if self.combine == "any":
            return self._any_series(evidence, times)
        total = np.full(len(times), self.bias, dtype=np.float64)
        timed = False
        for name, weight in self.members.items():
            ev = evidence.get(name)
            if ev is None or ev.confidence <= 0:
                continue
            series = ev.series.get("score")
            if series is not None and ev.times is not None and len(ev.times) == len(series) and len(series):
                scores = np.clip(np.interp(times, ev.times, series), 1e-6, 1 - 1e-6)
                total += weight * ev.confidence * np.clip(np.log(scores / (1 - scores)), -LOGIT_CLIP, LOGIT_CLIP)
                timed = True
            else:
                total += weight * _feature(ev, ev.score)
        return 1.0 / (1.0 + np.exp(-total)) if timed else None

    def _any_series(self, evidence: dict[str, Evidence], times: np.ndarray) -> np.ndarray | None:
        curves = []
        for name in self.members:
            ev = evidence.get(name)
            series = ev.series.get("score") if ev is not None else None
            if (ev is None or ev.confidence <= 0 or name not in self.calibration or series is None
                    or ev.times is None or len(ev.times) != len(series) or not len(series)):
                continue
            scores = np.clip(np.interp(times, ev.times, series), 1e-6, 1 - 1e-6)
            feature = ev.confidence * np.clip(np.log(scores / (1 - scores)), -LOGIT_CLIP, LOGIT_CLIP)
            xs, ps = self.calibration[name]
            curves.append(np.interp(feature, xs, ps))
        return np.max(np.vstack(curves), axis=0) if curves else None

    def threshold(self, fpr: float, fallback: str) -> float:
        """The lowest probability that no more than `fpr` of real development files reach."""
        if len(self.real_quantiles) >= 2:
            return threshold_at(self.real_quantiles, fpr)
        return self.thresholds[fallback]

    def verdict(self, p: float | None, point: OperatingPoint) -> str:
        if p is None:
            return "not_applicable"
        if p >= max(self.threshold(point.manipulated_fpr, "manipulated"), 0.5):
            return "manipulated"
        if p >= max(self.threshold(point.suspicious_fpr, "suspicious"), 0.5):
            return "suspicious"
        return "authentic"


# Until a finding has a fitted table, it takes its members' own scores ("direct") with hand-set thresholds.
# A speed or cut detector's own score is already a probability of the change it looks for.
_DEFAULT_MEMBERS = {
    "disclosed_synthetic": {"watermark": 1.0, "c2pa": 1.0},
    "face_manipulated": {"face_crop": 1.0},
    "synthetic_image": {"synthetic_image": 1.0},
    "synthetic_voice": {"synthetic_speech": 1.0, "speaker_match": 1.0},
    "speed_changed": {"speed": 1.0},
    "cut": {"cuts": 1.0},
}
_DEFAULT_THRESHOLDS = {
    # thresholds on the confidence-weighted probability 0.5 + confidence * (score - 0.5). Speed: the cue's own
    # decision line (p(changed) 0.5) falsely flags about 5 % of natural 10 s clips; a confident reading
    # (confidence >= 0.5 and p(changed) >= 0.7, or a clear frame pattern) is suspicious, a surer one manipulated
    "speed_changed": {"manipulated": 0.75, "suspicious": 0.6},
    # cuts (cues/cuts.py): hard cuts between shots alone stay below 0.63 even three at full confidence; one jump
    # cut or audio splice at full confidence gives 0.72, two give 0.84
    "cut": {"manipulated": 0.8, "suspicious": 0.65},
    "disclosed_synthetic": {"manipulated": 0.99, "suspicious": 0.99},
}


@lru_cache(maxsize=None)
def finding_model(name: str, media_type: str | None = None) -> FindingModel:
    """The shipped model of finding `name` for this media type: `findings/<name>.<media_type>.json`, else
    `findings/<name>.json`, else the hand-set default (the detectors of a picture and of a video differ)."""
    import hashlib

    folder = resources.files("dflab.detect").joinpath("findings")
    for file_name in ([f"{name}.{media_type}.json"] if media_type else []) + [f"{name}.json"]:
        ref = folder.joinpath(file_name)
        if ref.is_file():
            raw = ref.read_bytes()
            return FindingModel.from_json(json.loads(raw), fingerprint=hashlib.sha256(raw).hexdigest()[:16])
    kind = KIND_BY_NAME[name]
    thresholds = _DEFAULT_THRESHOLDS.get(name, {"manipulated": 0.9, "suspicious": 0.7})
    return FindingModel(name=kind.name, members=dict(_DEFAULT_MEMBERS[name]), thresholds=dict(thresholds),
                        combine="direct")


@dataclass
class Finding:
    """One kind of manipulation: how likely, the verdict at the operating point, why, and where."""

    name: str
    score: float | None  # calibrated probability; None when none of its detectors could run
    verdict: str  # authentic | suspicious | manipulated | not_applicable
    summary: str
    headline: str  # completes "MANIPULATED: ..." (e.g. "playback slowed to 0.75x")
    time_ranges: list[tuple[float, float]] = field(default_factory=list)
    evidence: list[dict] = field(default_factory=list)  # members that ran: name, score, confidence, weight
    details: dict = field(default_factory=dict)
    track_scores: dict[int, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "score": None if self.score is None else round(self.score, 4),
            "verdict": self.verdict,
            "summary": self.summary,
            "time_ranges": [[round(a, 3), round(b, 3)] for a, b in self.time_ranges],
            "evidence": self.evidence,
            "details": self.details,
        }


def judge_finding(kind: FindingKind, evidence: dict[str, Evidence], track_ids: list[int], point: OperatingPoint,
                  media_type: str | None = None,
                  track_times: dict[int, tuple[float, float]] | None = None) -> Finding:
    """One finding from the file's evidence; a per-face finding is judged on its most suspicious face."""
    from dflab.detect.finding_text import describe

    model = finding_model(kind.name, media_type)
    members = [evidence[m] for m in kind.members if m in evidence and evidence[m].confidence > 0]
    track_scores: dict[int, float] = {}
    if kind.name == "face_manipulated":
        for track_id in track_ids:
            p = model.probability(evidence, track_id)
            if p is not None:
                track_scores[track_id] = p
    p = max(track_scores.values()) if track_scores else model.probability(evidence)
    verdict = model.verdict(p, point)
    listed = [{"name": e.name, "score": round(float(e.score), 4), "confidence": round(float(e.confidence), 4),
               "weight": round(model.members.get(e.name, 0.0), 4)} for e in members]
    lead = None
    if model.combine == "any" and p is not None:
        # the member whose own calibrated probability is the finding's, on the face that decides
        worst = max(track_scores, key=track_scores.get) if track_scores else None
        calibrated = model.member_probabilities(evidence, worst)
        lead = max(calibrated, key=calibrated.get) if calibrated else None
        for item in listed:
            if item["name"] in calibrated:
                item["probability"] = round(calibrated[item["name"]], 4)
    thresholds = {"suspicious": model.threshold(point.suspicious_fpr, "suspicious"),
                  "manipulated": model.threshold(point.manipulated_fpr, "manipulated")}
    summary, headline, ranges, details = describe(kind, p, verdict, members, evidence, track_scores, track_times,
                                                  thresholds,
                                                  model.members if model.combine in ("logistic", "any") else None,
                                                  lead=lead)
    if p is not None:
        # the lines the verdict was read at (never below even odds), so a script sees how near a file came
        details = {**details, "thresholds": {k: round(max(v, 0.5), 4) for k, v in thresholds.items()}}
    return Finding(name=kind.name, score=p, verdict=verdict, summary=summary, headline=headline,
                   time_ranges=ranges, evidence=listed, details=details, track_scores=track_scores)


def judge(evidence: list[Evidence], track_ids: list[int], point: OperatingPoint | None = None,
          media_type: str | None = None, track_times: dict[int, tuple[float, float]] | None = None) -> list[Finding]:
    """Every finding of a file, most severe first (then by score)."""
    point = point or OperatingPoint()
    by_name = {e.name: e for e in evidence}
    findings = [judge_finding(kind, by_name, track_ids, point, media_type, track_times) for kind in FINDING_KINDS
                if any(m in by_name for m in kind.members)]
    return sorted(findings, key=lambda f: (SEVERITY[f.verdict], f.score or 0.0), reverse=True)


def file_verdict(findings: list[Finding]) -> tuple[float, Verdict]:
    """The file's score (its strongest finding's probability) and verdict (its most severe finding's)."""
    applicable = [f for f in findings if f.score is not None]
    if not applicable:
        return 0.5, "authentic"
    score = max(f.score for f in applicable)
    worst = max(applicable, key=lambda f: SEVERITY[f.verdict])
    return float(score), worst.verdict  # type: ignore[return-value]


def verdict_line(findings: list[Finding], score: float, verdict: str) -> str:
    """E.g. "MANIPULATED (score 0.93): playback slowed to 0.75x" - what drives the verdict, in words."""
    driving = [f for f in findings if f.verdict == verdict and verdict != "authentic"]
    if driving:
        reasons = "; ".join(f.headline for f in driving)
        return f"{verdict.upper()} (score {score:.2f}): {reasons}."
    applicable = [f for f in findings if f.score is not None]
    if not applicable:
        return f"{verdict.upper()} (score {score:.2f}): no detector could judge this file."
    strongest = max(applicable, key=lambda f: f.score)
    line = strongest.details.get("thresholds", {}).get("suspicious")
    under = f", suspicious from {line:.2f}" if line is not None else ""
    return (f"{verdict.upper()} (score {score:.2f}): no finding reached its threshold "
            f"(strongest: {strongest.name} {strongest.score:.2f}{under}).")


def timeline(evidence: list[Evidence], times: np.ndarray, media_type: str | None = None) -> np.ndarray:
    """The strongest finding's probability over time, from the findings whose members score over time."""
    by_name = {e.name: e for e in evidence}
    curves = [c for kind in FINDING_KINDS
              if (c := finding_model(kind.name, media_type).series(by_name, times)) is not None]
    return np.max(np.vstack(curves), axis=0) if curves else np.zeros(0)
