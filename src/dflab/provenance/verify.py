"""`dflab verify`: one answer about a file from four independent sources of provenance.

  c2pa       the embedded manifest, validated with our CA as a trust anchor (Trusted / Valid / Invalid / none)
  watermark  the invisible mark; its payload names a ledger record (payload.py)
  registry   perceptual-hash matches against registered media
  ledger     the record(s) named by the manifest and the watermark, with the inclusion proof checked
             against the latest signed checkpoint

Each source can be absent (no manifest, unmarked, not registered, module not installed); the summary says
what was found and how far it can be trusted. Only problems with the *input* (missing, not media, corrupt
manifest) are errors. What is wrong with a readable file (a manifest that does not validate, a ledger proof
that fails, manifest and watermark naming different records) is listed in `problems`; `dflab verify` exits 1
when there is any. The ledger, the registry and the trusted CA come from the lab passed in.

The media itself passes the same open-and-check step as every other command (dflab.media.check): a file cut
short, damaged, too small or over a limit is an error, unless it carries a readable manifest, whose answer
(usually "tampered") is then given with the media problem among the `problems`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dflab.errors import BadMedia, IntegrityError, NotFound, Unsupported
from dflab.media.sniff import mime_type

# Media dflab reads whose containers C2PA does not cover: verified by watermark and registry, with no manifest.
_NO_C2PA = frozenset({"video/x-matroska", "audio/ogg"})


def sniff_media(path: Path) -> str:
    """The container type from the file's first bytes. Raises NotFound, BadMedia (empty) or Unsupported."""
    if not path.is_file():
        raise NotFound(f"{path} does not exist or is not a file")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        raise BadMedia(f"{path.name} is empty")
    mime = mime_type(head)
    if mime:
        return mime
    raise Unsupported(f"{path.name} is not an image, video or audio file dflab can verify")


def verify_file(path: str | Path, trust_anchors: bytes | None = None, registry_k: int = 5, *, lab=None) -> dict[str, Any]:
    """Everything `dflab verify --json` prints. trust_anchors: CA PEM(s) to trust (default: the lab's CA);
    lab: where the ledger, registry and keys are (default: the lab of the environment)."""
    from dflab.provenance.lab import lab_scope

    with lab_scope(lab) as opened:
        return _verify(Path(path), trust_anchors, registry_k, opened)


def _verify(src: Path, trust_anchors: bytes | None, registry_k: int, lab) -> dict[str, Any]:
    from dflab.provenance import adapters
    from dflab.provenance.manifest import read_manifest

    try:
        media_type = sniff_media(src)
    except Unsupported:
        from dflab.media.check import check_media

        check_media(src, decode=False)  # media dflab reads but whose first bytes are damaged: the shared message
        raise
    anchors = trust_anchors if trust_anchors is not None else (lab.keys.trust_anchor() or b"")
    media_check, media_error = _media_check(src, media_type)
    try:
        c2pa = read_manifest(src, trust_anchors=anchors)
    except (IntegrityError, Unsupported) as exc:
        if media_error is not None:
            raise media_error from None  # damaged media explains an unreadable manifest, not the other way round
        if not (isinstance(exc, Unsupported) and media_type in _NO_C2PA):
            raise
        from dflab.provenance.manifest import _empty_result

        c2pa = _empty_result(src, "none", error=f"C2PA manifests cannot be embedded in {media_type}")
    c2pa_out = {k: v for k, v in c2pa.items() if k != "active_manifest"}
    readable = c2pa["state"] in ("Trusted", "Valid", "Invalid")
    if media_error is not None and not readable:
        raise media_error
    if media_error is not None:
        skipped = {"available": True, "applicable": False, "reason": str(media_error), "matches": []}
        watermark, registry = dict(skipped), dict(skipped)
    else:
        watermark = _guarded(media_type, readable, lambda: adapters.watermark_check(src, lab))
        registry = _guarded(media_type, readable, lambda: adapters.registry_check(src, registry_k, lab))
    ledger = _ledger_section(c2pa, watermark, registry, lambda record_id: adapters.ledger_check(record_id, lab))
    synthetic = _synthetic(c2pa, ledger)
    verdict = _verdict(c2pa, watermark, ledger, synthetic)
    consent = consent_section(c2pa, ledger)
    return {
        "path": str(src),
        "media_type": media_type,
        "verdict": verdict,
        "synthetic": synthetic,
        "summary": _summary(verdict, c2pa, watermark, registry, ledger, synthetic)
        + (f"; consent: {_consent_words(consent)}" if consent is not None else ""),
        "problems": problems(c2pa, watermark, ledger)
        + ([f"the media is refused: {media_error}"] if media_error is not None else []),
        "c2pa": c2pa_out,
        "media_check": media_check,
        "watermark": watermark,
        "registry": registry,
        "ledger": ledger,
        "consent": consent,
    }


def consent_section(c2pa: dict, ledger: dict) -> dict | None:
    """The consent a made output rests on (provenance/consent.py): a valid manifest's consent assertion first,
    else a verified ledger record's extra.consent; None when neither says anything (not a maker output)."""
    if c2pa.get("state") in ("Trusted", "Valid") and isinstance(c2pa.get("consent"), dict):
        return {**c2pa["consent"], "from": "c2pa"}
    for record in ledger.get("records") or []:
        entry = record.get("entry") or {}
        extra = entry.get("extra") if isinstance(entry.get("extra"), dict) else {}
        if record.get("verified") and isinstance(extra.get("consent"), dict):
            return {**extra["consent"], "from": f"ledger record {record['record']}"}
    return None


def _consent_source(consent: dict) -> str:
    return "the C2PA manifest" if consent.get("from") == "c2pa" else str(consent.get("from"))


def _consent_words(consent: dict) -> str:
    statements = consent.get("statements") or []
    if consent.get("status") != "recorded" or not statements:
        return "not recorded"
    who = ", ".join(f"{s.get('subject')} (signer {s.get('signer')}, for {s.get('use')!r} until {s.get('valid_until')})"
                    for s in statements)  # fmt: skip
    return f"recorded: {who}"


def problems(c2pa: dict, watermark: dict, ledger: dict) -> list[str]:
    """What is wrong with a readable file, one sentence each; empty when nothing is (exit code 0).

    A registry match naming another record than the manifest is not a problem: the registry names the nearest
    registered original, which a signed or edited copy legitimately differs from."""
    found = []
    if c2pa.get("state") == "Invalid":
        codes = ", ".join(c2pa.get("failure_codes") or []) or "no failure code given"
        found.append(f"the C2PA manifest does not validate ({codes})")
    for record in ledger.get("records") or []:
        if record.get("verified") is False:
            reason = record.get("error") or "its inclusion proof does not verify"
            found.append(f"ledger record {record['record']} (named by {', '.join(record.get('named_by') or [])}) "
                         f"failed: {reason}")  # fmt: skip
    named = _record_ids(c2pa, watermark, {})
    by_manifest = [r for r, sources in named.items() if "c2pa" in sources]
    by_mark = [r for r, sources in named.items() if "watermark" in sources]
    if by_manifest and by_mark and by_manifest != by_mark:
        found.append(f"the manifest names ledger record {by_manifest[0]} but the watermark names record {by_mark[0]}")
    return found


def _media_check(src: Path, media_type: str) -> tuple[dict, Exception | None]:
    """(the media_check section, the error that refuses the media or None): the open-and-check step every
    command applies (limits, minimum size, whole file).

    Video and audio are decoded whole here (the registry check would skip a video's sound), so verify refuses
    what scan and sign refuse. Containers the C2PA reader knows but dflab does not read (PDF) are not media
    to check. The caller decides whether the error stands: not when the file carries a readable manifest.
    """
    from dflab.errors import DflabError
    from dflab.media.check import check_media

    if media_type.split("/")[0] not in ("image", "video", "audio"):
        return {"checked": False, "reason": f"not media dflab decodes ({media_type})"}, None
    try:
        checked = check_media(src, other_images=True)
    except NotFound:
        raise
    except DflabError as exc:
        return {"checked": True, "passed": False, "error": str(exc)}, exc
    return {"checked": True, "passed": True, **checked.completeness.to_json()}, None


def _guarded(media_type: str, manifest_read: bool, check) -> dict:
    """Run a pixel-based check where it applies.

    Watermark and registry work on images and video only. When they cannot decode a file whose manifest was
    read fine (a DNG, a DASH init segment), that is reported in their section; when nothing could read the
    file at all, the BadMedia error stands and `dflab verify` exits 2.
    """
    if media_type.split("/")[0] not in ("image", "video"):
        return {"available": True, "applicable": False, "reason": f"not applicable to {media_type}", "matches": []}
    try:
        return check()
    except Unsupported as exc:
        return {"available": True, "applicable": False, "reason": str(exc), "matches": []}
    except BadMedia as exc:
        if not manifest_read:
            raise
        return {"available": True, "applicable": False, "reason": str(exc), "matches": []}


def _record_ids(c2pa: dict, watermark: dict, registry: dict) -> dict[int, list[str]]:
    """Ledger record ids named by each source (manifest assertion, watermark payload, best registry match)."""
    named: dict[int, list[str]] = {}

    def add(value: Any, source: str) -> None:
        try:
            record = int(value)
        except (TypeError, ValueError):
            return
        named.setdefault(record, []).append(source)

    if c2pa.get("state") in ("Trusted", "Valid") and isinstance(c2pa.get("ledger"), dict):
        add(c2pa["ledger"].get("record"), "c2pa")
    if watermark.get("detected"):
        add(watermark.get("record"), "watermark")
    matches = registry.get("matches") or []
    if matches:
        add(matches[0].get("record"), "registry")
    return named


def _ledger_section(c2pa: dict, watermark: dict, registry: dict, ledger_check) -> dict:
    named = _record_ids(c2pa, watermark, registry)
    if not named:
        return {"records": [], "verified": None, "note": "no source names a ledger record"}
    records = []
    for record_id, sources in list(named.items())[:3]:
        check = ledger_check(record_id)
        check["named_by"] = sources
        records.append(check)
    verified_flags = [r.get("verified") for r in records]
    return {
        "records": records,
        "verified": all(v is True for v in verified_flags) if all(v is not None for v in verified_flags) else None,
        "consistent": len(named) == 1,
    }


def _synthetic(c2pa: dict, ledger: dict) -> bool | None:
    """Generated or not: a valid manifest's digitalSourceType first, else what a verified ledger record says."""
    if c2pa.get("state") in ("Trusted", "Valid") and c2pa.get("synthetic") is not None:
        return bool(c2pa["synthetic"])
    for record in ledger.get("records") or []:
        entry = record.get("entry") or {}
        extra = entry.get("extra") if isinstance(entry.get("extra"), dict) else {}
        if record.get("verified") and extra.get("synthetic") is not None:
            return bool(extra["synthetic"])
    return None


def _verdict(c2pa: dict, watermark: dict, ledger: dict, synthetic: bool | None) -> str:
    state = c2pa.get("state")
    if state == "Invalid":
        return "tampered"
    if state == "Trusted":
        return "trusted"
    if ledger.get("verified") is True and watermark.get("detected"):
        return "traced"  # the mark survived (e.g. metadata stripped) and the ledger vouches for the record
    if state == "Valid":
        return "signed-untrusted"
    return "unknown"


def _summary(verdict: str, c2pa: dict, watermark: dict, registry: dict, ledger: dict, synthetic: bool | None) -> str:
    parts = []
    state = c2pa.get("state")
    lead = {
        "tampered": "TAMPERED: the C2PA manifest does not validate",
        "trusted": "signed by a trusted key (our CA)",
        "traced": "provenance recovered from the watermark and verified in the ledger",
        "signed-untrusted": "validly signed, but by a key we do not trust",
        "unknown": "no verifiable provenance",
    }[verdict]
    parts.append(lead)
    if synthetic is True:
        parts.append("generated media (AI)")
    elif synthetic is False:
        parts.append("a captured original")
    if state in ("Trusted", "Valid", "Invalid"):
        codes = ", ".join(c2pa.get("failure_codes") or []) or "no failures"
        parts.append(f"C2PA {state} ({codes})")
    elif state == "remote":
        parts.append("C2PA manifest is remote only (not fetched offline)")
    elif state == "rejected":
        parts.append("C2PA data rejected by the reader (pre-release)")
    else:
        parts.append("no C2PA manifest")
    if watermark.get("available") and watermark.get("applicable", True):
        parts.append(
            f"watermark: payload {watermark['payload']} -> {_record_words(watermark.get('record'))}"
            + (" (informed: matched against the ledger's issued payloads)" if watermark.get("method") == "informed" else "")
            if watermark.get("detected")
            else _undecoded_words(watermark.get("informed"))
        )
    if registry.get("available") and registry.get("applicable", True):
        matches = registry.get("matches") or []
        parts.append(
            f"registry: {len(matches)} match(es), best record {matches[0].get('record')} {_closeness(matches[0])}"
            if matches else "registry: no match"
        )
    for record in ledger.get("records") or []:
        flag = {True: "proof verified", False: "proof FAILED", None: "not checked"}[record.get("verified")]
        parts.append(f"ledger record {record['record']}: {flag}" + (f" ({record['error']})" if record.get("error") else ""))
    if ledger.get("consistent") is False:
        parts.append("sources name different ledger records")
    return "; ".join(parts)


def _undecoded_words(informed: dict | None) -> str:
    """No mark decoded; what the informed test against the ledger's issued payloads found, if it ran."""
    if not informed or not informed.get("present"):
        return "watermark: none"
    return (f"watermark: not decodable, but a mark this ledger issued is present (informed z {informed['informed_z']} "
            f">= {informed['informed_threshold_z']} over {informed['candidates_tested']} disclosed outputs; "
            f"most likely record {informed['best_record']}, not told apart from record {informed['runner_up_record']})")


def _record_words(record: int | None, noun: str = "record") -> str:
    return f"{noun} {record}" if record is not None else "no dflab ledger record (not a dflab payload)"


def _closeness(match: dict) -> str:
    """How close a registry match is, in words (audio matches have a vote score, not a Hamming distance)."""
    if match.get("distance") is not None:
        return f"at distance {match['distance']}"
    if match.get("score") is not None:
        return f"with audio score {match['score']}"
    return "(closeness not reported)"


def _or(value: Any, missing: str) -> str:
    return missing if value is None or value == "" else str(value)


def render_text(result: dict) -> str:
    """The human-readable report `dflab verify` prints without --json."""
    c2pa, wm, reg, led = result["c2pa"], result["watermark"], result["registry"], result["ledger"]
    synthetic = {True: "yes (generated)", False: "no (captured original)", None: "unknown"}[result["synthetic"]]
    lines = [f"{result['path']}: {result['verdict'].upper()}", f"  {result['summary']}", f"  synthetic: {synthetic}"]
    lines.append(f"  c2pa:      {c2pa['state']}" + (f" ({', '.join(c2pa['failure_codes'])})" if c2pa["failure_codes"] else ""))
    if c2pa.get("digital_source_type"):
        lines.append(f"             digitalSourceType {c2pa['digital_source_type'].rsplit('/', 1)[-1]}")
    if c2pa.get("actions"):
        lines.append("             actions " + ", ".join(a.get("action", "?") for a in c2pa["actions"]))
    if c2pa.get("signer"):
        signer = c2pa["signer"]
        lines.append(f"             signer {_or(signer.get('common_name'), 'with no common name')} "
                     f"(issuer {_or(signer.get('issuer'), 'not named')})")  # fmt: skip
    if c2pa.get("soft_binding"):
        blocks = c2pa["soft_binding"].get("blocks") or [{}]
        lines.append(f"             soft binding {_or(c2pa['soft_binding'].get('alg'), 'of an unnamed algorithm')} = "
                     f"{_or(blocks[0].get('value'), 'no value')}")  # fmt: skip
    if (result.get("media_check") or {}).get("error"):
        lines.append(f"  media:     refused ({result['media_check']['error']})")
    if not wm.get("available") or not wm.get("applicable", True):
        lines.append(f"  watermark: unavailable ({_or(wm.get('reason'), 'no reason given')})")
    else:
        lines.append(
            f"  watermark: detected, payload {wm['payload']} -> {_record_words(wm.get('record'), 'ledger record')}"
            f" (confidence {wm['confidence']:.2f})" if wm.get("detected") else "  watermark: not detected"
        )
        earlier = (wm.get("lineage") or [])[:-1]  # made from dflab media: the marks of earlier generations
        if earlier:
            lines.append("             earlier generations: " + ", ".join(
                f"payload {m['payload']} -> {_record_words(m.get('record'))}" for m in earlier))
    if not reg.get("available") or not reg.get("applicable", True):
        lines.append(f"  registry:  unavailable ({_or(reg.get('reason'), 'no reason given')})")
    else:
        lines.append(f"  registry:  {len(reg['matches'])} match(es)")
        for m in reg["matches"]:
            lines.append(f"             record {m.get('record')} {_or(m.get('path'), '(path not recorded)')} {_closeness(m)}")
    if not led.get("records"):
        lines.append(f"  ledger:    {led.get('note', 'no record')}")
    for record in led.get("records") or []:
        state = {True: "inclusion proof verified", False: "NOT verified", None: "not checked"}[record.get("verified")]
        extra = f" - {record.get('error') or record.get('reason')}" if record.get("error") or record.get("reason") else ""
        lines.append(f"  ledger:    record {record['record']} (named by {', '.join(record['named_by'])}): {state}{extra}")
    if result.get("consent") is not None:
        lines.append(f"  consent:   {_consent_words(result['consent'])} (from {_consent_source(result['consent'])})")
    for problem in result.get("problems") or []:
        lines.append(f"  PROBLEM:   {problem}")
    return "\n".join(lines)
