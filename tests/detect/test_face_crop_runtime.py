"""The face-crop network through its ONNX export: the probabilities and Grad-CAM of the torch network, made once
per weights file into the model cache, remade when damaged, and torch where no export can be written."""

from __future__ import annotations

import numpy as np

from dflab.detect.learned import face_crop_runtime
from dflab.detect.learned.face_crop_model import cached_model, grad_cam, predict_proba, shipped_weights_path
from dflab.detect.learned.face_crop_runtime import OnnxFaceCrop, TorchFaceCrop, export_path, load_network


def test_the_export_gives_the_torch_networks_probabilities_and_grad_cam(real_face_crops, tmp_path, monkeypatch):
    monkeypatch.setenv("DFLAB_CACHE_DIR", str(tmp_path))
    network = load_network(None, 1)
    assert isinstance(network, OnnxFaceCrop)
    assert export_path(shipped_weights_path()).parent == tmp_path
    model, meta = cached_model(None)
    assert network.meta == meta
    torch_probs = predict_proba(model, real_face_crops, 2)
    assert np.allclose(network.probabilities(real_face_crops, 2), torch_probs, atol=1e-5)
    assert torch_probs.std() > 1e-3  # five different faces, not one constant
    # The closed form of the export (no backward pass) is Grad-CAM of this head: the same map. An unedited face
    # has no positive evidence anywhere (an all-zero map); one with a brightened patch with hard edges has some.
    patched = real_face_crops[0].copy()
    patched[45:125, 40:120] = np.clip(patched[45:125, 40:120] * 1.15 + 12, 0, 255).astype(np.uint8)
    for crop in (real_face_crops[0], patched):
        cam = network.grad_cam(crop)
        assert cam.shape == crop.shape[:2]
        assert np.allclose(cam, grad_cam(model, crop), atol=1e-4)
    assert network.grad_cam(patched).max() > 0.99 and network.grad_cam(real_face_crops[0]).max() == 0


def test_a_later_process_opens_the_export_and_a_damaged_one_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setenv("DFLAB_CACHE_DIR", str(tmp_path))
    target = export_path(shipped_weights_path())
    load_network(None, 1)
    made = target.stat().st_mtime_ns
    monkeypatch.setattr(face_crop_runtime, "export", lambda *a: (_ for _ in ()).throw(AssertionError("exported")))
    assert isinstance(load_network(None, 1), OnnxFaceCrop)  # opened, not exported again
    assert target.stat().st_mtime_ns == made
    monkeypatch.undo()
    monkeypatch.setenv("DFLAB_CACHE_DIR", str(tmp_path))
    target.write_bytes(b"not an onnx file")
    assert isinstance(load_network(None, 1), OnnxFaceCrop)
    assert target.stat().st_size > 1_000_000


def test_other_weights_get_their_own_export(tmp_path, monkeypatch):
    monkeypatch.setenv("DFLAB_CACHE_DIR", str(tmp_path))
    copy = tmp_path / "copy.pt"
    copy.write_bytes(shipped_weights_path().read_bytes() + b"\0")  # other bytes, so another name
    assert export_path(copy) != export_path(shipped_weights_path())


def test_torch_serves_when_the_cache_cannot_be_written(real_face_crops, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache path is a file, so nothing can be made under it")
    monkeypatch.setenv("DFLAB_CACHE_DIR", str(blocker / "cache"))
    network = load_network(None, 1)
    assert isinstance(network, TorchFaceCrop)
    model, _ = cached_model(None)
    assert np.array_equal(network.probabilities(real_face_crops, 2), predict_proba(model, real_face_crops, 2))
