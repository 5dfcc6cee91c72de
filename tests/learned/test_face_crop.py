"""The learned face-crop detector: shipped weights, SBI pseudo-fakes, the train command, the detector contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dflab.cli.main import main
from dflab.detect.learned.face_crop import FaceCropDetector, sample_observations
from dflab.detect.learned.face_crop_model import cached_model, predict_proba, read_weights, shipped_weights_path
from dflab.errors import BadMedia, NotFound
from dflab.faces.types import FaceObservation, FaceTrack
from dflab.train import sbi
from dflab.train.face_crop_data import extract_crops

HELDOUT_CLIP = "liveportrait/assets/examples/driving/d0.mp4"  # never trained on (role heldout in the data list)
HELDOUT_PHOTO = "liveportrait/assets/examples/driving/d19.jpg"


@pytest.fixture(scope="module")
def real_faces(shared_data):
    clip = extract_crops(shared_data / HELDOUT_CLIP, frames=4)
    photo = extract_crops(shared_data / HELDOUT_PHOTO, frames=1)
    crops = np.concatenate([clip.crops, photo.crops])
    points = np.concatenate([clip.points, photo.points])
    assert len(crops) >= 4
    return crops, points


def test_shipped_weights_load_offline_from_the_package():
    path = shipped_weights_path()
    assert path.stat().st_size < 10 * 1024**2
    payload = read_weights(path)
    assert payload["meta"]["crop_size"] == 160 and payload["meta"]["files"]
    model, meta = cached_model()
    assert cached_model()[0] is model  # loaded once, then cached
    out = predict_proba(model, np.zeros((2, meta["crop_size"], meta["crop_size"], 3), np.uint8))
    assert out.shape == (2,) and np.all((out >= 0) & (out <= 1))


def test_loading_the_network_starts_no_torch_worker_thread_when_one_thread_was_asked_for():
    # The requested count is set before the first tensor operation: under torch's default count, loading the
    # weights started an OpenMP worker thread that stayed (and spun) though inference then ran on one thread.
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import os
        from dflab.threads import request_torch_threads
        request_torch_threads(1)
        import torch
        before = len(os.listdir("/proc/self/task"))
        from dflab.detect.learned.face_crop_model import cached_model
        cached_model()
        print(before, len(os.listdir("/proc/self/task")), torch.get_num_threads())
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    before, after, threads = map(int, done.stdout.split())
    assert threads == 1 and after == before


def test_self_blended_fakes_score_higher_than_their_real_faces(real_faces):
    crops, points = real_faces
    model, _ = cached_model()
    fakes = np.stack([sbi.self_blend(c, p, np.random.default_rng(i))[0] for i, (c, p) in enumerate(zip(crops, points))])
    real_p, fake_p = predict_proba(model, crops), predict_proba(model, fakes)
    assert fake_p.mean() > real_p.mean() + 0.1, (real_p, fake_p)
    assert (fake_p > real_p).mean() >= 0.6


def test_self_blend_changes_only_the_masked_face(real_faces):
    crops, points = real_faces
    fake, mask = sbi.self_blend(crops[0], points[0], np.random.default_rng(1))
    diff = np.abs(fake.astype(int) - crops[0].astype(int)).sum(-1)
    assert fake.shape == crops[0].shape and fake.dtype == np.uint8
    assert 0 < mask.max() <= 1.0 and mask[0, 0] == 0.0  # the corner is background
    assert diff[mask < 1e-3].max() == 0  # outside the mask: untouched pixels
    assert diff[mask > 0.5 * mask.max()].mean() > 1.0


@pytest.mark.parametrize("variant", sbi.MASK_VARIANTS)
def test_every_mask_variant_covers_part_of_the_face_only(real_faces, variant):
    crops, points = real_faces
    h, w = crops[0].shape[:2]
    oval = sbi.hull_mask(points[0], (h, w), "oval")
    for seed in range(3):
        mask = sbi.hull_mask(points[0], (h, w), variant, np.random.default_rng(seed))
        assert mask.sum() > 0.02 * oval.sum()  # never empty (the components are grown, not lost)
        ys, xs = np.nonzero(mask)
        oy, ox = np.nonzero(oval)
        assert xs.min() >= ox.min() - 0.15 * w and xs.max() <= ox.max() + 0.15 * w  # around the face, not the frame
        soft = sbi.random_soft_mask(points[0], (h, w), np.random.default_rng(seed), variant)
        assert 0 < soft.max() <= 1.0 and soft[0, 0] == 0.0


def test_self_blend_pair_real_matches_fake_outside_the_mask(real_faces):
    crops, points = real_faces
    changed_target = 0
    for seed in range(8):
        real, fake, mask = sbi.self_blend_pair(crops[1], points[1], np.random.default_rng(seed))
        outside = mask < 1e-3
        assert np.array_equal(real[outside], fake[outside])  # the only difference is inside the blend
        changed_target += int(not np.array_equal(real, crops[1]))
    assert 0 < changed_target < 8  # the source-target augmentation goes to either side


def test_pair_augmentation_is_shared_so_compression_is_no_cue(real_faces):
    from dflab.train.face_crop_train import apply_augmentation, sample_augmentation

    crops, _ = real_faces
    rng = np.random.default_rng(5)
    augs = [sample_augmentation(rng) for _ in range(40)]
    assert any(a["jpeg"] for a in augs) and any(a["jpeg"] is None for a in augs)
    for aug in augs[:6]:
        first, second = apply_augmentation(crops[0], aug), apply_augmentation(crops[0].copy(), aug)
        assert np.array_equal(first, second) and first.shape == crops[0].shape


def test_learning_rate_schedule_warms_up_then_decays_to_the_floor():
    from dflab.train.face_crop_train import lr_factor

    values = [lr_factor(x / 100) for x in range(101)]
    peak = int(np.argmax(values))
    assert values[0] < 0.1 and values[peak] == pytest.approx(1.0) and peak == 5
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1:]))
    assert values[-1] == pytest.approx(0.02)


def test_clips_are_sampled_at_a_rate(shared_data):
    from dflab.media import probe

    path = shared_data / HELDOUT_CLIP
    sampled = extract_crops(path, rate_fps=3.0)
    duration = float(probe(path)["duration"])
    assert 0.6 * 3.0 * duration <= len(sampled.crops) <= 3.0 * duration + 1
    assert np.all(np.diff(sampled.times) > 0.25)


def test_shipped_model_never_saw_the_test_files(shared_data):
    from dflab.train.face_crop_data import default_data_list

    meta = read_weights(shipped_weights_path())["meta"]
    trained = {f["path"] for f in meta["files"]}
    assert all(f["label"] == 0 for f in meta["files"])  # the SBI recipe: real faces only
    # The evaluation sets; the development-set sources (split "devset") are held out of the data list from now
    # on, but the shipped weights predate that split and trained on them (see the model card).
    held = [i for i in default_data_list(shared_data) if i.role == "heldout" and i.split != "devset"]
    assert any("ffpp/original" in str(i.path) for i in held) and any(i.split == "eval_faces" for i in held)
    assert not any(str(i.path.relative_to(shared_data)) in trained or str(i.path) in trained for i in held)


def test_xray_blend_takes_another_face(real_faces):
    crops, points = real_faces
    fake, mask = sbi.xray_blend(crops[0], points[0], crops[-1], np.random.default_rng(2))
    assert fake.shape == crops[0].shape and 0 < mask.max() <= 1.0
    assert np.abs(fake.astype(int) - crops[0].astype(int))[mask > 0.5 * mask.max()].mean() > 1.0


def test_train_command_tiny_preset_loss_falls(shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DFLAB_SHARED_DATA", str(shared_data))
    out = tmp_path / "tiny.pt"
    assert main(["train", "detector", "--preset", "tiny", "--out", str(out), "--json", "--threads", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    losses = summary["losses"]
    assert len(losses) == 5 and losses[-1] < losses[0]
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["command"].startswith("dflab train detector") and card["files"]
    # The trained file loads like the shipped one and the detector can use it.
    assert read_weights(out)["meta"]["preset"]["steps"] == 5
    # Refuses to overwrite without --overwrite: one line, exit 2, file untouched.
    before = out.read_bytes()
    assert main(["train", "detector", "--preset", "tiny", "--out", str(out)]) == 2
    assert out.read_bytes() == before


def test_train_command_rejects_bad_input(tmp_path, capsys):
    assert main(["train", "detector", "--out", str(tmp_path / "x.pt"), "--steps", "0"]) == 2
    bad = tmp_path / "m.csv"
    bad.write_text("path,label\nnope.mp4,real\n")
    assert main(["train", "detector", "--manifest", str(bad), "--out", str(tmp_path / "y.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_bad_weights_files_are_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(BadMedia):
        read_weights(junk)
    with pytest.raises(NotFound):
        read_weights(tmp_path / "missing.pt")


def _track(times):
    obs = [FaceObservation(i, t, (0, 0, 1, 1), np.zeros((478, 3))) for i, t in enumerate(times)]
    return FaceTrack(0, obs)


def test_sampling_spaces_and_caps_observations():
    track = _track(np.arange(0, 10, 0.04))  # 25 fps for 10 s
    chosen = sample_observations(track, rate_per_s=2.0, max_count=48)
    times = np.array([track.observations[i].time_s for i in chosen])
    assert len(chosen) == 20 and np.all(np.diff(times) >= 0.5 - 1e-6)
    capped = sample_observations(track, rate_per_s=2.0, max_count=5)
    assert len(capped) == 5 and capped[0] == 0 and capped[-1] == chosen[-1]
    assert sample_observations(_track([0.0]), 2.0, 5) == [0]


def test_detector_on_a_real_photo(shared_data):
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.evidence import Evidence
    from dflab.faces import analyse
    from dflab.media import load

    media = load(shared_data / HELDOUT_PHOTO)
    subject = AnalysedMedia(media, analyse(media))
    evidence = FaceCropDetector().detect(subject)
    assert isinstance(evidence, Evidence) and evidence.name == "face_crop"
    assert 0 <= evidence.score <= 1 and set(evidence.track_scores) == {t.track_id for t in subject.tracks}
    assert len(evidence.series["score"]) == len(evidence.times) == evidence.details["crops_scored"]
    # Grad-CAM of the key crop, warped back onto its frame: in [0, 1], and only around the face.
    frame_shape = subject.media.frames[evidence.heatmap_frame].rgb.shape[:2]
    heat = evidence.heatmap
    assert heat.shape == frame_shape and np.isfinite(heat).all() and 0 <= heat.min() and heat.max() <= 1
    x0, y0, x1, y1 = subject.tracks[0].observations[0].box
    w = x1 - x0
    far = np.ones(frame_shape, bool)
    far[max(0, int(y0 - 1.5 * w)) : int(y1 + 1.5 * w), max(0, int(x0 - 1.5 * w)) : int(x1 + 1.5 * w)] = False
    assert heat[far].max(initial=0.0) == 0.0  # (all zero when nothing in the face argues "fake")


def test_data_split_keeps_every_evaluation_set_out_of_training(shared_data):
    from collections import Counter

    from dflab.train.face_crop_data import default_data_list

    items = default_data_list(shared_data)
    train = [i for i in items if i.role == "train"]
    held = [i for i in items if i.role == "heldout"]
    # Training: faces/ reals of UTKFace, RMFD and Unsplash only, real faces only (the SBI recipe).
    assert {i.method for i in train} == {"utkface_crop_part1", "rmfd_kaggle_nomask_real", "hardfake_unsplash_real"}
    assert all(i.label == 0 for i in train) and len(train) > 2000
    # No person (group) on both sides; the development-set sources, FF++, LivePortrait and CIPLAB all held out.
    assert not {i.group for i in train} & {i.group for i in held}
    rel = [i.path.relative_to(shared_data).as_posix() for i in train]
    assert not any(p.startswith(("ffpp/", "liveportrait/", "face_recognition/", "dlib_faces/", "faces/ciplab"))
                   for p in rel)
    assert Counter(i.split for i in held if i.method.startswith("ciplab")) == Counter({"eval_faces": 600})
    # About a fifth of each training folder's people held out for false alarms.
    for folder in ("utkface_crop_part1", "rmfd_kaggle_nomask_real", "hardfake_unsplash_real"):
        n_held = sum(i.method == folder for i in held)
        share = n_held / (n_held + sum(i.method == folder for i in train))
        assert 0.12 < share < 0.3, (folder, share)
    # RMFD names its people: every photo of one person falls on the same side.
    rmfd = [i for i in items if i.method == "rmfd_kaggle_nomask_real" and i.group.count("/") == 1
            and not i.group.endswith(".jpg")]
    sides: dict[str, set] = {}
    for i in rmfd:
        sides.setdefault(i.group, set()).add(i.role)
    assert rmfd and all(len(s) == 1 for s in sides.values())


def test_warm_start_begins_from_the_given_weights(shared_data, tmp_path):
    import dataclasses

    import torch

    from dflab.train.face_crop_data import default_data_list
    from dflab.train.face_crop_train import PRESETS, train_detector

    preset = dataclasses.replace(PRESETS["tiny"], steps=1, lr=1e-7)
    result = train_detector(default_data_list(shared_data), tmp_path / "warm.pt", preset,
                            init_from=shipped_weights_path())
    assert result.meta["init_from"] == shipped_weights_path().name
    shipped = read_weights(shipped_weights_path())["state"]["_fc.weight"].float()
    warm = read_weights(result.weights)["state"]["_fc.weight"].float()
    assert torch.allclose(warm, shipped, atol=1e-3)  # one step at a tiny rate: still the given head
    cold = read_weights(train_detector(default_data_list(shared_data), tmp_path / "cold.pt", preset).weights)
    assert not torch.allclose(cold["state"]["_fc.weight"].float(), shipped, atol=1e-2)


def test_mix_preset_trains_the_shipped_sources_beside_the_faces_pictures(shared_data):
    from dflab.train.face_crop_data import default_data_list
    from dflab.train.face_crop_train import PRESETS, trained_items

    items = trained_items(default_data_list(shared_data), PRESETS["mix"])
    train = [i for i in items if i.role == "train"]
    held = [i for i in items if i.role == "heldout"]
    assert {i.split for i in train} == {"train", "devset"} and all(i.label == 0 for i in train)
    # Every file the shipped weights trained on is back in training, and nothing the evaluations use.
    shipped = {f["path"] for f in read_weights(shipped_weights_path())["meta"]["files"]}
    rel = {i.path.relative_to(shared_data).as_posix() for i in train}
    assert shipped <= rel
    assert {i.split for i in held} == {"eval_faces", "eval_ffpp", "eval_liveportrait"}
    assert not any(p.startswith(("ffpp/", "faces/ciplab")) or p.endswith(("/d0.mp4", "/d19.mp4", "/d19.jpg"))
                   for p in rel)
    assert not {i.group for i in train} & {i.group for i in held}
    # The other presets keep the data list as it is.
    assert trained_items(items[:5], PRESETS["faces"]) == items[:5]


def test_balanced_splits_draw_as_many_pairs_from_a_few_clips_as_from_many_pictures():
    from pathlib import Path

    from dflab.train.face_crop_data import CropSet, DataItem
    from dflab.train.face_crop_train import PRESETS, BatchMaker

    def crop_set(name: str, split: str, n: int) -> CropSet:
        item = DataItem(Path(name), 0, "real", name, "train", split)
        return CropSet(np.zeros((n, 8, 8, 3), np.uint8), np.zeros((n, 478, 2), np.float32), np.zeros(n), item)

    sets = [crop_set(f"clip{k}.mp4", "devset", 40) for k in range(3)]
    sets += [crop_set(f"photo{k}.jpg", "train", 1) for k in range(300)]
    pools = np.array([0] * 120 + [1] * 300)
    balanced = BatchMaker(sets, PRESETS["mix"], np.random.default_rng(0))
    assert balanced.real_weights[pools == 0].sum() == pytest.approx(0.5)
    draws = np.array([balanced._real_index() for _ in range(2000)])
    assert 0.45 < (draws < 120).mean() < 0.55
    # Without balancing the clips weigh sqrt(40) photos each: about 6 % of the draws.
    plain = BatchMaker(sets, PRESETS["faces"], np.random.default_rng(0))
    assert plain.real_weights[pools == 0].sum() == pytest.approx(3 * np.sqrt(40) / (3 * np.sqrt(40) + 300))


def test_h264_augmentation_is_shared_by_both_halves_and_compresses(real_faces):
    from dflab.train.face_crop_train import apply_augmentation, sample_augmentation

    crops, _ = real_faces
    rng = np.random.default_rng(1)
    assert all(sample_augmentation(rng)["h264"] is None for _ in range(20))  # only a preset that asks gets it
    augs = [sample_augmentation(rng, p_h264=1.0) for _ in range(4)]
    assert all(23 <= a["h264"] <= 35 for a in augs)
    for aug in augs:
        first, second = apply_augmentation(crops[0], aug), apply_augmentation(crops[0].copy(), aug)
        assert np.array_equal(first, second) and first.shape == crops[0].shape and first.dtype == np.uint8
    plain = dict(augs[0], h264=None, jpeg=None)
    coded = apply_augmentation(crops[0], dict(plain, h264=35))
    changed = np.abs(coded.astype(int) - apply_augmentation(crops[0], plain).astype(int)).mean()
    assert 0.3 < changed < 20  # lossy, yet still the same face
