"""Response types of the REST API (they make /openapi.json). Documents the CLI also prints (scan results,
verify, trace, register, ledger) keep every key they have: their models name the main fields and allow the
rest, and the routes return the documents as they are."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ScanState = Literal["queued", "running", "succeeded", "failed"]


class Progress(BaseModel):
    stage: str | None = Field(None, description="what the worker is doing")
    fraction: float = Field(0.0, ge=0.0, le=1.0)


class ScanAccepted(BaseModel):
    id: str
    state: ScanState
    from_cache: bool = Field(False, description="an earlier scan of the same bytes, options and models answered")


class ScanDocument(BaseModel):
    """Exactly the `dflab scan --json` document, with the uploaded file's name as `path`."""

    model_config = ConfigDict(extra="allow")
    schema_version: int | str | None = None
    path: str
    media_type: str
    score: float
    verdict: str
    summary: str


class Scan(BaseModel):
    id: str
    state: ScanState
    filename: str
    created_at: float
    finished_at: float | None = None
    attempts: int
    progress: Progress
    verdict: str | None = Field(None, description="the result's verdict, once it succeeded")
    score: float | None = None
    result: ScanDocument | None = None
    error: str | None = None
    report_url: str | None = None
    keyframes_url: str | None = None


class ScanPage(BaseModel):
    scans: list[Scan]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next (older) page")


class KeyFrame(BaseModel):
    index: int
    time_s: float
    width: int
    height: int
    url: str


class VerifyDocument(BaseModel):
    """Exactly the `dflab verify --json` document."""

    model_config = ConfigDict(extra="allow")
    path: str
    media_type: str
    verdict: str
    synthetic: bool | None = None
    summary: str
    problems: list[str]
    c2pa: dict[str, Any]
    watermark: dict[str, Any]
    registry: dict[str, Any]
    ledger: dict[str, Any]


class TraceDocument(BaseModel):
    """Exactly the `dflab trace --json` document."""

    model_config = ConfigDict(extra="allow")
    path: str
    media_type: str
    sha256: str
    frames: int
    threshold: int
    matches: list[dict[str, Any]]


class RegisterDocument(BaseModel):
    """Exactly the `dflab register --json` document."""

    model_config = ConfigDict(extra="allow")
    record: int
    path: str
    media_type: str
    sha256: str
    hashes: int
    existing: bool


class Checkpoint(BaseModel):
    """The `dflab ledger checkpoint --json` document."""

    tree_size: int
    root: str
    checkpoint: str
    verifier_key: str


class Entry(BaseModel):
    """The `dflab ledger show --json` document."""

    record_id: int
    leaf_hash: str
    record: dict[str, Any]


class InclusionProof(BaseModel):
    """The `dflab ledger prove --json` document; `checkpoint` is null for a tree size no checkpoint signed."""

    model_config = ConfigDict(extra="allow")
    type: str
    origin: str
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]
    root: str
    checkpoint: str | None


class ConsistencyProof(BaseModel):
    """The `dflab ledger consistency --json` document."""

    model_config = ConfigDict(extra="allow")
    old_size: int
    new_size: int
    proof: list[str]


class Health(BaseModel):
    status: str
    detail: dict[str, Any] = {}


class Problem(BaseModel):
    """application/problem+json (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def multipart_body(**fields: str) -> dict:
    """The OpenAPI request body of an upload route (the routes parse the stream themselves, see uploads.py):
    `file` is required; each keyword is another form field and its description (a name ending in _file is a
    file)."""
    properties = {"file": {"type": "string", "format": "binary", "description": "the media"}}
    for name, description in fields.items():
        if name.endswith("_file"):
            properties[name[: -len("_file")]] = {"type": "string", "format": "binary", "description": description}
        else:
            properties[name] = {"type": "string", "description": description}
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
