"""Ledger benchmark: appends per second (single and batched) and proof times at 10^6 records.

    .venv/bin/python bench/ledger.py                  # 10^6 records (a few minutes on 2 cores)
    .venv/bin/python bench/ledger.py --records 100000 # quicker
    .venv/bin/python bench/ledger.py --records 200000 --postgres auto   # SQLite and PostgreSQL side by side

With --postgres (a postgresql:// URL, or `auto` to start a throwaway local server with scripts/postgres.sh) the
same tree is also built on PostgreSQL (in a fresh schema, dropped afterwards) and batched appends/s, proofs and
the audit are reported side by side; that run writes bench/results/ledger_postgres.json instead.

Everything runs in a temporary DFLAB_HOME (SQLite file + signing key), deleted afterwards. Timed work is the
`append_batch` / `prove` / `consistency` call itself (canonical JSON, hashing, SQL, commit); building the
Record objects is the caller's work and is not timed. Writes bench/results/ledger.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "ledger.json"


def make_records(start: int, count: int):
    from dflab.provenance.ledger import Record

    return [
        Record(
            content_sha256=hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
            action="register",
            time="2025-01-01T00:00:00.000000Z",
            media_type="image",
            path=f"media/{i:08d}.jpg",
            perceptual_hashes=(hashlib.sha256(f"pdq-{i}".encode()).hexdigest(),),
        )
        for i in range(start, start + count)
    ]


def bench_single(home: Path, synchronous: str, count: int) -> dict:
    from dflab.provenance.ledger import open_ledger

    records = make_records(0, count)
    with open_ledger(home / f"single_{synchronous.lower()}.sqlite", synchronous=synchronous) as ledger:
        t0 = time.perf_counter()
        for rec in records:
            ledger.append(rec)
        elapsed = time.perf_counter() - t0
    return {"records": count, "seconds": elapsed, "appends_per_s": count / elapsed}


def build_big(path: Path, total: int, batch: int, synchronous: str) -> dict:
    from dflab.provenance.ledger import open_ledger

    append_s = cpu_s = 0.0
    t_wall = time.perf_counter()
    with open_ledger(str(path), synchronous=synchronous) as ledger:
        for start in range(0, total, batch):
            records = make_records(start, min(batch, total - start))
            t0, c0 = time.perf_counter(), time.process_time()
            ledger.append_batch(records)
            append_s += time.perf_counter() - t0
            cpu_s += time.process_time() - c0
            if start and start % (batch * 100) == 0:
                done = start + len(records)
                print(f"  built {done:>9,} records  {done / append_s:8.0f} appends/s", file=sys.stderr, flush=True)
        size = ledger.size
    return {
        "records": size,
        "batch": batch,
        "append_seconds": append_s,
        "wall_seconds": time.perf_counter() - t_wall,
        "appends_per_s": size / append_s,
        "append_cpu_seconds": cpu_s,  # this process's CPU only: less sensitive to a busy shared machine
        "appends_per_cpu_s": size / cpu_s,
        "load_average_after": os.getloadavg()[0],
        "db_mib": _db_mib(path),
    }


def _db_mib(target) -> float:
    if isinstance(target, str) and target.startswith("postgresql"):
        from _common import postgres_mib

        return postgres_mib(target)
    path = Path(target)
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


def _ms(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "mean_ms": statistics.fmean(ordered) * 1e3,
        "p50_ms": ordered[len(ordered) // 2] * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
    }


def bench_proofs(path: Path, samples: int) -> dict:
    from dflab.provenance.ledger import merkle, open_ledger, verify_proof

    rng = random.Random(0)
    out: dict = {}
    with open_ledger(str(path)) as ledger:
        size = ledger.size
        t0 = time.perf_counter()
        ledger.checkpoint()  # the first one also loads the signing key
        out["first_checkpoint_ms"] = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        ledger.checkpoint()
        out["checkpoint_ms"] = (time.perf_counter() - t0) * 1e3
        vkey = ledger.verifier_key

        raw, bundles, verify_times = [], [], []
        for rid in rng.sample(range(size), samples):
            t0 = time.perf_counter()
            merkle.inclusion_proof(rid, size, ledger.store.get_nodes)
            raw.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bundle = ledger.prove(rid)
            bundles.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            verify_proof(bundle, vkey)
            verify_times.append(time.perf_counter() - t0)
        out["inclusion_proof"] = _ms(raw)
        out["prove_bundle"] = _ms(bundles)
        out["verify_bundle_offline"] = _ms(verify_times)
        out["inclusion_proof_hashes"] = len(bundle["proof"])

        cons, cons_verify = [], []
        for old in rng.sample(range(1, size), samples):
            t0 = time.perf_counter()
            proof = merkle.consistency_proof(old, size, ledger.store.get_nodes)
            cons.append(time.perf_counter() - t0)
            old_root, new_root = ledger.root(old), ledger.root()
            t0 = time.perf_counter()
            merkle.verify_consistency(old, size, proof, old_root, new_root)
            cons_verify.append(time.perf_counter() - t0)
        out["consistency_proof"] = _ms(cons)
        out["consistency_verify"] = _ms(cons_verify)
        t0 = time.perf_counter()
        ledger.root()
        out["root_ms"] = (time.perf_counter() - t0) * 1e3
    return out


def bench_verify_all(path: Path) -> dict:
    from dflab.provenance.ledger import open_ledger

    with open_ledger(str(path)) as ledger:
        t0 = time.perf_counter()
        summary = ledger.verify_all()
        elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "records": summary["records"], "nodes_checked": summary["nodes_checked"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="size of the big tree (default 10^6)")
    parser.add_argument("--batch", type=int, default=1000, help="records per batched append")
    parser.add_argument("--single", type=int, default=300, help="records for the one-transaction-each runs")
    parser.add_argument("--samples", type=int, default=200, help="proofs timed at the big size")
    parser.add_argument("--no-verify-all", action="store_true", help="skip the full audit timing")
    parser.add_argument("--postgres", metavar="URL", help="also build the tree on PostgreSQL (a postgresql:// URL, "
                        "or `auto` for a throwaway local server) and report both side by side")
    args = parser.parse_args()
    if args.postgres:
        return main_side_by_side(args)

    results: dict = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "params": vars(args),
    }
    with tempfile.TemporaryDirectory(prefix="dflab-bench-ledger-") as tmp:
        home = Path(tmp)
        os.environ["DFLAB_HOME"] = str(home)  # keys and databases stay in the temp dir
        for sync in ("FULL", "NORMAL"):
            results[f"single_{sync.lower()}"] = bench_single(home, sync, args.single)
        big = home / "big.sqlite"
        print(f"building {args.records:,} records in batches of {args.batch} ...", file=sys.stderr, flush=True)
        results["batched"] = build_big(big, args.records, args.batch, "FULL")
        results["proofs"] = bench_proofs(big, args.samples)
        if not args.no_verify_all:
            results["verify_all"] = bench_verify_all(big)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = RESULTS.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp_out, RESULTS)
    print_table(results)
    print(f"\nwrote {RESULTS}")
    return 0


def main_side_by_side(args) -> int:
    """The batched build, proofs and audit on SQLite and on PostgreSQL with the same records and batch size."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import postgres_schema

    results: dict = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "params": vars(args) | {"postgres": "auto" if args.postgres == "auto" else "given URL"},
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="dflab-bench-ledger-") as tmp, postgres_schema(args.postgres) as url:
        os.environ["DFLAB_HOME"] = tmp  # keys stay in the temp dir
        for backend, target in (("sqlite", str(Path(tmp) / "big.sqlite")), ("postgresql", url)):
            print(f"{backend}: building {args.records:,} records in batches of {args.batch} ...", file=sys.stderr,
                  flush=True)  # fmt: skip
            side = {"batched": build_big(target, args.records, args.batch, "FULL")}
            side["proofs"] = bench_proofs(target, args.samples)
            if not args.no_verify_all:
                side["verify_all"] = bench_verify_all(target)
            results["backends"][backend] = side
    out = RESULTS.with_name("ledger_postgres.json")  # bench/results/ledger_postgres.json
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print_side_by_side(results)
    print(f"\nwrote {out}")
    return 0


def print_side_by_side(r: dict) -> None:
    sides = r["backends"]
    n = sides["sqlite"]["batched"]["records"]

    def row(label, pick, fmt):
        return (label, *[fmt.format(pick(sides[b])) for b in ("sqlite", "postgresql")])

    rows = [
        row(f"batched appends/s ({r['params']['batch']}/txn, to {n:,})", lambda s: s["batched"]["appends_per_s"], "{:,.0f}"),
        row("batched appends per CPU-second of this process", lambda s: s["batched"]["appends_per_cpu_s"], "{:,.0f}"),
        row("database size (MiB)", lambda s: s["batched"]["db_mib"], "{:.0f}"),
        row(f"inclusion proof at {n:,} (ms, p50)", lambda s: s["proofs"]["inclusion_proof"]["p50_ms"], "{:.3f}"),
        row(f"inclusion proof at {n:,} (ms, p99)", lambda s: s["proofs"]["inclusion_proof"]["p99_ms"], "{:.3f}"),
        row("prove(): proof + checkpoint + record (ms, p50)", lambda s: s["proofs"]["prove_bundle"]["p50_ms"], "{:.3f}"),
        row(f"consistency proof to {n:,} (ms, p50)", lambda s: s["proofs"]["consistency_proof"]["p50_ms"], "{:.3f}"),
        row("signed checkpoint (ms)", lambda s: s["proofs"]["checkpoint_ms"], "{:.3f}"),
    ]
    if "verify_all" in sides["sqlite"]:
        rows.append(row(f"verify --all over {n:,} records (s)", lambda s: s["verify_all"]["seconds"], "{:.1f}"))
    width = max(len(k[0]) for k in rows)
    print(f"\n{'ledger benchmark':{width}}  {'SQLite':>12}  {'PostgreSQL':>12}")
    print(f"{'-' * width}  {'-' * 12}  {'-' * 12}")
    for label, a, b in rows:
        print(f"{label:{width}}  {a:>12}  {b:>12}")


def print_table(r: dict) -> None:
    n = r["batched"]["records"]
    p = r["proofs"]
    rows = [
        ("single appends/s (1 txn each, synchronous=FULL)", f"{r['single_full']['appends_per_s']:,.0f}"),
        ("single appends/s (1 txn each, synchronous=NORMAL)", f"{r['single_normal']['appends_per_s']:,.0f}"),
        (f"batched appends/s ({r['batched']['batch']}/txn, FULL, to {n:,})", f"{r['batched']['appends_per_s']:,.0f}"),
        ("batched appends per CPU-second of this process", f"{r['batched']['appends_per_cpu_s']:,.0f}"),
        (f"build time for {n:,} records (s, appends only / wall)", f"{r['batched']['append_seconds']:.1f} / {r['batched']['wall_seconds']:.1f}"),
        ("database size (MiB)", f"{r['batched']['db_mib']:.0f}"),
        (f"inclusion proof at {n:,} (ms, mean / p99)", f"{p['inclusion_proof']['mean_ms']:.3f} / {p['inclusion_proof']['p99_ms']:.3f}"),
        ("prove(): proof + checkpoint + record JSON (ms, mean / p99)", f"{p['prove_bundle']['mean_ms']:.3f} / {p['prove_bundle']['p99_ms']:.3f}"),
        ("offline verify of a proof file (ms, mean / p99)", f"{p['verify_bundle_offline']['mean_ms']:.3f} / {p['verify_bundle_offline']['p99_ms']:.3f}"),
        (f"consistency proof to {n:,} (ms, mean / p99)", f"{p['consistency_proof']['mean_ms']:.3f} / {p['consistency_proof']['p99_ms']:.3f}"),
        ("consistency verify (ms, mean)", f"{p['consistency_verify']['mean_ms']:.3f}"),
        ("root / signed checkpoint (ms)", f"{p['root_ms']:.3f} / {p['checkpoint_ms']:.3f}"),
    ]
    if "verify_all" in r:
        rows.append((f"verify --all over {n:,} records (s)", f"{r['verify_all']['seconds']:.1f}"))
    width = max(len(k) for k, _ in rows)
    print(f"\n{'ledger benchmark':{width}}  value")
    print(f"{'-' * width}  {'-' * 14}")
    for key, value in rows:
        print(f"{key:{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
