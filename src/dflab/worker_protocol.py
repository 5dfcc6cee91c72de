"""The pipe protocol between a scan and a child process that runs one model for it (dflab/worker_process.py).

Both directions carry messages of a little-endian header (uint32 request id, uint32 payload length) and the
payload; the child answers each request, in order, with the same id. The child's side is `child_main`: it
reads requests from stdin until end of input (the parent closed the pipe, or died) and hands each payload to
`handle(payload) -> bytes`. Any failure is written to stderr as one line and the child exits with status 1, which
the parent reports as a WorkerFailed error. Nothing here imports more than the standard library.
"""

from __future__ import annotations

import os
import signal
import struct
import sys
from collections.abc import Callable

HEADER = struct.Struct("<II")  # request id, payload bytes


def read_message(source) -> tuple[int, bytes] | None:
    """The next (id, payload) from a binary stream; None at a clean end of input."""
    head = source.read(HEADER.size)
    if not head:
        return None
    if len(head) != HEADER.size:
        raise EOFError("a message header was cut short")
    request, size = HEADER.unpack(head)
    payload = source.read(size) if size else b""
    if len(payload) != size:
        raise EOFError("a message was cut short")
    return request, payload


def message(request: int, payload: bytes) -> bytes:
    return HEADER.pack(request, len(payload)) + payload


# A child runs this much nicer than its scan: its start-up (importing torch, loading a model) then takes the cores
# the scan's own threads leave idle rather than slowing the scan's imports and face loop, which every later stage
# waits for (docs/performance.md, "Children first"). Its models are needed only after the face stage.
CHILD_NICENESS = 5


def child_main(make_handler: Callable[[], Callable[[bytes], bytes]]) -> int:
    """Serve requests on stdin/stdout with the handler `make_handler()` builds (models load there); the exit status."""
    # Ctrl-C reaches the whole process group: the parent handles it and closes the pipe, which ends the loop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(CHILD_NICENESS)
    except OSError:  # not allowed here: run at the scan's own priority
        pass
    # The replies get the real stdout to themselves: whatever a library prints (from Python or C) goes to stderr.
    sink = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    source = sys.stdin.buffer
    try:
        handle = make_handler()
        while (request := read_message(source)) is not None:
            sink.write(message(request[0], handle(request[1])))
            sink.flush()
    except BaseException as exc:  # noqa: BLE001 - one line for the parent, which reports it
        print(f"{type(exc).__name__}: {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    return 0
