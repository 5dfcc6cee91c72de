"""POST/GET /v1/scans: uploads queued as scan jobs, their state, results, reports and key frames."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from dflab.errors import NotFound, UsageError
from dflab.serve.callbacks import check_callback_url
from dflab.serve.deps import require_key, service_of
from dflab.serve.jobs import SCAN, artifact_dir
from dflab.serve.models import KeyFrame, Problem, Scan, ScanAccepted, ScanPage, multipart_body
from dflab.serve.scan_options import parse_scan_options
from dflab.storage.api_keys import ApiKey, key_digest
from dflab.storage.jobs import DEAD, Job

router = APIRouter(tags=["scans"])
ERRORS = {code: {"model": Problem} for code in (401, 404, 413, 415, 422, 429)}
MAX_IDEMPOTENCY_KEY = 200


@router.post("/v1/scans", status_code=202, response_model=ScanAccepted, responses=ERRORS,
             summary="Upload a file to scan (multipart: file, optional reference, options)",
             openapi_extra=multipart_body(
                 reference_file="a recording of the expected speaker (adds speaker_match evidence)",
                 operating_point="strict, default, sensitive, or two false-alarm rates M,S",
                 detectors="comma-separated detector names (default: all)", max_faces="faces tracked per frame",
                 fps="analysis frame rate for long videos", all_frames_up_to="analyse every frame up to this many s",
                 face_fps="frames a second in which faces are tracked",
                 allow_partial="true: scan what decodes of a cut or damaged file",
                 callback_url="POSTed {id, state} when the scan finishes",
                 callback_secret="the HMAC key of the callback's signature (default: SHA-256 of your API key)"))
async def submit_scan(request: Request, key: ApiKey = Depends(require_key)):
    """Multipart fields: `file` (required), `reference` (a recording of the expected speaker), and the `dflab
    scan` options `operating_point`, `detectors`, `max_faces`, `fps`, `all_frames_up_to`, `face_fps`,
    `allow_partial`;
    `callback_url` (and `callback_secret`) to be told when it finishes. Header `Idempotency-Key` makes a retried
    request return the first one's scan."""
    service = service_of(request)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise UsageError(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    form = await service.uploads.receive(request, service.config.max_upload_bytes)
    try:
        upload = form.files.get("file")
        if upload is None:
            raise UsageError("send the media in a multipart form field named file")
        options = await run_in_threadpool(parse_scan_options, form.fields)
        callback_url = form.fields.get("callback_url") or None
        if callback_url:
            check_callback_url(callback_url)
        path = service.uploads.keep(upload)
        reference = form.files.get("reference")
        reference_path = service.uploads.keep(reference) if reference is not None else None
        for name, extra in form.files.items():
            if name not in ("file", "reference"):
                extra.path.unlink(missing_ok=True)
    except BaseException:
        form.discard()
        raise
    await run_in_threadpool(_check_uploads, path, reference_path, options)
    payload = {"path": str(path), "filename": upload.filename, "sha256": upload.sha256, "size": upload.size,
               "options": options}  # fmt: skip
    if reference_path is not None:
        payload.update(reference_path=str(reference_path), reference_sha256=reference.sha256)
    if callback_url:
        bearer = request.headers.get("authorization", "").partition(" ")[2].strip()
        secret = form.fields.get("callback_secret") or (key_digest(bearer) if bearer else "")
        if not secret:
            raise UsageError("a callback from a browser session needs a callback_secret to sign it with")
        payload.update(callback_url=callback_url, callback_secret=secret)
    dedup = hashlib.sha256(json.dumps({"sha256": upload.sha256, "options": options, "models": service.models_fingerprint,
                                       "reference": payload.get("reference_sha256")}, sort_keys=True).encode())
    submitted = await run_in_threadpool(
        service.stores.jobs.submit, SCAN, json.dumps(payload), dedup_key=dedup.hexdigest(),
        idempotency_key=idempotency_key, owner=key.name, max_attempts=service.config.max_attempts)  # fmt: skip
    job = submitted.job
    if not submitted.created and job.finished and callback_url:
        service.callbacks.send(callback_url, payload["callback_secret"], {"id": job.id, "state": _state(job)})
    body = ScanAccepted(id=job.id, state=_state(job), from_cache=not submitted.created)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": f"/v1/scans/{job.id}"})


def _check_uploads(path, reference_path, options: dict) -> None:
    """The CLI's open-and-check step before queueing, so bad media is refused now (422/415/413), not later. Packets
    only: decoding every frame is the scan's work."""
    from dflab.config import Limits
    from dflab.media.check import check_media

    limits = Limits(allow_partial=bool(options.get("allow_partial")))
    check_media(path, limits, decode=False)
    if reference_path is not None:
        check_media(reference_path, limits, decode=False)


@router.get("/v1/scans/{scan_id}", response_model=Scan, responses=ERRORS, summary="A scan's state and result")
def get_scan(scan_id: str, request: Request, key: ApiKey = Depends(require_key)):
    return JSONResponse(scan_document(_job(request, scan_id)))


@router.get("/v1/scans", response_model=ScanPage, responses=ERRORS, summary="Your scans, newest first")
def list_scans(request: Request, cursor: str | None = None, limit: int = Query(20, ge=1, le=100),
               key: ApiKey = Depends(require_key)):  # fmt: skip
    page = service_of(request).stores.jobs.list(limit=limit, cursor=cursor, owner=key.name)
    return JSONResponse({"scans": [scan_document(j, with_result=False) for j in page.jobs if j.kind == SCAN],
                         "next_cursor": page.next_cursor})  # fmt: skip


@router.get("/v1/scans/{scan_id}/report", responses={**ERRORS, 200: {"content": {"text/html": {}}}},
            summary="The HTML report of a finished scan")  # fmt: skip
def get_report(scan_id: str, request: Request, key: ApiKey = Depends(require_key)):
    job = _finished(request, scan_id)
    return FileResponse(artifact_dir(service_of(request).stores.reports_dir, job) / "report.html",
                        media_type="text/html")  # fmt: skip


@router.get("/v1/scans/{scan_id}/keyframes", response_model=list[KeyFrame], responses=ERRORS,
            summary="The key frames the report shows, most telling first")  # fmt: skip
def get_keyframes(scan_id: str, request: Request, key: ApiKey = Depends(require_key)):
    job = _finished(request, scan_id)
    listing = artifact_dir(service_of(request).stores.reports_dir, job) / "keyframes.json"
    frames = json.loads(listing.read_text()) if listing.is_file() else []
    return [{**f, "url": f"/v1/scans/{job.id}/keyframes/{f['index']}.jpg"} for f in frames]


@router.get("/v1/scans/{scan_id}/keyframes/{index}.jpg", responses={**ERRORS, 200: {"content": {"image/jpeg": {}}}},
            summary="One key frame")  # fmt: skip
def get_keyframe(scan_id: str, index: int, request: Request, key: ApiKey = Depends(require_key)):
    job = _finished(request, scan_id)
    path = artifact_dir(service_of(request).stores.reports_dir, job) / f"keyframe-{index}.jpg"
    if index < 0 or not path.is_file():
        raise NotFound(f"scan {scan_id} has no key frame {index}")
    return FileResponse(path, media_type="image/jpeg")


def _job(request: Request, scan_id: str) -> Job:
    job = service_of(request).stores.jobs.get(scan_id)
    if job is None or job.kind != SCAN:
        raise NotFound(f"no scan {scan_id}")
    return job


def _finished(request: Request, scan_id: str) -> Job:
    job = _job(request, scan_id)
    if job.state != "succeeded":
        raise NotFound(f"scan {scan_id} has no report: it is {_state(job)}")
    return job


def _state(job: Job) -> str:
    return "failed" if job.state == DEAD else job.state


def scan_document(job: Job, with_result: bool = True) -> dict:
    payload = json.loads(job.payload)
    done = job.state == "succeeded"
    result = json.loads(job.result) if (done and job.result) else None
    return {
        "id": job.id, "state": _state(job), "filename": payload.get("filename", ""), "created_at": job.created_at,
        "finished_at": job.finished_at, "attempts": job.attempts,
        "progress": {"stage": "done" if done else job.stage, "fraction": 1.0 if done else job.fraction},
        "verdict": result["verdict"] if result else None, "score": result["score"] if result else None,
        "result": result if with_result else None,
        "error": job.error if job.state in ("failed", DEAD) else None,
        "report_url": f"/v1/scans/{job.id}/report" if done else None,
        "keyframes_url": f"/v1/scans/{job.id}/keyframes" if done else None,
    }  # fmt: skip
