"""`dflab scan` starts a video scan's model children before its own imports (cli/early_children.py): only when the
command line says the scan will ask for them, with exactly the command lines the scan would use, and none is left
running when the command ends."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import dflab.worker_process as worker_process
from dflab.cli import early_children
from dflab.cli.early_children import planned_children


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
    """Empty files named as each kind of media (planned_children reads names only, and whether they exist)."""
    names = {"video": "clip.mp4", "picture": "photo.jpg", "audio": "voice.wav"}
    for name in names.values():
        (tmp_path / name).write_bytes(b"")
    return {kind: str(tmp_path / name) for kind, name in names.items()}


def test_a_video_scan_plans_both_children(files):
    assert planned_children(["scan", files["video"]]) == ["embeddings", "face_crop"]
    assert planned_children(["scan", "--json", "--report", "out", "--max-faces=2", files["video"]]) == [
        "embeddings", "face_crop"]  # fmt: skip


def test_detectors_choose_the_children(files):
    video = files["video"]
    assert planned_children(["scan", "--detectors", "blink,speed", video]) == []
    assert planned_children(["scan", "--detectors", "face_crop", video]) == ["face_crop"]
    assert planned_children(["scan", "--detectors=identity_drift, blink", video]) == ["embeddings"]
    assert planned_children(["scan", video, "--detectors", "face_crop,identity_drift"]) == ["embeddings", "face_crop"]


def test_no_children_for_other_media_or_commands(files, tmp_path):
    assert planned_children(["scan", files["picture"]]) == []
    assert planned_children(["scan", files["audio"], files["video"]]) == []  # only the first scan uses children
    assert planned_children(["scan", str(tmp_path / "missing.mp4")]) == []
    assert planned_children(["scan", "--list-detectors"]) == []
    assert planned_children(["scan", "--help", files["video"]]) == []
    assert planned_children(["scan"]) == []
    assert planned_children(["verify", files["video"]]) == []
    assert planned_children([]) == []


def test_the_value_options_are_the_scan_commands():
    from dflab.cli.main import build_parser

    parser = build_parser()
    scan = parser._subparsers._group_actions[0].choices["scan"]
    taking_a_value = {option for action in scan._actions if action.nargs != 0 for option in action.option_strings}
    assert taking_a_value == early_children.SCAN_VALUE_OPTIONS


def test_the_early_command_lines_are_the_scans(monkeypatch):
    from dflab import threads
    from dflab.detect.learned.face_crop_process import worker_command as face_crop_command
    from dflab.detect.scanner import DEFAULT_TORCH_THREADS
    from dflab.faces.embedding_process import worker_command as embedding_command
    from dflab.worker_commands import embedding_worker_command, face_crop_worker_command

    assert early_children.SCANNER_TORCH_THREADS == DEFAULT_TORCH_THREADS
    monkeypatch.setattr(threads, "_requested", DEFAULT_TORCH_THREADS)  # what a Scanner asks for before it scans
    assert face_crop_command(None) == face_crop_worker_command(early_children.FACE_CROP_WORKER_MODULE, None,
                                                               early_children.SCANNER_TORCH_THREADS)
    assert embedding_command() == embedding_worker_command()


def test_a_child_nobody_takes_is_killed():
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    worker_process.start_early(sleeper, "a sleeper")
    worker_process.start_early([*sleeper, "other"], "another sleeper")
    taken = worker_process.take_early([*sleeper, "other"])
    assert taken is not None and taken.what == "another sleeper"
    assert worker_process.take_early([*sleeper, "other"]) is None  # taken once
    (left,) = list(worker_process._early)
    worker_process.close_unclaimed()
    assert left._child.poll() is not None and worker_process._early == []
    assert taken._child.poll() is None  # the taker's to close
    taken.close()


def test_a_video_scan_takes_both_early_children(shared_data, monkeypatch, capsys):
    from dflab.cli.main import main

    taken = []
    original = worker_process.take_early

    def spy(command):
        process = original(command)
        taken.append(process is not None)
        return process

    monkeypatch.setattr(worker_process, "take_early", spy)  # what both children's claim_or_start calls
    clip = shared_data / "liveportrait/assets/examples/driving/d0.mp4"
    assert main(["scan", str(clip), "--json", "--quiet"]) == 0
    assert taken == [True, True]
    assert worker_process._early == []
    assert '"verdict"' in capsys.readouterr().out


def test_an_image_scan_starts_no_child(shared_data, monkeypatch, capsys):
    from dflab.cli.main import main

    started = []
    monkeypatch.setattr(worker_process, "start_early", lambda command, what: started.append(what))
    picture = sorted((shared_data / "cnndetection" / "crops").glob("*_real.png"))[0]
    assert main(["scan", str(picture), "--json", "--quiet", "--detectors", "face_crop"]) == 0
    assert started == []
    assert Path(picture).suffix == ".png"


def test_a_child_runs_nicer_than_its_scan():
    import os

    from dflab.worker_protocol import CHILD_NICENESS

    # A child that answers every request with its own niceness, through the same serving loop as the model children.
    script = "import os, sys; from dflab.worker_protocol import child_main; " \
             "sys.exit(child_main(lambda: lambda payload: str(os.nice(0)).encode()))"  # fmt: skip
    src = str(Path(__file__).resolve().parents[2] / "src")
    env_path = os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])
    command = ["env", f"PYTHONPATH={env_path}", sys.executable, "-c", script]
    with worker_process.WorkerProcess(command, "a niceness reporter") as child:
        niceness = int(child.reply(child.request(b"?")))
    assert niceness == min(19, os.nice(0) + CHILD_NICENESS)
