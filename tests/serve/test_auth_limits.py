"""Who may write, the session cookie, rate limits, upload caps, and the shape of every error."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from dflab.serve.config import ServeConfig

pytest.importorskip("fastapi", reason="dflab serve needs fastapi (requirements.txt: make setup)")
pytest.importorskip("httpx", reason="the service tests need httpx (requirements.txt: make setup)")


def test_writes_need_a_key_reads_of_public_material_do_not(served, picture, upload):
    client, _ = served
    anonymous = client.__class__(client.app)  # same app, no Authorization header
    answer = upload(anonymous, "/v1/scans", picture)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["content-type"] == "application/problem+json"
    assert upload(anonymous, "/v1/register", picture).status_code == 401
    assert anonymous.get("/v1/scans").status_code == 401
    bad_key = anonymous.post("/v1/scans", headers={"Authorization": "Bearer dfk_not-a-key-at-all-0000"})
    assert bad_key.status_code == 401 and "not valid" in bad_key.json()["detail"]
    verified = upload(anonymous, "/v1/verify", picture)
    assert verified.status_code == 200 and verified.json()["path"] == picture.name
    assert anonymous.get("/v1/log/checkpoint").status_code == 200
    assert anonymous.get("/healthz").json() == {"status": "ok", "detail": {}}


def test_token_link_sets_a_session_cookie_that_stops_with_the_key(served, picture, upload):
    client, service = served
    browser = client.__class__(client.app, follow_redirects=False)
    assert browser.get("/?token=dfk_wrong-token-000000000").status_code == 401
    opened = browser.get(f"/?token={service.ui_token}")
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    cookie = opened.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert service.ui_token not in cookie
    assert browser.get("/").status_code == 200
    assert upload(browser, "/v1/scans", picture).status_code == 202  # the cookie authorises writes
    service.stores.keys.revoke("web-ui")
    assert browser.get("/v1/scans").status_code == 401


def test_the_ui_token_is_kept_private_and_reused(tmp_path, scanner, make_client, monkeypatch):
    monkeypatch.delenv("DFLAB_TOKEN", raising=False)
    client, service = make_client(scanner, ServeConfig(workers=0), home=tmp_path)
    token_file = service.stores.token_file
    assert token_file.read_text().strip() == service.ui_token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    raw = b"".join(p.read_bytes() for p in service.stores.root.glob("service.sqlite*"))
    assert service.ui_token.encode() not in raw  # the store keeps a hash
    service.stores.close()
    _, again = make_client(scanner, ServeConfig(workers=0), home=tmp_path)
    assert again.ui_token == service.ui_token
    again.stores.close()
    monkeypatch.setenv("DFLAB_TOKEN", "a-token-from-the-environment-01")
    _, from_env = make_client(scanner, ServeConfig(workers=0), home=tmp_path)
    assert from_env.ui_token == "a-token-from-the-environment-01"
    assert from_env.stores.keys.verify(service.ui_token) is None  # the old web-ui key was replaced
    from_env.stores.close()


def test_rate_limit_answers_429_with_retry_after(scanner, make_client):
    from dflab.serve.auth import RateLimiter

    client, service = make_client(scanner, ServeConfig(workers=0, rate_per_minute=3))
    service.limiter = RateLimiter(3, clock=lambda: 0.0)  # time stands still: no refill between requests
    with client:
        headers = {"Authorization": f"Bearer {service.ui_token}"}
        codes = [client.get("/v1/scans", headers=headers).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/v1/scans", headers=headers)
        assert limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) >= 1
        other = service.stores.keys.create("second-desk")
        assert client.get("/v1/scans", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    service.stores.close()


def test_uploads_over_the_cap_are_refused_before_and_while_streaming(scanner, make_client, tmp_path):
    client, service = make_client(scanner, ServeConfig(workers=0, max_upload_mb=1))
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + os.urandom(3 * 1024 * 1024))
    with client:
        client.headers["Authorization"] = f"Bearer {service.ui_token}"
        with open(big, "rb") as handle:
            declared = client.post("/v1/scans", files={"file": ("big.jpg", handle)})
        assert declared.status_code == 413 and "1 MB" in declared.json()["detail"]

        boundary = "xyzBOUNDARY"

        def chunked():  # no Content-Length: the cap must hold while the body streams
            yield f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\r\n".encode()
            for _ in range(3):
                yield os.urandom(1024 * 1024)
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = client.post("/v1/scans", content=chunked(),
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert streamed.status_code == 413
    assert list(service.uploads.tmp.iterdir()) == []  # the partial part was removed
    service.stores.close()


def test_errors_are_problem_json_without_stack_traces(served):
    client, _ = served
    for answer in (client.get("/v1/nothing-here"), client.get("/v1/log/entries/99"),
                   client.get("/v1/log/consistency?first=zero"), client.put("/v1/scans"),
                   client.post("/v1/scans", content=b"plain", headers={"Content-Type": "text/plain"})):
        assert answer.headers["content-type"] == "application/problem+json", answer.text
        problem = answer.json()
        assert set(problem) >= {"type", "title", "status", "detail"} and problem["status"] == answer.status_code
        assert "Traceback" not in answer.text


def test_openapi_lists_every_group(served):
    client, _ = served
    spec = client.get("/openapi.json").json()
    for path in ("/v1/scans", "/v1/scans/{scan_id}", "/v1/scans/{scan_id}/report", "/v1/verify", "/v1/trace",
                 "/v1/register", "/v1/log/checkpoint", "/v1/log/entries/{index}", "/v1/log/entries/{index}/proof",
                 "/v1/log/consistency", "/healthz", "/readyz"):
        assert path in spec["paths"], path
    assert "Scan" in spec["components"]["schemas"] and "Problem" in spec["components"]["schemas"]
    upload_form = spec["paths"]["/v1/scans"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload_form["required"] == ["file"] and {"reference", "operating_point"} <= set(upload_form["properties"])
    assert client.get("/docs").status_code == 200


def test_readyz_turns_ready_once_the_models_are_loaded(served):
    client, service = served
    service.ready.wait(300)
    assert client.get("/readyz").json()["status"] == "ready"


def test_import_dflab_does_not_import_the_web_stack():
    code = "import sys, dflab, dflab.serve, dflab.storage.jobs; print(json.dumps(sorted(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert json.loads(out.stdout) == []


def test_api_key_cli_prints_the_key_once(capsys):
    from dflab.cli.main import main

    assert main(["api-key", "create", "newsroom", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["name"] == "newsroom" and made["key"].startswith("dfk_")
    assert main(["api-key", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["keys"]
    assert [k["name"] for k in listed] == ["newsroom"] and made["key"] not in json.dumps(listed)
    assert main(["api-key", "create", "newsroom"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["api-key", "revoke", "newsroom"]) == 0
    assert main(["api-key", "revoke", "newsroom"]) == 2


@pytest.mark.parametrize("argv", [["--port", "0"], ["--workers", "-1"], ["--max-upload-mb", "0"], ["--keep-days", "0"]])
def test_serve_refuses_bad_options_in_one_line(argv, capsys):
    from dflab.cli.main import main

    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dflab serve: error:") and err.count("\n") == 1


def test_serve_refuses_a_port_in_use_in_one_line(capsys):
    import socket

    from dflab.cli.main import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", "--port", str(taken.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dflab serve: error: cannot listen on 127.0.0.1:") and err.count("\n") == 1
