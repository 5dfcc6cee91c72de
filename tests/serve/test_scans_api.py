"""POST/GET /v1/scans on real media: the result is the CLI's document, the cache, idempotency, reports, errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from dflab.serve.callbacks import SIGNATURE_HEADER, verify_signature
from dflab.storage.api_keys import key_digest

pytest.importorskip("fastapi", reason="dflab serve needs fastapi (requirements.txt: make setup)")
pytest.importorskip("httpx", reason="the service tests need httpx (requirements.txt: make setup)")


def _comparable(doc: dict) -> dict:
    """A scan document without what differs from run to run (timings)."""
    return {k: v for k, v in doc.items() if k != "timings"}


def test_scan_result_is_the_cli_document_with_the_uploaded_name(served, scanner, picture, upload, wait_for):
    client, service = served
    answer = upload(client, "/v1/scans", picture, name="holiday photo.jpg")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["state"] == "queued" and body["from_cache"] is False
    assert answer.headers["location"] == f"/v1/scans/{body['id']}"

    done = wait_for(client, body["id"])
    assert done["state"] == "succeeded", done
    assert done["progress"] == {"stage": "done", "fraction": 1.0} and done["error"] is None
    result = done["result"]
    assert result["path"] == "holiday photo.jpg"
    expected = json.loads(json.dumps(scanner.scan(picture).to_json()))  # what `dflab scan --json` prints
    expected["path"] = "holiday photo.jpg"
    assert _comparable(result) == _comparable(expected)
    assert done["verdict"] == expected["verdict"] and done["score"] == expected["score"]
    assert str(service.stores.root) not in json.dumps(done)

    report = client.get(done["report_url"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "holiday photo.jpg" in report.text and str(service.stores.root) not in report.text
    frames = client.get(done["keyframes_url"]).json()
    assert frames and frames[0]["url"].endswith("/keyframes/0.jpg")
    picture_bytes = client.get(frames[0]["url"])
    assert picture_bytes.status_code == 200 and picture_bytes.content[:3] == b"\xff\xd8\xff"

    listed = client.get("/v1/scans").json()
    assert [s["id"] for s in listed["scans"]] == [body["id"]] and listed["scans"][0]["result"] is None
    assert listed["scans"][0]["verdict"] == expected["verdict"]


def test_same_bytes_and_options_answer_from_the_cache(served, picture, upload, wait_for):
    client, _ = served
    first = upload(client, "/v1/scans", picture).json()
    again = upload(client, "/v1/scans", picture, name="renamed.jpg").json()
    assert again == {"id": first["id"], "state": again["state"], "from_cache": True}
    other_options = upload(client, "/v1/scans", picture, operating_point="strict").json()
    assert other_options["id"] != first["id"] and other_options["from_cache"] is False
    same_options = upload(client, "/v1/scans", picture, operating_point="0.005,0.01").json()
    assert same_options["id"] == other_options["id"]  # the preset and its two rates are one request
    finished = wait_for(client, other_options["id"])
    assert finished["result"]["operating_point"] == {"manipulated_fpr": 0.005, "suspicious_fpr": 0.01}
    cached = upload(client, "/v1/scans", picture, operating_point="strict").json()
    assert cached == {"id": other_options["id"], "state": "succeeded", "from_cache": True}


def test_idempotency_key_returns_the_first_request(served, picture, other_picture, upload):
    client, _ = served
    with open(picture, "rb") as a:
        first = client.post("/v1/scans", files={"file": ("a.jpg", a)}, headers={"Idempotency-Key": "req-7"}).json()
    with open(other_picture, "rb") as b:
        retry = client.post("/v1/scans", files={"file": ("b.jpg", b)}, headers={"Idempotency-Key": "req-7"}).json()
    assert retry["id"] == first["id"] and retry["from_cache"] is True


def test_bad_media_is_refused_with_the_cli_message(served, picture, tmp_path, upload):
    client, service = served
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(picture.read_bytes()[: picture.stat().st_size // 2])
    answer = upload(client, "/v1/scans", cut)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422 and "truncated" in problem["detail"]
    assert problem["detail"].startswith("cut.jpg") and str(service.stores.root) not in problem["detail"]

    text = tmp_path / "notes.txt"
    text.write_text("not a picture at all\n" * 20)
    answer = upload(client, "/v1/scans", text)
    assert answer.status_code in (415, 422) and answer.headers["content-type"] == "application/problem+json"
    assert "notes.txt" in answer.json()["detail"] and "Traceback" not in answer.text

    gif = tmp_path / "anim.gif"
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(gif)
    assert upload(client, "/v1/scans", gif).status_code == 415

    assert client.post("/v1/scans", data={"operating_point": "strict"}).status_code == 422
    bad_option = upload(client, "/v1/scans", picture, operating_point="reckless")
    assert bad_option.status_code == 422 and "operating-point" in bad_option.json()["detail"]


def test_unknown_scan_is_404_problem(served):
    client, _ = served
    answer = client.get("/v1/scans/0123456789abcdef")
    assert answer.status_code == 404 and answer.json()["title"] == "Not found"
    assert client.get("/v1/scans/0123456789abcdef/report").status_code == 404


def test_a_failed_scan_says_why(served, tmp_path, picture, upload, wait_for):
    client, _ = served
    # A video container holding only sound passes the upload check (it is media) and fails in the scan.
    import av
    import numpy as np

    sound = tmp_path / "voice-only.mp4"
    with av.open(str(sound), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        stream.layout = "mono"
        samples = (np.sin(np.arange(16000 * 2) * 0.05) * 0.3).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    body = upload(client, "/v1/scans", sound).json()
    done = wait_for(client, body["id"])
    assert done["state"] == "failed" and "voice-only.mp4" in done["error"] and "only an audio stream" in done["error"]
    assert done["result"] is None and done["report_url"] is None


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, self.headers[SIGNATURE_HEADER]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_callback_is_signed_with_the_callers_key(served, picture, upload, wait_for):
    client, service = served
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_port}/hook"
        body = upload(client, "/v1/scans", picture, callback_url=url, max_faces="2").json()
        wait_for(client, body["id"])
        for _ in range(100):
            if _Receiver.received:
                break
            threading.Event().wait(0.1)
    finally:
        receiver.shutdown()
    raw, signature = _Receiver.received[0]
    assert json.loads(raw) == {"id": body["id"], "state": "succeeded"}
    assert verify_signature(key_digest(service.ui_token), raw, signature)
    assert not verify_signature("another secret", raw, signature)
    bad = upload(client, "/v1/scans", picture, callback_url="file:///etc/passwd")
    assert bad.status_code == 422
