"""Scan every file of a labelled manifest once and keep its evidence as a record for fitting the findings.

A record is what dflab.train.findings_fit fits on: the file's label, its CV group, its media type, its
face tracks and every detector's score, confidence and per-track scores. Records are cached per file
content (sha256) and scanner fingerprint under a cache folder, so refitting, or rescanning after a
findings change (the findings do not enter the record), costs nothing; any change to the scanner's code
or weights changes the fingerprint and rescans.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from dflab.atomic import write_text_atomic
from dflab.errors import DflabError, NotFound
from dflab.eval.manifest import read_manifest

RECORD_VERSION = 1


SCANNER_PARTS = ("detect", "faces", "audio", "shallow", "media", "config.py", "timeline.py")
# the findings' combiners and wording: they read the evidence a record keeps, so refitting them never rescans
NOT_SCANNER = frozenset({"findings.py", "finding_text.py", "models_used.py", "verdict.py"})


def scanner_fingerprint() -> str:
    """Changes when any code or weights file the scan runs on changes (then cached records are stale):
    every file under the scanner's subpackages, by content."""
    import dflab

    root = Path(dflab.__file__).resolve().parent
    digest = hashlib.sha256(f"v{RECORD_VERSION}".encode())
    for part in SCANNER_PARTS:
        base = root / part
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or "findings" in path.parts or path.name in NOT_SCANNER:
                continue
            digest.update(str(path.relative_to(root)).encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def record_from_scan(result_json: dict) -> dict:
    """The part of a scan's JSON the fit needs (no timeline, no summaries)."""
    return {
        "media_type": result_json["media_type"],
        "tracks": [f["track_id"] for f in result_json["faces"]],
        "evidence": [{k: e[k] for k in ("name", "score", "confidence", "track_scores", "decisive")}
                     for e in result_json["evidence"]],
        "score_at_scan": result_json["score"],
    }


def scan_manifest(manifest_path: str | Path, cache_dir: str | Path,
                  progress: Callable[[int, int, str], None] | None = None,
                  fingerprint: str | None = None, detectors: list[str] | None = None,
                  policy=None) -> tuple[list[dict], list[str]]:  # fmt: skip
    """(records, errors): one record per scannable row, with label (0/1), group and method.

    The group is the manifest's `group` column, else its `source` column, else the file name: rows of
    one group are left out of a fit together. With `fingerprint` the records of that (earlier) scanner
    version are read from the cache and nothing is scanned: a file missing there is an error. With `detectors`
    only those run (records of a subset are cached apart from full scans); with `policy` (a SamplingPolicy other
    than the default) frames are sampled so, and those records too are cached apart."""
    from dflab.config import SamplingPolicy
    from dflab.detect.scan import ScanOptions, scan_file
    from dflab.provenance.ledger.record import sha256_file

    manifest = read_manifest(manifest_path)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    cached_only = fingerprint is not None
    fingerprint = fingerprint or scanner_fingerprint()
    if detectors:
        fingerprint += "_" + hashlib.sha256(",".join(sorted(detectors)).encode()).hexdigest()[:8]
    policy = policy or SamplingPolicy()
    if policy != SamplingPolicy():
        fingerprint += "_p" + hashlib.sha256(repr(policy).encode()).hexdigest()[:8]
    options = ScanOptions(detectors=detectors, policy=policy)
    records, errors = [], []
    for n, row in enumerate(manifest.rows):
        if progress is not None:
            progress(n, len(manifest.rows), row.path)
        try:
            key = f"{sha256_file(row.file)[:32]}_{fingerprint}.json"
            cached = cache / key
            if cached.is_file():
                record = json.loads(cached.read_text())
            elif cached_only:
                raise NotFound(f"no cached scan for scanner version {fingerprint}")
            else:
                record = record_from_scan(scan_file(row.file, options).to_json())
                write_text_atomic(cached, json.dumps(record))
        except (DflabError, OSError) as exc:
            errors.append(f"{row.path}: {exc}")
            continue
        group = row.extra.get("group") or row.extra.get("source") or Path(row.path).stem
        records.append({"path": row.path, "label": row.label, "method": row.method or "", "group": group,
                        "scanner": fingerprint, **record})
    if progress is not None:
        progress(len(manifest.rows), len(manifest.rows), "")
    return records, errors
