"""Uploads: a multipart body streamed to disk under a size cap, then kept content-addressed.

Why not Starlette's `request.form()`: it spools every file to a temporary file with no limit before the handler
sees it, so a 1 GB upload would land on disk whole before it could be refused. Here the body is parsed as it
arrives (python-multipart's push parser), each file part is written and hashed chunk by chunk, and the request
is refused (LimitExceeded -> 413) the moment the body passes the cap. Nothing holds a whole file in memory.

Layout under the upload root (DFLAB_HOME/serve/uploads):
    tmp/                       parts being received (removed when the request ends)
    ab/abcdef...(sha256)/NAME  the bytes, under the name they were uploaded with; the same bytes uploaded under
                               another name are a hard link beside it, so paths keep the user's file name and
                               suffix (the scanner tells video by it) while the bytes are stored once.
Retention: `purge(older_than)` deletes content directories not used since then (every upload of the bytes
touches the directory).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from dflab.errors import LimitExceeded, UsageError

CHUNK = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024  # a non-file form field (options) is small
MAX_NAME_CHARS = 120
SHA_DIR = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class ReceivedFile:
    field: str
    filename: str  # made safe: a base name only
    path: Path  # the temporary file under tmp/
    sha256: str
    size: int


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, ReceivedFile] = field(default_factory=dict)

    def discard(self) -> None:
        for received in self.files.values():
            received.path.unlink(missing_ok=True)


def safe_filename(name: str | None) -> str:
    """The base name of what the client sent, without directories, control characters or odd bytes."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    # Keep the name as the user knows it (commas, accents, brackets); replace only what cannot be a file name on
    # some system, or would be read as markup or a header (control characters, :*?"<>|).
    base = "".join("_" if (not c.isprintable() or c in ':*?"<>|') else c for c in base).strip(" .")
    if len(base) > MAX_NAME_CHARS:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[: MAX_NAME_CHARS - len(suffix) - 1] + "." + suffix) if dot and len(suffix) <= 8 else base[:MAX_NAME_CHARS]
    return base or "upload"


class UploadStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    # --- receiving -----------------------------------------------------------------------------------------

    async def receive(self, request, max_bytes: int) -> ReceivedForm:
        """Parse a multipart/form-data request body as it streams in. Raises LimitExceeded past `max_bytes`
        (the whole body), UsageError for a body that is not multipart form data."""
        from python_multipart.exceptions import MultipartParseError
        from python_multipart.multipart import MultipartParser, parse_options_header

        content_type, params = parse_options_header(request.headers.get("content-type"))
        if content_type != b"multipart/form-data" or b"boundary" not in params:
            raise UsageError("send the file as multipart/form-data (a form field named file)")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise LimitExceeded(_too_large(max_bytes))  # refused before a byte of the body is read
        state = _PartState(self.tmp)
        parser = MultipartParser(params[b"boundary"], state.callbacks())
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes:
                    raise LimitExceeded(_too_large(max_bytes))
                parser.write(chunk)
                if state.problem:
                    raise UsageError(state.problem)
            parser.finalize()
        except MultipartParseError as exc:
            state.close_current()
            state.form.discard()
            raise UsageError(f"the multipart body is malformed: {exc}") from None
        except BaseException:
            state.close_current()
            state.form.discard()
            raise
        state.close_current()
        return state.form

    # --- keeping -------------------------------------------------------------------------------------------

    def keep(self, received: ReceivedFile) -> Path:
        """Move a received file into the content store; returns its path (the user's name, content-addressed)."""
        folder = self.root / received.sha256[:2] / received.sha256
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / received.filename
        if target.exists():
            received.path.unlink(missing_ok=True)
        else:
            existing = next((p for p in folder.iterdir() if p.is_file()), None)
            if existing is not None:
                try:
                    os.link(existing, target)  # the same bytes under a second name: stored once
                    received.path.unlink(missing_ok=True)
                except OSError:
                    os.replace(received.path, target)
            else:
                os.replace(received.path, target)
        now = time.time()
        os.utime(folder, (now, now))  # retention counts from the last upload of these bytes
        return target

    def display_name(self, text: str) -> str:
        """`text` with every upload path in it replaced by the file's uploaded name (results name no server path)."""
        prefix = re.escape(str(self.root)) + r"/[0-9a-f]{2}/[0-9a-f]{64}/"
        return re.sub(prefix, "", text)

    def purge(self, older_than: float, keep: set[str] = frozenset()) -> int:
        """Delete content not uploaded since `older_than` (epoch seconds), except the sha256s in `keep` (files
        that queued or running jobs still need). Returns how many were deleted."""
        removed = 0
        for shard in self.root.iterdir():
            if not shard.is_dir() or shard.name == "tmp":
                continue
            for folder in shard.iterdir():
                if SHA_DIR.match(folder.name) and folder.name not in keep and folder.stat().st_mtime < older_than:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
        for stale in self.tmp.iterdir():  # parts of requests cut off by a crash
            if stale.stat().st_mtime < time.time() - 24 * 3600:
                stale.unlink(missing_ok=True)
        return removed


def _too_large(max_bytes: int) -> str:
    return f"the upload is larger than this server's limit of {max_bytes // (1024 * 1024)} MB"


class _PartState:
    """Collects the parser's callbacks into fields and files (one part at a time)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.form = ReceivedForm()
        self.problem: str | None = None
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._filename: str | None = None
        self._buffer = bytearray()
        self._file = None
        self._hash = None
        self._size = 0
        self._path: Path | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }  # fmt: skip

    def _part_begin(self) -> None:
        self._headers, self._buffer, self._size = {}, bytearray(), 0

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field, self._header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        self._filename = None if raw_filename is None else raw_filename.decode("utf-8", "replace")
        if self._filename is not None:
            fd, name = tempfile.mkstemp(dir=self.tmp, prefix="part-")
            self._file, self._path, self._hash = os.fdopen(fd, "wb"), Path(name), hashlib.sha256()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        self._size += len(piece)
        if self._file is not None:
            self._file.write(piece)
            self._hash.update(piece)
        elif self._size > MAX_FIELD_BYTES:
            self.problem = f"form field {self._name!r} is larger than {MAX_FIELD_BYTES} bytes"
        else:
            self._buffer += piece

    def _part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            if self._name in self.form.files:
                self._path.unlink(missing_ok=True)
                self.problem = f"more than one file in form field {self._name!r}"
                return
            self.form.files[self._name] = ReceivedFile(self._name, safe_filename(self._filename), self._path,
                                                       self._hash.hexdigest(), self._size)  # fmt: skip
        else:
            self.form.fields[self._name] = bytes(self._buffer).decode("utf-8", "replace")

    def close_current(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            if self._path is not None:
                self._path.unlink(missing_ok=True)
