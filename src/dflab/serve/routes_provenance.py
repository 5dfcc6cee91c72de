"""POST /v1/verify, /v1/trace (public) and /v1/register, /v1/sign (need a key): one upload, one answer.

verify, trace and register answer with the CLI's `--json` documents (the uploaded file's name in place of its
path on this server); sign answers with the signed file itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from dflab.errors import UsageError
from dflab.serve.deps import public_caller, require_key, service_of
from dflab.serve.models import Problem, RegisterDocument, TraceDocument, VerifyDocument, multipart_body
from dflab.storage.api_keys import ApiKey

router = APIRouter(tags=["provenance"])
ERRORS = {code: {"model": Problem} for code in (401, 413, 415, 422, 429)}


async def _upload(request: Request) -> tuple[Path, str, dict[str, str]]:
    service = service_of(request)
    form = await service.uploads.receive(request, service.config.max_upload_bytes)
    upload = form.files.get("file")
    if upload is None:
        form.discard()
        raise UsageError("send the media in a multipart form field named file")
    for extra in form.files.values():
        if extra is not upload:
            extra.path.unlink(missing_ok=True)
    return service.uploads.keep(upload), upload.filename, form.fields


def _document(request: Request, document: dict) -> JSONResponse:
    return JSONResponse(json.loads(service_of(request).scrub(json.dumps(document))))


@router.post("/v1/verify", response_model=VerifyDocument, responses=ERRORS,
             summary="C2PA manifest, watermark, registry and ledger proof of a file (public)",
             openapi_extra=multipart_body())  # fmt: skip
async def verify_upload(request: Request, key: ApiKey | None = Depends(public_caller)):
    from dflab.provenance.facade import verify

    path, _, _ = await _upload(request)
    result = await run_in_threadpool(verify, path, lab=service_of(request).lab)
    return _document(request, result.to_json())


@router.post("/v1/trace", response_model=TraceDocument, responses=ERRORS,
             summary="The registered originals a file derives from, with time ranges (public)",
             openapi_extra=multipart_body(top="at most this many matches (1-50, default 5)"))  # fmt: skip
async def trace_upload(request: Request, key: ApiKey | None = Depends(public_caller)):
    from dflab.provenance.facade import trace

    path, _, fields = await _upload(request)
    top = fields.get("top") or "5"
    if not top.isdigit() or not 1 <= int(top) <= 50:
        raise UsageError(f"top must be a whole number from 1 to 50, got {top!r}")
    result = await run_in_threadpool(trace, path, lab=service_of(request).lab, top=int(top))
    return _document(request, result.to_json())


@router.post("/v1/register", response_model=RegisterDocument, responses=ERRORS,
             summary="Record a file in the ledger and the registry (needs a key)",
             openapi_extra=multipart_body())  # fmt: skip
async def register_upload(request: Request, key: ApiKey = Depends(require_key)):
    from dflab.provenance.facade import register

    path, _, _ = await _upload(request)
    result = await run_in_threadpool(register, path, lab=service_of(request).lab)
    return _document(request, result.to_json())


@router.post("/v1/sign", responses={**ERRORS, 200: {"content": {"application/octet-stream": {}}}},
             summary="A copy of the file with a signed C2PA manifest, logged in the ledger (needs a key)",
             openapi_extra=multipart_body(synthetic="true for generated media (trainedAlgorithmicMedia)"))  # fmt: skip
async def sign_upload(request: Request, key: ApiKey = Depends(require_key)):
    """Fields: `file`, and `synthetic=true` for generated media. The answer is the signed file; header
    `X-Dflab-Ledger-Record` names its ledger record."""
    from dflab.provenance.signing import sign_and_record

    service = service_of(request)
    path, filename, fields = await _upload(request)
    synthetic = fields.get("synthetic", "").lower() in ("1", "true", "yes", "on")
    out_dir = service.uploads.tmp / f"sign-{path.parent.name[:16]}-{id(request)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / filename
    try:
        summary = await run_in_threadpool(sign_and_record, path, out, synthetic, lab=service.lab)
    except BaseException:
        _remove(out_dir)
        raise
    record = (summary.get("ledger") or {}).get("record")
    headers = {"X-Dflab-Ledger-Record": str(record)} if record is not None else {}
    return FileResponse(out, filename=filename, headers=headers, media_type="application/octet-stream",
                        background=BackgroundTask(_remove, out_dir))  # fmt: skip


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
