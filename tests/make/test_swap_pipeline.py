"""The maker end to end on real clips: extract, train (loss falls, resume continues), convert (frames, timing,
audio kept), disclosure on every output (verify + scan's watermark cue), GAN train/sample, and bad input -> exit 2.

Clips are the first ~1.3 s of liveportrait d6 and d9 re-encoded into tmp_path, so everything stays small.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dflab.cli.main import main

DRIVING = Path("liveportrait") / "assets" / "examples" / "driving"
N_FRAMES = 40


def _clip(src: Path, dst: Path, n: int = N_FRAMES) -> Path:
    from dflab.media import load, write_video
    from dflab.media.types import Audio

    media = load(src)
    frames = [f.rgb for f in media.frames[:n]]
    audio = None
    if media.audio is not None:
        samples = media.audio.samples[: int(n / media.fps * media.audio.sample_rate)]
        audio = Audio(samples, media.audio.sample_rate)
    return write_video(dst, frames, media.fps, audio)


@pytest.fixture(scope="module")
def work(shared_data, tmp_path_factory):
    """Two facesets, a tiny 64 px model trained 24 iterations (12 + resume 12), in one module-wide home."""
    import os

    from dflab.make.swap.extract import extract_faceset
    from dflab.make.swap.model import preset_config
    from dflab.make.swap.train import TrainConfig, train_swap

    root = tmp_path_factory.mktemp("maker")
    old_home = os.environ.get("DFLAB_HOME")
    os.environ["DFLAB_HOME"] = str(root / "home")
    clip_a = _clip(shared_data / DRIVING / "d6.mp4", root / "a.mp4")
    clip_b = _clip(shared_data / DRIVING / "d9.mp4", root / "b.mp4")
    fa = extract_faceset(clip_a, root / "fa", size=64)
    fb = extract_faceset(clip_b, root / "fb", size=64)
    cfg = TrainConfig(iterations=12, batch=8, lr=1e-3, warmup=1, save_every=0, preview_every=0)
    first = train_swap(root / "fa", root / "fb", root / "model", preset_config("tiny", 64), cfg, progress=False)
    cfg2 = TrainConfig(iterations=24, batch=8, lr=1e-3, warmup=1, save_every=0, preview_every=0)
    second = train_swap(root / "fa", root / "fb", root / "model", None, cfg2, resume=True, progress=False)
    yield {"root": root, "clip_a": clip_a, "clip_b": clip_b, "fa": fa, "fb": fb, "first": first, "second": second}
    if old_home is None:
        os.environ.pop("DFLAB_HOME", None)
    else:
        os.environ["DFLAB_HOME"] = old_home


@pytest.fixture
def home(work, monkeypatch):
    monkeypatch.setenv("DFLAB_HOME", str(work["root"] / "home"))
    return work


def test_extract_keeps_one_face_per_frame_with_landmarks_and_masks(home):
    from dflab.make.swap.faceset import read_faceset

    fs = read_faceset(home["root"] / "fa")
    assert home["fa"]["faces"] == len(fs) >= N_FRAMES - 4
    assert fs.faces.shape[1:] == (64, 64, 3) and fs.landmarks.shape[1:] == (478, 2)
    assert 0.2 < float(fs.masks.mean()) < 0.8  # a face oval, not an empty or full mask
    assert np.all(np.diff(fs.frame_indices) > 0) and fs.frame_indices[0] < 5
    # Eyes land on the template: the aligned landmark eye centres agree across frames within a few pixels.
    eyes = fs.landmarks[:, [33, 133]].mean(axis=1)
    assert float(eyes.std(axis=0).max()) < 2.0


def test_loss_falls_and_resume_continues_where_it_stopped(home):
    first, second = home["first"], home["second"]
    assert first["iteration"] == 12 and second["iteration"] == 24 and second["trained_now"] == 12
    assert second["history"][:12] == first["history"]  # the resumed run kept the earlier history
    losses = np.array([h[1] + h[2] for h in second["history"]])
    assert losses[-4:].mean() < losses[:4].mean() * 0.9


def test_init_from_starts_a_new_model_from_a_trained_ones_weights(home, tmp_path):
    import torch

    from dflab.errors import UsageError
    from dflab.make.swap.checkpoint import load_checkpoint
    from dflab.make.swap.model import preset_config
    from dflab.make.swap.train import TrainConfig, train_swap

    root = home["root"]
    # A learning rate near zero: after one step the new model's weights are still the pretrained ones.
    cfg = TrainConfig(iterations=1, batch=4, lr=1e-12, warmup=1, save_every=0, preview_every=0)
    summary = train_swap(root / "fb", root / "fa", tmp_path / "warm", None, cfg, progress=False,
                         init_from=root / "model")  # fmt: skip
    start, warm = load_checkpoint(root / "model"), load_checkpoint(tmp_path / "warm")
    assert summary["iteration"] == warm["iteration"] == 1  # a fresh schedule, not the source's 24
    assert warm["init_from"] == {"model": str(root / "model"), "iteration": 24, "names": start["names"]}
    for name, tensor in start["model"].items():
        assert torch.allclose(tensor.float(), warm["model"][name].float(), atol=1e-6), name
    with pytest.raises(UsageError, match="init-from"):
        train_swap(root / "fa", root / "fb", tmp_path / "other", preset_config("small", 64), cfg, progress=False,
                   init_from=root / "model")  # fmt: skip


def _consent_file(tmp_path: Path, who: str) -> Path:
    import datetime as dt

    key, statement = tmp_path / f"{who}.pem", tmp_path / f"{who}-consent.json"
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    assert main(["consent", "keygen", str(key)]) == 0
    assert main(["consent", "create", "--subject", who, "--use", "face swap test", "--until", until, "--key", str(key),
                 "--out", str(statement)]) == 0  # fmt: skip
    return statement


def test_cli_train_writes_disclosed_preview_grid(home, tmp_path, capsys):
    from dflab.provenance.consent import read_statement
    from dflab.provenance.verify import verify_file

    consent_a, consent_b = _consent_file(tmp_path, "Person A"), _consent_file(tmp_path, "Person B")
    out = tmp_path / "m"
    capsys.readouterr()
    rc = main(["swap", "train", str(home["root"] / "fa"), str(home["root"] / "fb"), "--out", str(out), "--preset", "tiny",
               "--iterations", "3", "--batch", "4", "--preview-every", "3", "--consent", str(consent_a),
               "--consent", str(consent_b), "--json"])  # fmt: skip
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["iteration"] == 3 and summary["consent"]["status"] == "recorded"
    preview = out / "preview_0000003.png"
    result = verify_file(preview)
    assert result["synthetic"] is True and result["watermark"]["detected"]
    assert result["ledger"]["consistent"] is True
    # Both statements, by hash and signer, in the manifest and in the ledger record.
    expected = [read_statement(c).record() for c in (consent_a, consent_b)]
    assert result["consent"] == {"status": "recorded", "format": "dflab-consent-1", "statements": expected, "from": "c2pa"}
    assert result["c2pa"]["consent"]["statements"] == expected
    entry = result["ledger"]["records"][0]["entry"]
    assert entry["extra"]["consent"]["statements"] == expected
    assert "consent: recorded: Person A" in result["summary"]
    # A statement that does not verify stops training before anything is written.
    forged = tmp_path / "forged.json"
    forged.write_text(consent_a.read_text().replace("face swap test", "anything"))
    assert main(["swap", "train", str(home["root"] / "fa"), str(home["root"] / "fb"), "--out", str(tmp_path / "m2"),
                 "--consent", str(forged)]) == 2  # fmt: skip
    assert "not usable" in capsys.readouterr().err and not (tmp_path / "m2").exists()
    # Existing output without --resume is refused.
    assert main(["swap", "train", str(home["root"] / "fa"), str(home["root"] / "fb"), "--out", str(out)]) == 2


def test_convert_video_keeps_frames_timing_audio_and_is_disclosed(home, tmp_path, capsys):
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.media import load, probe
    from dflab.provenance.verify import verify_file

    out = tmp_path / "swapped.mp4"
    rc = main(["swap", "convert", str(home["clip_a"]), "--model", str(home["root"] / "model"), "--to", "B",
               "--out", str(out), "--json"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    src, dst = probe(home["clip_a"]), probe(out)
    assert summary["frames"] == N_FRAMES and summary["faces"] >= N_FRAMES - 2
    assert dst["frames"] == src["frames"] == N_FRAMES
    assert dst["fps"] == pytest.approx(src["fps"], rel=1e-3)
    assert dst["duration"] == pytest.approx(src["duration"], abs=0.1)
    assert dst["has_audio"] and dst["sample_rate"] == src["sample_rate"]
    a, b = load(home["clip_a"]), load(out)
    assert b.audio is not None and abs(b.audio.duration_s - a.audio.duration_s) < 0.1
    diff = np.abs(a.frames[10].rgb.astype(int) - b.frames[10].rgb.astype(int)).mean(axis=2)
    h, w = diff.shape
    assert diff[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].mean() > 3 * diff[:, : w // 10].mean()  # face changed, not the edge
    result = verify_file(out)
    assert result["synthetic"] is True and result["c2pa"]["state"] == "Trusted"
    assert result["watermark"]["record"] == summary["record"] == result["c2pa"]["ledger"]["record"]
    assert result["ledger"]["consistent"] is True and result["ledger"]["verified"] is True
    assert [i["title"] for i in result["c2pa"]["ingredients"]] == [home["clip_a"].name]
    assert result["consent"]["status"] == "not recorded" and result["consent"]["from"] == "c2pa"
    assert "consent: not recorded" in result["summary"]
    evidence = create_detector("watermark").detect(AnalysedMedia(load(out)))
    assert evidence.decisive and evidence.score == 1.0 and f"record {summary['record']}" in evidence.summary
    clean = create_detector("watermark").detect(AnalysedMedia(load(home["clip_a"])))
    assert not clean.decisive and clean.confidence == 0.0


def test_bad_input_gets_one_line_and_exit_2(home, tmp_path, capsys):
    from dflab.media import write_video
    from dflab.make.swap.faceset import read_faceset, write_faceset

    model = home["root"] / "model"
    # A 64 px model asked to convert at 128.
    assert main(["swap", "convert", str(home["clip_a"]), "--model", str(model), "--to", "B", "--size", "128",
                 "--out", str(tmp_path / "x.mp4")]) == 2  # fmt: skip
    assert "trained at 64 px" in capsys.readouterr().err
    # An output path that exists.
    (tmp_path / "exists.mp4").write_bytes(b"x")
    assert main(["swap", "convert", str(home["clip_a"]), "--model", str(model), "--to", "B", "--out", str(tmp_path / "exists.mp4")]) == 2
    assert "already exists" in capsys.readouterr().err
    # A video with no face (noise): refused before anything is written.
    rng = np.random.default_rng(0)
    noise = write_video(tmp_path / "noise.mp4", [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(8)], 25)
    assert main(["swap", "convert", str(noise), "--model", str(model), "--to", "B", "--out", str(tmp_path / "n.mp4")]) == 2
    assert "no face" in capsys.readouterr().err and not (tmp_path / "n.mp4").exists()
    assert main(["swap", "extract", str(noise), "--out", str(tmp_path / "nf")]) == 2
    # A corrupt checkpoint.
    bad = tmp_path / "bad_model"
    bad.mkdir()
    for name in ("checkpoint.pt", "checkpoint.json"):
        (bad / name).write_bytes((model / name).read_bytes())
    data = bytearray((bad / "checkpoint.pt").read_bytes())
    (bad / "checkpoint.pt").write_bytes(bytes(data[: len(data) // 3]))
    assert main(["swap", "convert", str(home["clip_a"]), "--model", str(bad), "--to", "B", "--out", str(tmp_path / "c.mp4")]) == 2
    assert "corrupt" in capsys.readouterr().err
    # A faceset of three images.
    fs = read_faceset(home["root"] / "fa")
    write_faceset(tmp_path / "three", list(fs.faces[:3]), list(fs.masks[:3]), list(fs.landmarks[:3]), [0, 1, 2], [0] * 3,
                  [1.0] * 3, {"size": 64, "padding": 0.25, "sources": []})  # fmt: skip
    assert main(["swap", "train", str(tmp_path / "three"), str(home["root"] / "fb"), "--out", str(tmp_path / "m3")]) == 2
    err = capsys.readouterr().err
    assert "3 face(s)" in err and err.count("\n") == 1 and not (tmp_path / "m3").exists()
    # Unknown identity.
    assert main(["swap", "convert", str(home["clip_a"]), "--model", str(model), "--to", "C", "--out", str(tmp_path / "u.mp4")]) == 2


def test_gan_trains_and_every_sample_is_disclosed(home, tmp_path, capsys):
    from dflab.provenance.verify import verify_file

    model = tmp_path / "gan"
    assert main(["gan", "train", str(home["root"] / "fa"), str(home["root"] / "fb"), "--out", str(model), "--preset", "tiny",
                 "--iterations", "4", "--batch", "8", "--sample-every", "4", "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["iteration"] == 4
    assert verify_file(model / "samples_0000004.png")["synthetic"] is True
    out = tmp_path / "faces"
    assert main(["gan", "sample", str(model), "-n", "2", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    files = sorted(out.glob("*.png"))
    assert len(files) == 2 and len(set(summary["records"])) == 2
    for file, record in zip(files, summary["records"]):
        result = verify_file(file)
        assert result["synthetic"] is True and result["watermark"]["record"] == record
        assert result["c2pa"]["digital_source_type"].endswith("trainedAlgorithmicMedia")
    assert main(["gan", "sample", str(model), "-n", "2", "--out", str(out)]) == 2  # exists
