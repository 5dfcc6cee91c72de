"""Jobs survive the server: SIGKILL `dflab serve` with scans queued and running, start it again, and every scan
completes exactly once (each sends its signed callback once, and a callback is sent only by the worker whose
`complete` the store accepted)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TOKEN = "a-test-token-for-the-durability-run"

pytest.importorskip("fastapi", reason="dflab serve needs fastapi (requirements.txt: make setup)")
httpx = pytest.importorskip("httpx", reason="the service tests need httpx (requirements.txt: make setup)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(home, port: int) -> subprocess.Popen:
    env = {**os.environ, "DFLAB_HOME": str(home), "DFLAB_TOKEN": TOKEN, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "dflab", "serve", "--port", str(port), "--workers", "1",
                             "--lease-s", "4"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    line = proc.stdout.readline()
    assert line.startswith(f"open http://127.0.0.1:{port}/?token="), line
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain, so the server never blocks on a pipe
    return proc


class _Hooks(BaseHTTPRequestHandler):
    calls: Counter = Counter()
    states: dict = {}

    def do_POST(self):  # noqa: N802
        doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls[doc["id"]] += 1
        type(self).states[doc["id"]] = doc["state"]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.slow
def test_sigkill_with_jobs_queued_and_running_then_restart(tmp_path, shared_data):
    pictures = [shared_data / "face_recognition" / "examples" / name
                for name in ("obama-480p.jpg", "biden.jpg", "obama2.jpg")]  # fmt: skip
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    _Hooks.calls, _Hooks.states = Counter(), {}
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    port = _free_port()
    server = _start(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        ids = []
        for path in pictures:
            with open(path, "rb") as handle:
                answer = httpx.post(f"{base}/v1/scans", headers=headers, files={"file": (path.name, handle)},
                                    data={"callback_url": f"http://127.0.0.1:{hooks.server_port}/done"}, timeout=60)  # fmt: skip
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill once the first scan is under way and the rest wait
            states = [httpx.get(f"{base}/v1/scans/{i}", headers=headers).json()["state"] for i in ids]
            if states[0] == "running" and states[1:] == ["queued", "queued"]:
                break
            time.sleep(0.1)
        assert states[0] == "running" and "queued" in states, states
        server.send_signal(signal.SIGKILL)
        server.wait(30)

        server = _start(tmp_path, port)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            docs = [httpx.get(f"{base}/v1/scans/{i}", headers=headers).json() for i in ids]
            if all(d["state"] in ("succeeded", "failed") for d in docs) and sum(_Hooks.calls.values()) >= len(ids):
                break
            time.sleep(0.5)
        time.sleep(1.0)  # a duplicate callback would arrive now
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        hooks.shutdown()
    assert [d["state"] for d in docs] == ["succeeded"] * len(ids), docs
    assert [d["result"]["path"] for d in docs] == [p.name for p in pictures]
    # the scan the kill interrupted ran again (more than twice only if a loaded machine starved its heartbeats)
    assert docs[0]["attempts"] >= 2
    assert _Hooks.calls == Counter({i: 1 for i in ids}), _Hooks.calls
    assert set(_Hooks.states.values()) == {"succeeded"}
