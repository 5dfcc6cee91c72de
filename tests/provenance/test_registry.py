"""Registry: PDQ conformance, hasher/index contracts, the SQLite -> FAISS cache, and photo round trips."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dflab.errors import BadMedia, NotFound, UsageError
from dflab.provenance.registry import (
    PDQ_MATCH_THRESHOLD,
    HashIndex,
    RegistryConfig,
    create_hasher,
    hamming,
    list_hashers,
    open_registry,
    pdq_code,
)
from dflab.provenance.registry.frames import sample_media
from dflab.provenance.registry.hashers import centre_crop, hex_to_code
from dflab.provenance.registry import DEFAULT_CROPS

HASHES_PER_PHOTO = 1 + len(DEFAULT_CROPS)  # the full frame and each registered centre crop

UPSTREAM_TOLERANCE = 16  # the upstream Python test accepts Hamming distance <= 16 between implementations


def _expected_rows():
    """Rows of the upstream table, read at collection time (same location rule as the shared_data fixture)."""
    data = Path(os.environ.get("DFLAB_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    path = data / "pdq" / "expected_pdq_hashes.csv"
    if not path.exists():
        return [pytest.param(None, id="no-shared-data")]
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [pytest.param(r, id=f"{r['implementation']}:{r['image_path_under_pdq_data']}") for r in rows]


# ---------------------------------------------------------------- PDQ conformance (all 45 upstream rows)


@pytest.mark.parametrize("row", _expected_rows())
def test_pdq_matches_upstream_expected_hashes(shared_data, row):
    if row is None:
        pytest.skip("the expected PDQ hash table is missing from the shared data")
    image = shared_data / "pdq" / "data" / row["image_path_under_pdq_data"]
    if not image.exists():
        pytest.skip(f"{row['image_path_under_pdq_data']} is listed upstream but not shipped in shared/data/pdq")
    media = sample_media(image)
    code, quality = pdq_code(media.frames[0])
    assert 0 <= quality <= 100
    assert hamming(code, hex_to_code(row["pdq_hash_hex"])) <= UPSTREAM_TOLERANCE


def test_expected_table_has_45_rows_and_at_most_two_missing_images(shared_data):
    with open(shared_data / "pdq" / "expected_pdq_hashes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 45
    missing = [r for r in rows if not (shared_data / "pdq" / "data" / r["image_path_under_pdq_data"]).exists()]
    assert {r["image_path_under_pdq_data"] for r in missing} <= {"misc-images/b.jpg"}


def test_pdq_separates_unrelated_upstream_photos(shared_data):
    folder = shared_data / "pdq" / "data" / "reg-test-input" / "labelme-subset"
    codes = [pdq_code(sample_media(p).frames[0]) for p in sorted(folder.glob("*.jpg"))]
    good = [c for c, q in codes if q >= 50]  # upstream ignores low-quality (nearly flat) hashes
    assert len(good) >= 4
    distances = [hamming(a, b) for i, a in enumerate(good) for b in good[i + 1 :]]
    assert min(distances) > PDQ_MATCH_THRESHOLD


# ---------------------------------------------------------------- hasher contract, for every registered hasher


@pytest.mark.parametrize("name", list_hashers())
def test_hasher_contract(name):
    hasher = create_hasher(name)
    rng = np.random.default_rng(0)
    frame = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    first, again = hasher.hash_frame(frame), hasher.hash_frame(frame.copy())
    assert [c.variant for c in first] == list(hasher.variants) and first[0].variant == "full"
    assert all(len(c.code) == hasher.bits // 8 for c in first)
    assert [c.code for c in first] == [c.code for c in again]  # deterministic
    for bad in (frame.astype(np.float32), frame[:, :, 0], np.zeros((0, 5, 3), np.uint8), [[1, 2, 3]]):
        with pytest.raises(BadMedia):
            hasher.hash_frame(bad)


def test_unknown_hasher_and_bad_crop_are_usage_errors():
    with pytest.raises(UsageError):
        create_hasher("md5")
    with pytest.raises(UsageError):
        create_hasher("pdq", crops=(1.5,))


def test_centre_crop_keeps_the_requested_area():
    frame = np.zeros((400, 600, 3), np.uint8)
    crop = centre_crop(frame, 0.8)
    assert abs(crop.shape[0] * crop.shape[1] / (400 * 600) - 0.8) < 0.01
    assert crop.shape[0] / crop.shape[1] == pytest.approx(400 / 600, rel=0.01)


def test_hamming_and_hex_codes():
    a = hex_to_code("00" * 32)
    b = hex_to_code("ff" + "00" * 31)
    assert hamming(a, b) == 8 and hamming(b, b) == 0
    with pytest.raises(UsageError):
        hex_to_code("abc")


# ---------------------------------------------------------------- index


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_index_build_query_serialize(tmp_path, kind):
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    index = HashIndex.build(codes[:300], kind)
    index.add(codes[300:])
    assert index.ntotal == 500
    queries = codes[[5, 250, 499]].copy()
    queries[:, 0] ^= 0b111  # 3 bits off
    distances, ids = index.query(queries, k=2)
    assert ids[:, 0].tolist() == [5, 250, 499] and distances[:, 0].tolist() == [3, 3, 3]
    index.serialize(tmp_path / "i.faiss")
    again = HashIndex.deserialize(tmp_path / "i.faiss", kind)
    assert again.query(queries, 1)[1][:, 0].tolist() == [5, 250, 499]
    assert again.code_at(7) == codes[7].tobytes()


def test_empty_index_answers_without_neighbours():
    distances, ids = HashIndex().query(np.zeros((2, 32), np.uint8), k=3)
    assert (ids == -1).all() and (distances > 256).all()


# ---------------------------------------------------------------- registry with photos


def _memory_ledger():
    records: dict[int, dict] = {}

    def sink(fields):
        records[len(records)] = dict(fields)
        return len(records) - 1

    return records, sink, records.get


def _jpeg(rgb, quality):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _resize(rgb, scale):
    h, w = rgb.shape[:2]
    return np.asarray(Image.fromarray(rgb).resize((round(w * scale), round(h * scale)), Image.BILINEAR))


EDITS = {
    "jpeg_q50": lambda rgb: _jpeg(rgb, 50),
    "resize_50": lambda rgb: _resize(rgb, 0.5),
    "crop_centre_80_area": lambda rgb: centre_crop(rgb, 0.8),
    "crop_80_resize_50_jpeg_50": lambda rgb: _jpeg(_resize(centre_crop(rgb, 0.8), 0.5), 50),
    "crop_centre_64_area": lambda rgb: centre_crop(rgb, 0.64),
    "mirror": lambda rgb: np.ascontiguousarray(rgb[:, ::-1]),
    "jpeg_q75_mirror": lambda rgb: np.ascontiguousarray(_jpeg(rgb, 75)[:, ::-1]),
}
PASTE_BACKGROUND = "face_recognition/examples/knn_examples/train/kit_harington/john1.jpeg"  # not registered


def _pasted(rgb, background, where: tuple[float, float], scale: float = 0.6):
    """`rgb` at `scale` of its size pasted onto `background` (resized to rgb's size), top-left corner at `where`
    (fractions of the free room), saved as JPEG q75: a picture-in-picture re-post."""
    h, w = rgb.shape[:2]
    out = np.asarray(Image.fromarray(background).resize((w, h), Image.BILINEAR)).copy()
    small = _resize(rgb, scale)
    top, left = round(where[1] * (h - small.shape[0])), round(where[0] * (w - small.shape[1]))
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
    return _jpeg(out, 75)

PHOTOS = [
    "cnndetection/crops/105_biggan_real.png",
    "cnndetection/crops/101_stargan_real.png",
    "dlib_faces/examples/faces/2008_002506.jpg",
    "dlib_faces/examples/faces/bald_guys.jpg",
    "face_recognition/examples/obama.jpg",
    "face_recognition/examples/knn_examples/train/rose_leslie/img1.jpg",
]
UNRELATED = [
    "dlib_faces/examples/faces/dogs.jpg",
    "face_recognition/examples/lin-manuel-miranda.png",
    "face_recognition/examples/knn_examples/train/kit_harington/john1.jpeg",
    "cnndetection/crops/0_cyclegan_real.png",
]


@pytest.fixture(scope="module")
def photo_registry(shared_data, tmp_path_factory):
    records, sink, source = _memory_ledger()
    registry = open_registry(tmp_path_factory.mktemp("registry"), record_sink=sink, record_source=source)
    ids = {name: registry.register(shared_data / name)["record"] for name in PHOTOS}
    yield registry, ids, records
    registry.close()


def test_register_reports_record_hashes_and_ledger_fields(photo_registry, shared_data):
    registry, ids, records = photo_registry
    assert sorted(ids.values()) == list(range(len(PHOTOS)))
    fields = records[ids[PHOTOS[2]]]
    assert fields["action"] == "register" and fields["media_type"] == "image"
    assert fields["path"] == str((shared_data / PHOTOS[2]).resolve())
    assert len(fields["perceptual_hashes"]) == 1  # the full-frame hash; crops are derivable
    again = registry.register(shared_data / PHOTOS[2])
    assert again["existing"] and again["record"] == ids[PHOTOS[2]] and again["hashes"] == HASHES_PER_PHOTO
    assert registry.stats()["hashes"] == HASHES_PER_PHOTO * len(PHOTOS)


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("name", PHOTOS)
def test_trace_finds_edited_photo(photo_registry, shared_data, tmp_path, name, edit):
    registry, ids, _ = photo_registry
    rgb = sample_media(shared_data / name).frames[0]
    query = tmp_path / "query.png"
    Image.fromarray(EDITS[edit](rgb)).save(query)
    result = registry.trace(query)
    assert result["matches"], f"{edit} of {name} not found"
    best = result["matches"][0]
    assert best["record"] == ids[name]
    assert best["distance"] <= PDQ_MATCH_THRESHOLD
    assert best["ledger"]["content_sha256"] == best["ledger"]["content_sha256"].lower() != ""
    if edit == "crop_centre_80_area":
        assert best["variant"] == "crop80" and best["distance"] <= 4
    assert best["query_view"] == ("mirrored" if "mirror" in edit else "as is")


@pytest.mark.parametrize("where", [(0.5, 0.5), (0.1, 0.8), (0.9, 0.2)])
@pytest.mark.parametrize("name", PHOTOS)
def test_trace_finds_a_photo_pasted_onto_another(photo_registry, shared_data, tmp_path, name, where):
    registry, ids, _ = photo_registry
    rgb = sample_media(shared_data / name).frames[0]
    query = tmp_path / "reposted.png"
    Image.fromarray(_pasted(rgb, sample_media(shared_data / PASTE_BACKGROUND).frames[0], where)).save(query)
    matches = registry.trace(query)["matches"]
    assert [m["record"] for m in matches] == [ids[name]], f"{name} pasted at {where}: {matches}"
    x0, y0, x1, y1 = (float(v) for v in matches[0]["query_view"].removeprefix("rect@").split(",")[:4])
    assert abs((x1 - x0) - 0.6) < 0.05 and abs((y1 - y0) - 0.6) < 0.05  # it found the pasted rectangle


@pytest.mark.parametrize("name", UNRELATED)
def test_unrelated_photo_does_not_match(photo_registry, shared_data, name):
    registry, _, _ = photo_registry
    assert registry.trace(shared_data / name)["matches"] == []
    query = pdq_code(sample_media(shared_data / name).frames[0])[0]
    stored = registry.store.codes()
    nearest = min(hamming(query, bytes(row)) for row in stored)
    assert nearest > PDQ_MATCH_THRESHOLD


def test_exact_copy_is_flagged_exact(photo_registry, shared_data):
    registry, ids, _ = photo_registry
    best = registry.trace(shared_data / PHOTOS[0])["matches"][0]
    assert best["exact"] and best["distance"] == 0 and best["record"] == ids[PHOTOS[0]]


# ---------------------------------------------------------------- SQLite is the truth, FAISS a cache


def _small_registry(tmp_path, shared_data, n=3):
    _, sink, source = _memory_ledger()
    registry = open_registry(tmp_path / "reg", record_sink=sink, record_source=source)
    for name in PHOTOS[:n]:
        registry.register(shared_data / name)
    return registry


def _reopen(registry):
    registry.close()
    return open_registry(registry.directory, record_sink=registry.record_sink, record_source=registry.record_source)


def test_missing_index_file_is_rebuilt(tmp_path, shared_data):
    registry = _small_registry(tmp_path, shared_data)
    registry.index_path.unlink()
    registry = _reopen(registry)
    assert registry.trace(shared_data / PHOTOS[1])["matches"][0]["record"] == 1
    assert registry.index_path.exists() and registry.index().ntotal == 3 * HASHES_PER_PHOTO
    registry.close()


def test_corrupt_index_file_is_rebuilt(tmp_path, shared_data):
    registry = _small_registry(tmp_path, shared_data)
    registry.index_path.write_bytes(b"not a faiss index")
    registry = _reopen(registry)
    assert registry.trace(shared_data / PHOTOS[2])["matches"][0]["record"] == 2
    registry.close()


def test_stale_index_catches_up_and_foreign_index_is_replaced(tmp_path, shared_data):
    registry = _small_registry(tmp_path, shared_data, n=2)
    old = registry.index_path.read_bytes()
    registry.register(shared_data / PHOTOS[2])  # index now holds 3 photos' codes
    registry.index_path.write_bytes(old)  # a cache from before the last write (a writer died)
    registry = _reopen(registry)
    assert registry.index().ntotal == 3 * HASHES_PER_PHOTO
    assert registry.trace(shared_data / PHOTOS[2])["matches"][0]["record"] == 2
    # a cache holding codes SQLite does not have is thrown away
    HashIndex.build(np.zeros((30, 32), np.uint8)).serialize(registry.index_path)
    registry = _reopen(registry)
    assert registry.index().ntotal == 3 * HASHES_PER_PHOTO
    assert registry.trace(shared_data / PHOTOS[0])["matches"][0]["record"] == 0
    registry.close()


def test_hnsw_registry_finds_the_same_photos(tmp_path, shared_data):
    _, sink, source = _memory_ledger()
    registry = open_registry(tmp_path, RegistryConfig(index_kind="hnsw"), record_sink=sink, record_source=source)
    for name in PHOTOS[:3]:
        registry.register(shared_data / name)
    assert registry.index_path.name == "index-hnsw.faiss"
    for record, name in enumerate(PHOTOS[:3]):
        assert registry.trace(shared_data / name)["matches"][0]["record"] == record
    registry.close()


def test_a_failed_ledger_append_leaves_no_registry_rows(tmp_path, shared_data):
    def failing_sink(fields):
        raise UsageError("ledger refused")

    registry = open_registry(tmp_path, record_sink=failing_sink, record_source=lambda i: None)
    with pytest.raises(UsageError):
        registry.register(shared_data / PHOTOS[0])
    assert registry.stats() == {**registry.stats(), "records": 0, "hashes": 0}
    registry.close()


def test_bad_inputs_raise_one_line_errors(tmp_path, shared_data):
    _, sink, source = _memory_ledger()
    registry = open_registry(tmp_path / "reg", record_sink=sink, record_source=source)
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(NotFound):
        registry.register(tmp_path / "missing.png")
    for bad in (text, empty):
        with pytest.raises(BadMedia):
            registry.register(bad)
        with pytest.raises(BadMedia):
            registry.trace(bad)
    assert registry.stats()["records"] == 0
    registry.close()


def test_damaged_database_is_a_clear_error(tmp_path):
    from dflab.errors import IntegrityError

    (tmp_path / "registry.sqlite").write_bytes(b"garbage" * 100)
    with pytest.raises(IntegrityError):
        open_registry(tmp_path, record_sink=lambda f: 0, record_source=lambda i: None)
    assert sqlite3.sqlite_version  # the stdlib module is what we rely on
