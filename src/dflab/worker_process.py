"""A child process that runs one model for a scan, so that work which holds the GIL runs beside the scan's threads.

A scan spends much of its time under the GIL (dlib's face descriptor holds it 60-90 ms a call; importing torch
and its modules holds it for about a second), so on two cores its threads take turns rather than run side by
side (docs/performance.md). A `WorkerProcess` is a fresh interpreter (`subprocess`: fork and exec at once, so
the parent's threads do not matter) started at the beginning of a scan: it loads its model while the file
decodes and answers requests through a pipe (dflab/worker_protocol.py).

`request(payload)` queues a message and returns its id at once (a sender thread writes it); `reply(id)` waits
for the answer (a reader thread collects them). A child that fails (a missing library, a crash, an error in its
model) or answers nothing for `no_reply_timeout_s` while a request waits becomes one WorkerFailed error, never a
hang. `close()` kills and reaps the child (what was asked of it has been answered or is no longer wanted); if
the parent dies first, the child's input closes and it ends by itself.

`start_early(command, what)` starts a child before anything asks for it (the `dflab scan` command does so before
its own imports, cli/early_children.py); `take_early(command)` hands it to the first that asks for exactly that
command line, and `close_unclaimed()` kills the ones nobody took.
"""

from __future__ import annotations

import queue
import subprocess
import tempfile
import threading
import time

from dflab.errors import WorkerFailed
from dflab.worker_protocol import message, read_message

NO_REPLY_TIMEOUT_S = 120.0  # a child that answers nothing for this long while a request waits is taken as hung
CLOSE_WAIT_S = 5.0  # the longest `close` waits for its threads, and a failing child for its exit status


class WorkerProcess:
    """A child running `command` that speaks dflab/worker_protocol.py; `what` names its work in error messages."""

    def __init__(self, command: list[str], what: str, no_reply_timeout_s: float = NO_REPLY_TIMEOUT_S) -> None:
        self.what = what
        self.command = list(command)
        self.no_reply_timeout_s = no_reply_timeout_s
        self._errors = tempfile.TemporaryFile()  # the child's one-line failure; a file never fills up and blocks it
        self._child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
                                       close_fds=True)  # fmt: skip
        self._sent = 0
        self._replies: dict[int, bytes] = {}
        self._failure: str | None = None
        self._changed = threading.Condition()
        self._outbox: queue.Queue = queue.Queue()
        self._sender = threading.Thread(target=self._send, name="dflab-worker-send", daemon=True)
        self._reader = threading.Thread(target=self._read, name="dflab-worker-read", daemon=True)
        self._sender.start()
        self._reader.start()

    def request(self, payload: bytes) -> int:
        """Queue a request; its id, for `reply`. Never blocks."""
        with self._changed:
            request = self._sent
            self._sent += 1
        self._outbox.put(message(request, payload))
        return request

    def reply(self, request: int) -> bytes:
        """The answer to `request`, once it has come. Raises WorkerFailed when the child has failed or has answered
        nothing for `no_reply_timeout_s` seconds."""
        with self._changed:
            answered, since = len(self._replies), time.monotonic()
            while request not in self._replies:
                if self._failure is not None:
                    raise WorkerFailed(f"{self.what}: the process that runs it failed ({self._failure})")
                self._changed.wait(timeout=0.25)
                if len(self._replies) != answered:
                    answered, since = len(self._replies), time.monotonic()
                elif time.monotonic() - since > self.no_reply_timeout_s:
                    self._child.kill()
                    raise WorkerFailed(f"{self.what}: the process that runs it stopped answering "
                                       f"({self.no_reply_timeout_s:g} s without a reply)")
            return self._replies.pop(request)

    def close(self) -> None:
        """Kill and reap the child. Safe to call more than once."""
        self._outbox.put(None)
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        self._sender.join(timeout=CLOSE_WAIT_S)
        self._reader.join(timeout=CLOSE_WAIT_S)
        for stream in (self._child.stdin, self._child.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._errors.close()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _send(self) -> None:
        stdin = self._child.stdin
        while (data := self._outbox.get()) is not None:
            try:
                stdin.write(data)
                stdin.flush()
            except (OSError, ValueError):  # a broken pipe: the child has gone, and the reader says why
                return
        try:
            stdin.close()  # end of input: the child's loop ends
        except OSError:
            pass

    def _read(self) -> None:
        stdout = self._child.stdout
        while True:
            try:
                answer = read_message(stdout)
            except (OSError, ValueError, EOFError):
                answer = None
            if answer is None:
                self._fail()
                return
            with self._changed:
                self._replies[answer[0]] = answer[1]
                self._changed.notify_all()

    def _fail(self) -> None:
        """Record why the child can answer no more: its own last line on stderr when it left one."""
        try:
            status = self._child.wait(timeout=CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            status = None
        said = ""
        try:
            self._errors.seek(0)
            lines = self._errors.read().decode("utf-8", "replace").strip().splitlines()
            said = lines[-1] if lines else ""
        except (OSError, ValueError):
            pass
        reason = said or (f"it exited with status {status}" if status is not None else "its output ended")
        with self._changed:
            if self._failure is None:
                self._failure = reason
            self._changed.notify_all()


_early_lock = threading.Lock()
_early: list[WorkerProcess] = []


def start_early(command: list[str], what: str) -> None:
    """Start a child now for a later `take_early(command)`. A child that cannot start is left out: whoever asks
    for it starts its own, and reports the failure then."""
    try:
        process = WorkerProcess(command, what)
    except OSError:
        return
    with _early_lock:
        _early.append(process)


def take_early(command: list[str]) -> WorkerProcess | None:
    """The child started early with exactly this command line, now the caller's to close; None when there is none."""
    with _early_lock:
        for process in _early:
            if process.command == list(command):
                _early.remove(process)
                return process
    return None


def claim_or_start(command: list[str], what: str, **options) -> WorkerProcess:
    """The child `dflab scan` started early with exactly this command line, else a new one. A caller with its own
    `options` (tests' timeouts) always gets a new one: the early child was started without them."""
    early = None if options else take_early(command)
    return early or WorkerProcess(command, what, **options)


def close_unclaimed() -> None:
    """Kill and reap every child started early that nobody took (a scan that did not need it, or an error first)."""
    with _early_lock:
        left = list(_early)
        _early.clear()
    for process in left:
        process.close()
