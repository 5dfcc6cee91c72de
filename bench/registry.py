"""Registry benchmark: single-query latency, memory and recall with 10^6 registered image hashes.

    .venv/bin/python bench/registry.py                 # 10^6 codes, flat + HNSW (a few minutes on 2 cores)
    .venv/bin/python bench/registry.py --codes 100000  # quicker
    .venv/bin/python bench/registry.py --backend postgresql --database-url auto --skip-hnsw   # hashes in PostgreSQL

The haystack is random 256-bit codes (for scale) plus the real PDQ hashes (full frame + 5 centre crops) of
the 320 cnndetection photos (for correctness). Queries are edited copies of those photos (JPEG q50, 50 %
downscale, centre crop keeping 80 % of the area, all three combined), hashed like `dflab trace` does, and sent
one at a time (k=64, the registry's default). "recall@1" is the share of queries whose nearest code belongs to
the right photo; "agree@1" compares HNSW's first answer with the exact search. "search" rows time the whole
Registry.search call (FAISS + the SQLite lookup of index id -> record). HNSW is built on a smaller haystack by
default (--hnsw-codes) because its build is slow; its agree@1 is against an exact search of that haystack. Memory is the process RSS (VmRSS) after
building, and its growth over the baseline. Writes bench/results/registry.json.

--backend postgresql keeps the hashes in PostgreSQL (a postgresql:// URL, or `auto` for a throwaway local server,
in a fresh schema dropped afterwards): the Registry rows then time FAISS + the PostgreSQL lookup, the build is
the bulk load plus the index built from the database, and "refresh" times the incremental catch-up of a live
index after another 1,000 codes were added (rows with id > the last seen; no rebuild). That run writes
bench/results/registry_postgres.json.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "registry.json"
REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def real_hashes(data: Path, limit: int):
    """(codes, photo ids) of the real photos with all registered variants, and the edited query codes."""
    from PIL import Image

    from dflab.provenance.registry import DEFAULT_CROPS, create_hasher, pdq_code
    from dflab.provenance.registry.frames import sample_media
    from dflab.provenance.registry.hashers import centre_crop

    def jpeg(rgb, q):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=q)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))

    def half(rgb):
        h, w = rgb.shape[:2]
        return np.asarray(Image.fromarray(rgb).resize((w // 2, h // 2), Image.BILINEAR))

    edits = {
        "jpeg50": lambda x: jpeg(x, 50),
        "resize50": half,
        "crop80": lambda x: centre_crop(x, 0.8),
        "combined": lambda x: jpeg(half(centre_crop(x, 0.8)), 50),
    }
    hasher = create_hasher("pdq-crops", crops=DEFAULT_CROPS)
    codes, owners, queries, query_owner, query_edit = [], [], [], [], []
    for photo, path in enumerate(sorted((data / "cnndetection" / "crops").glob("*.png"))[:limit]):
        rgb = sample_media(path).frames[0]
        for fc in hasher.hash_frame(rgb):
            codes.append(fc.code)
            owners.append(photo)
        for name, edit in edits.items():
            queries.append(pdq_code(edit(rgb))[0])
            query_owner.append(photo)
            query_edit.append(name)
    as_matrix = lambda cs: np.frombuffer(b"".join(cs), np.uint8).reshape(len(cs), 32)  # noqa: E731
    return as_matrix(codes), np.array(owners), as_matrix(queries), np.array(query_owner), query_edit


def haystack(n_random: int, real: np.ndarray, seed: int = 0):
    """Random codes with the real ones scattered at random positions; returns codes and the real positions."""
    rng = np.random.default_rng(seed)
    total = n_random + len(real)
    codes = rng.integers(0, 256, (total, 32), dtype=np.uint8)
    positions = np.sort(rng.choice(total, len(real), replace=False))
    codes[positions] = real
    return codes, positions


def time_queries(search, queries: np.ndarray, k: int) -> tuple[list[float], list[int]]:
    latencies, firsts = [], []
    for code in queries:
        t0 = time.perf_counter()
        ids = search(code[None, :], k)
        latencies.append((time.perf_counter() - t0) * 1000)
        firsts.append(ids)
    return latencies, firsts


def pct(values, q) -> float:
    return float(np.percentile(values, q))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=1_000_000, help="registered codes in total (default 10^6)")
    parser.add_argument("--photos", type=int, default=320, help="real photos mixed in (default all 320)")
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--hnsw-m", type=int, default=16)
    parser.add_argument("--hnsw-codes", type=int, default=200_000,
                        help="HNSW haystack size (its build is slow: about 8 min for 10^6 codes on 2 busy cores)")
    parser.add_argument("--ef-search", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--skip-hnsw", action="store_true")
    parser.add_argument("--skip-registry", action="store_true", help="skip the SQLite-backed Registry.search rows")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite",
                        help="where the Registry rows keep their hashes")
    parser.add_argument("--database-url", default="auto",
                        help="with --backend postgresql: a postgresql:// URL, or `auto` (a throwaway local server)")
    parser.add_argument("--skip-index-only", action="store_true",
                        help="skip the bare FAISS rows (time only the Registry on the chosen backend)")
    args = parser.parse_args()

    import faiss

    from dflab.provenance.registry import HashIndex

    base_rss = rss_mb()
    threads = faiss.omp_get_max_threads()
    real, owners, queries, query_owner, query_edit = real_hashes(args.data, args.photos)
    n_random = max(0, args.codes - len(real))
    codes, positions = haystack(n_random, real)
    owner_of = dict(zip(positions.tolist(), owners.tolist()))
    print(f"{len(codes):,} codes ({len(real):,} real from {owners.max() + 1} photos), {len(queries)} edited queries, "
          f"k={args.k}, faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads")

    rows = []

    def record(name, build_s, rss_after, latencies, firsts, exact_firsts=None, owners_map=None, n_codes=None):
        owners_map = owner_of if owners_map is None else owners_map
        correct = np.array([owners_map.get(int(f), -1) == o for f, o in zip(firsts, query_owner)])
        row = {
            "index": name,
            "codes": n_codes or len(codes),
            "build_s": round(build_s, 2),
            "p50_ms": round(pct(latencies, 50), 3),
            "p99_ms": round(pct(latencies, 99), 3),
            "max_ms": round(max(latencies), 3),
            "rss_mb": round(rss_after, 1),
            "rss_growth_mb": round(rss_after - base_rss, 1),
            "recall_at_1": round(float(correct.mean()), 4),
            "recall_at_1_by_edit": {e: round(float(correct[[q == e for q in query_edit]].mean()), 4)
                                    for e in sorted(set(query_edit))},
        }
        if exact_firsts is not None:
            row["agree_at_1_with_flat"] = round(float(np.mean(np.array(firsts) == np.array(exact_firsts))), 4)
        rows.append(row)
        return row

    flat = None
    if not args.skip_index_only:
        t0 = time.perf_counter()
        flat = HashIndex.build(codes, "flat")
        build = time.perf_counter() - t0
        lat, firsts = time_queries(lambda q, k: flat.query(q, k)[1][0, 0], queries, args.k)
        record("flat (exact), 1 thread (HashIndex default)", build, rss_mb(), lat, firsts)

        import dflab.provenance.registry.index as index_module

        index_module.SMALL_BATCH = 0  # let FAISS use all its OpenMP threads for single queries too
        lat2, firsts2 = time_queries(lambda q, k: flat.query(q, k)[1][0, 0], queries, args.k)
        record(f"flat (exact), {threads} OpenMP threads", build, rss_mb(), lat2, firsts2)
        index_module.SMALL_BATCH = 64
        del flat

    if not args.skip_registry:
        if args.backend == "postgresql":
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from _common import postgres_schema

            with postgres_schema(args.database_url) as url:
                record_registry(args, codes, queries, record, base_rss, url)
        else:
            record_registry(args, codes, queries, record, base_rss)

    if not args.skip_hnsw:
        sub, sub_positions = haystack(max(0, min(args.hnsw_codes, len(codes)) - len(real)), real)
        sub_owner = dict(zip(sub_positions.tolist(), owners.tolist()))
        exact = HashIndex.build(sub, "flat")
        exact_firsts = [exact.query(q[None, :], 1)[1][0, 0] for q in queries]
        del exact
        t0 = time.perf_counter()
        hnsw = HashIndex("hnsw", hnsw_m=args.hnsw_m)
        hnsw.add(sub)
        build = time.perf_counter() - t0
        for ef in args.ef_search:
            hnsw.set_ef_search(ef)
            lat, firsts = time_queries(lambda q, k: hnsw.query(q, k)[1][0, 0], queries, args.k)
            record(f"hnsw M={args.hnsw_m} ef={ef}, 1 thread", build, rss_mb(), lat, firsts, exact_firsts,
                   owners_map=sub_owner, n_codes=len(sub))

    print_table(rows)
    out = RESULTS if args.backend == "sqlite" else RESULTS.with_name("registry_postgres.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "registry",
        "backend": args.backend,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "omp_threads": threads},
        "codes": len(codes), "real_codes": len(real), "queries": len(queries), "k": args.k,
        "baseline_rss_mb": round(base_rss, 1),
        "goal": "p99 < 10 ms, RSS < 1 GB",
        "rows": rows,
    }, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")
    return 0


def record_registry(args, codes, queries, record, base_rss, url: str | None = None) -> None:
    """The full Registry.search path (FAISS + the store's id -> record lookup) over the same codes, with the
    hashes in SQLite (url None) or PostgreSQL."""
    from dflab.provenance.registry import Registry, open_registry
    from dflab.provenance.registry.store import HashRow, RecordRow

    def row_of(rec: int) -> RecordRow:
        return RecordRow(rec, f"{rec:064x}", f"bench/{rec}.jpg", "image", "pdq-crops", 2.0, 0.0, 1, 1, 1, 0.0)

    per_record = 1000
    with tempfile.TemporaryDirectory() as tmp:
        if url is None:
            registry = open_registry(tmp, record_sink=lambda f: 0, record_source=lambda i: None)
        else:
            from dflab.provenance.registry.postgres_store import PostgresRegistryStore

            registry = Registry(store=PostgresRegistryStore(url), index_dir=tmp, record_sink=lambda f: 0,
                                record_source=lambda i: None)  # fmt: skip
        t0 = time.perf_counter()
        for rec, start in enumerate(range(0, len(codes), per_record)):
            chunk = codes[start : start + per_record]
            registry.store.add(row_of(rec), [HashRow(rec, 0.0, "full", 100, bytes(c)) for c in chunk])
        load = time.perf_counter() - t0
        t1 = time.perf_counter()
        registry.index()  # builds the FAISS cache from the store and writes it
        index_s = time.perf_counter() - t1
        build = time.perf_counter() - t0

        def search(code, k):
            hits = registry.search([bytes(code[0])], k)[0]
            return hits[0][1].record if hits else -1

        lat, _ = time_queries(search, queries, args.k)
        backend = "SQLite" if url is None else "PostgreSQL"
        row = record(f"Registry.search (flat+{backend}), 1 thread", build, rss_mb(), lat, [-1] * len(queries))
        row.pop("recall_at_1"), row.pop("recall_at_1_by_edit")
        row["load_s"], row["index_from_store_s"] = round(load, 2), round(index_s, 2)
        # Another writer adds 1,000 codes; the live index catches up with rows id > last seen, no rebuild.
        before = registry.index()
        extra = np.random.default_rng(1).integers(0, 256, (per_record, 32), dtype=np.uint8)
        rec = len(codes) // per_record + 1
        registry.store.add(row_of(rec), [HashRow(rec, 0.0, "full", 100, bytes(c)) for c in extra])
        t0 = time.perf_counter()
        after = registry.index()
        row["refresh_1000_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        # The same object grew by exactly the new rows: nothing was rebuilt from zero.
        row["refresh_kept_index"] = after is before and after.ntotal == registry.store.count_hashes()
        registry.close()


def print_table(rows) -> None:
    head = f"{'index':40} {'codes':>10} {'build s':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8} {'recall@1':>9} {'agree@1':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        recall = f"{r['recall_at_1']:.3f}" if "recall_at_1" in r else "-"
        agree = f"{r['agree_at_1_with_flat']:.3f}" if "agree_at_1_with_flat" in r else "-"
        print(f"{r['index']:40} {r['codes']:>10,} {r['build_s']:>8.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['rss_mb']:>8.0f} {recall:>9} {agree:>8}")
    for r in rows:
        if "refresh_1000_ms" in r:
            print(f"{r['index']}: load {r['load_s']:.1f} s, index from the store {r['index_from_store_s']:.1f} s, "
                  f"refresh after 1,000 new codes {r['refresh_1000_ms']:.1f} ms (same index kept: "
                  f"{r['refresh_kept_index']})")


if __name__ == "__main__":
    sys.exit(main())
