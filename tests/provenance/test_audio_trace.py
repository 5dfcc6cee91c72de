"""Audio fingerprints in the registry: real LibriSpeech speech, copies re-timed and re-encoded in tmp."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

import dflab
from dflab.cli.main import main
from dflab.provenance.registry import open_registry
from dflab.provenance.registry.audio_fingerprint import (
    Peaks,
    peak_quads,
    quad_hashes,
    query_hashes,
)

RATE = 16_000


def _speech(shared_data, speaker: str, seconds: float, skip_s: float = 0.0) -> np.ndarray:
    from dflab.media import load_audio

    parts, total = [], 0
    for path in sorted((shared_data / "librispeech" / speaker).glob("*.flac")):
        parts.append(load_audio(path).samples)
        total += len(parts[-1])
        if total >= (skip_s + seconds) * RATE:
            break
    return np.concatenate(parts)[int(skip_s * RATE) : int((skip_s + seconds) * RATE)]


@pytest.fixture(scope="module")
def clips(shared_data, tmp_path_factory):
    """An original (10 s of speaker 1688) and a decoy (2033), a 0.8x atempo copy as MP3, a 1.25x tape-style
    copy, and speech of a third speaker (3080) that is never registered."""
    import soundfile as sf

    from dflab.train.speed_testset import atempo, resample_speed, write_audio

    out = tmp_path_factory.mktemp("audio_trace")
    source = _speech(shared_data, "1688", 12.5)
    paths = {"original": out / "original.wav", "decoy": out / "decoy.wav", "unregistered": out / "other.wav",
             "slow_mp3": out / "slow.mp3", "tape": out / "tape.wav"}  # fmt: skip
    sf.write(paths["original"], source[: 10 * RATE], RATE)
    sf.write(paths["decoy"], _speech(shared_data, "2033", 10.0), RATE)
    sf.write(paths["unregistered"], _speech(shared_data, "3080", 8.0), RATE)
    write_audio(paths["slow_mp3"], atempo(source[: 8 * RATE], RATE, 0.8), RATE)
    sf.write(paths["tape"], resample_speed(source, 1.25)[: 10 * RATE], RATE)
    return paths


@pytest.fixture(scope="module")
def registry_dir(clips, tmp_path_factory):
    directory = tmp_path_factory.mktemp("audio_registry")
    records = {}
    with open_registry(directory, record_sink=_counter()) as registry:
        for name in ("original", "decoy"):
            result = registry.register(clips[name])
            assert result["media_type"] == "audio" and result["audio_hashes"] > 1000, result
            records[name] = result["record"]
    return directory, records


def _counter():
    ids = iter(range(100, 1000))
    return lambda fields: next(ids)


def test_quad_hashes_ignore_speed_and_pitch_shift(clips, monkeypatch):
    """The same peaks played 1.25x slower with every frequency moved by log2(1.25) octaves give the same keys,
    and each stored key is among the looked-up keys of its quad. (MAX_SPAN_S, a cap in seconds, is the one
    part that is not speed-invariant; lifted here, it costs a 1.25x copy about 12 % of its quads.)"""
    from collections import Counter

    from dflab.media import load_audio
    from dflab.provenance.registry import audio_fingerprint
    from dflab.provenance.registry.audio_trace import audio_peaks

    peaks, _ = audio_peaks(load_audio(clips["original"]).samples, RATE)
    assert len(peaks.times_s) > 200
    monkeypatch.setattr(audio_fingerprint, "MAX_SPAN_S", 1e9)
    moved = Peaks(peaks.times_s * 1.25, peaks.octaves + np.log2(1.25), peaks.levels_db)
    a, b = peak_quads(peaks), peak_quads(moved)
    assert len(a) > 1000
    stored, shifted = Counter(quad_hashes(a).tolist()), Counter(quad_hashes(b).tolist())
    assert sum((stored & shifted).values()) > 0.99 * len(a)
    assert np.allclose(b.span_s[:20] / a.span_s[:20], 1.25)
    assert np.allclose(b.anchor_oct[:20] - a.anchor_oct[:20], np.log2(1.25))
    keys, rows = query_hashes(a)
    own = quad_hashes(a)
    assert all(own[r] in set(keys[rows == r].tolist()) for r in range(0, len(a), 97))
    # unrelated speech shares few keys: the hash says something about the audio
    other = Counter(quad_hashes(peak_quads(audio_peaks(load_audio(clips["decoy"]).samples, RATE)[0])).tolist())
    assert sum(other.values()) > 1000
    assert sum((stored & other).values()) < 0.3 * len(a)


@pytest.mark.parametrize(("copy", "speed", "tape"), [("slow_mp3", 0.8, False), ("tape", 1.25, True)])
def test_copy_traces_to_its_original(clips, registry_dir, copy, speed, tape):
    directory, records = registry_dir
    with open_registry(directory, record_sink=_counter()) as registry:
        result = registry.trace(clips[copy])
    assert result["media_type"] == "audio" and result["audio_quads"] > 500
    best = result["matches"][0]
    assert best["record"] == records["original"] and best["by"] == "audio"
    assert all(m["record"] != records["decoy"] for m in result["matches"])
    assert best["speed_factor"] == pytest.approx(speed, rel=0.02)
    assert best["pitch_follows_speed"] is tape
    assert best["score"] >= 30 and best["matched_fraction"] > 0.5


def test_unregistered_speech_finds_nothing(clips, registry_dir):
    directory, _ = registry_dir
    with open_registry(directory, record_sink=_counter()) as registry:
        assert registry.trace(clips["unregistered"])["matches"] == []


def test_schema_1_registry_opens_and_gains_audio_tables(clips, tmp_path):
    """A registry written before audio fingerprints (schema 1: meta, records, hashes) keeps its rows, is
    marked with the current schema (so older dflab versions refuse it rather than miss its hash count) and
    registers audio."""
    directory = tmp_path / "old"
    directory.mkdir()
    db = sqlite3.connect(directory / "registry.sqlite")
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE records (record INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, path TEXT NOT NULL,
            media_type TEXT NOT NULL, hasher TEXT NOT NULL, video_fps REAL NOT NULL, duration_s REAL NOT NULL,
            width INTEGER NOT NULL, height INTEGER NOT NULL, frames INTEGER NOT NULL, registered_at REAL NOT NULL);
        CREATE INDEX records_sha256 ON records (sha256);
        CREATE TABLE hashes (id INTEGER PRIMARY KEY, record INTEGER NOT NULL REFERENCES records (record),
            time_s REAL NOT NULL, variant TEXT NOT NULL, quality INTEGER NOT NULL, code BLOB NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        INSERT INTO records VALUES (7, 'ab', '/x.jpg', 'image', 'pdq-crops', 2.0, 0.0, 64, 64, 1, 0.0);
    """)
    db.execute("INSERT INTO hashes VALUES (0, 7, 0.0, 'full', 100, ?)", (bytes(32),))
    db.commit()
    db.close()
    with open_registry(directory, record_sink=_counter()) as registry:
        assert registry.stats()["records"] == 1 and registry.stats()["hashes"] == 1
        assert registry.stats()["audio_records"] == 0
        assert registry.register(clips["original"])["audio_hashes"] > 1000
    db = sqlite3.connect(directory / "registry.sqlite")
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "3"
    assert db.execute("SELECT value FROM registry_meta WHERE key='schema'").fetchone()[0] == "3"
    assert db.execute("SELECT value FROM registry_meta WHERE key='hash_rows'").fetchone()[0] == str(
        db.execute("SELECT COUNT(*) FROM hashes").fetchone()[0])
    db.close()


def test_cli_compare_finds_audio_original_in_registry(clips, capsys):
    """`dflab compare COPY.mp3` with no --original: the registry's audio trace names the original, and the
    audio comparison aligns the copy with it."""
    assert main(["register", str(clips["original"]), str(clips["decoy"]), "--json"]) == 0
    registered = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["trace", str(clips["slow_mp3"])]) == 0
    out = capsys.readouterr().out
    assert f"record {registered[0]['record']}" in out and "audio score" in out and "pitch kept" in out
    assert main(["trace", str(clips["slow_mp3"]), "--json"]) == 0
    traced = json.loads(capsys.readouterr().out)
    typed = dflab.trace(clips["slow_mp3"])
    assert typed.to_json() == traced and typed.best.by == "audio" and typed.best.distance is None
    assert main(["compare", str(clips["slow_mp3"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    compared = dflab.compare(clips["slow_mp3"])
    assert compared.to_json() == result and compared.record == registered[0]["record"]
    assert result["record"] == registered[0]["record"] and result["mode"] == "audio"
    assert result["original"] == str(clips["original"].resolve())
    assert result["speed_factor"] == pytest.approx(0.8, rel=0.03) and result["pitch_follows_speed"] is False


def test_noise_like_sound_traced_against_its_own_registered_copy_stays_bounded(clips, tmp_path, monkeypatch):
    """Real speech whose WAV format tag says OKI ADPCM (a fuzz mutant) decodes to dense noise; registered and then
    traced, it gave one record some 30,000 hits, and the line fit's pairwise arrays asked for 7 GB each (the
    process was killed for memory). The fit now sees at most MAX_FIT_HITS of them, and still finds the copy."""
    from dflab.provenance.registry import audio_trace

    data = bytearray(clips["original"].read_bytes())
    assert data[20:22] == b"\x01\x00"  # PCM
    data[20:22] = b"\x10\x00"  # WAVE_FORMAT_OKI_ADPCM
    noise = tmp_path / "oki.wav"
    noise.write_bytes(bytes(data))
    fitted: list[int] = []
    real_fit = audio_trace.fit_time_mapping

    def spy(pairs, *args, **kwargs):
        fitted.append(len(pairs))
        assert len(pairs) <= audio_trace.MAX_FIT_HITS, f"{len(pairs)} hits reach the pairwise line fit"
        return real_fit(pairs, *args, **kwargs)

    monkeypatch.setattr(audio_trace, "fit_time_mapping", spy)
    with open_registry(tmp_path / "registry", record_sink=_counter()) as registry:
        record = registry.register(noise)["record"]
        found = registry.trace(noise)
    assert fitted and [m["record"] for m in found["matches"]][:1] == [record]
