"""Fixtures for the web service: an app on a temporary home with one worker, and one Scanner for the session
(models load once). The web packages come from requirements.txt; without them the tests that need them skip and
say so (each such module calls pytest.importorskip)."""

from __future__ import annotations

import time

import pytest

NEEDS_WEB = "dflab serve needs fastapi and httpx (requirements.txt: make setup)"


@pytest.fixture(scope="session")
def scanner():
    from dflab.detect.scanner import Scanner

    return Scanner()


@pytest.fixture(scope="session")
def picture(shared_data):
    """A real photo with one face (LivePortrait's driving examples, public)."""
    return shared_data / "liveportrait" / "assets" / "examples" / "driving" / "d12.jpg"


@pytest.fixture(scope="session")
def other_picture(shared_data):
    return shared_data / "face_recognition" / "examples" / "obama-480p.jpg"


def _make_client(scanner, config=None, *, workers: int = 1, home=None):
    """A TestClient whose app runs its workers; use as a context manager. Returns (client, service)."""
    from fastapi.testclient import TestClient

    from dflab.config import LabConfig
    from dflab.lab import Lab
    from dflab.serve.app import build_service, create_app
    from dflab.serve.config import ServeConfig

    config = config or ServeConfig(workers=workers, poll_s=0.1)
    lab = Lab.from_config(LabConfig(home=home)) if home is not None else Lab.default()
    service = build_service(lab, config, scanner=scanner)
    return TestClient(create_app(lab, config, service=service)), service


@pytest.fixture
def served(scanner):
    client, service = _make_client(scanner)
    with client:
        client.headers["Authorization"] = f"Bearer {service.ui_token}"
        yield client, service
    service.stores.close()
    service.lab.close()


def _wait_for(client, scan_id: str, timeout_s: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = client.get(f"/v1/scans/{scan_id}").json()
        if doc["state"] in ("succeeded", "failed"):
            return doc
        time.sleep(0.2)
    raise AssertionError(f"scan {scan_id} did not finish in {timeout_s} s: {doc}")


def _upload(client, url: str, path, name: str | None = None, **fields):
    with open(path, "rb") as handle:
        return client.post(url, files={"file": (name or path.name, handle)}, data=fields)


@pytest.fixture
def make_client():
    return _make_client


@pytest.fixture
def wait_for():
    return _wait_for


@pytest.fixture
def upload():
    return _upload
