"""The face-crop network in a child process: the same probabilities and Grad-CAM as in this process, and a child
that fails becomes one WorkerFailed error naming its reason."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dflab.detect.learned.face_crop_runtime import cached_network
from dflab.detect.learned.face_crop_process import FaceCropProcess
from dflab.errors import WorkerFailed


def test_the_child_gives_the_probabilities_and_grad_cam_of_this_process(real_face_crops):
    from dflab.threads import request_torch_threads

    request_torch_threads(1)  # what every Scanner asks for; the child is given the same count
    network = cached_network(None, 1)
    crops = real_face_crops
    with FaceCropProcess() as process:
        assert process.meta() == network.meta
        probs = process.probabilities(crops, batch_size=2)
        cam = process.grad_cam(crops[1])
    assert probs.dtype == np.float64 and probs.shape == (5,) and cam.shape == crops.shape[1:3]
    assert np.array_equal(probs, network.probabilities(crops, 2))
    assert np.array_equal(cam, network.grad_cam(crops[1]))


def test_a_failing_child_becomes_one_error_with_its_reason():
    failing = [sys.executable, "-c", "import sys; print('RuntimeError: no torch in this child', file=sys.stderr); "
               "sys.exit(1)"]  # fmt: skip
    with FaceCropProcess(command=failing) as process:
        with pytest.raises(WorkerFailed, match="face-crop network.*no torch in this child"):
            process.meta()


def test_an_error_inside_the_child_ends_it_with_one_line():
    with FaceCropProcess() as process:
        with pytest.raises(WorkerFailed, match="ValueError: unknown request"):
            process._worker.reply(process._worker.request(b"X"))


def test_scan_says_one_line_and_exits_2_when_the_network_child_fails(shared_data, monkeypatch, capsys):
    """The cue does not quietly become "could not run": the scan fails with the child's reason."""
    from dflab.cli.main import main
    from dflab.detect.learned import face_crop_process

    failing = [sys.executable, "-c", "import sys; print('RuntimeError: no torch in this child', file=sys.stderr); "
               "sys.exit(1)"]  # fmt: skip
    monkeypatch.setattr(face_crop_process, "worker_command", lambda weights: failing)
    clip = shared_data / "liveportrait/assets/examples/driving/d0.mp4"
    code = main(["scan", str(clip), "--json", "--detectors", "face_crop,blink"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "no torch in this child" in err and "Traceback" not in err
