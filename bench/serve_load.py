"""`dflab serve` under load: 50 picture uploads at once from 10 clients, time to result, status-poll latency, and
the server's memory while a 1 GB upload is refused.

What it does, against a real `dflab serve` process (the CLI, its own DFLAB_HOME, --workers 2):
  1. 10 client threads each upload 5 different real pictures (50 in all, from ../shared/data/faces) as fast as
     they can, then poll GET /v1/scans/{id} every 0.25 s until each is finished. Time to result is from the
     start of a scan's upload to the poll that saw it finished; every poll's latency is recorded (the
     "status-poll latency while scans run").
  1b. Right after, with the workers idle, the same 10 clients poll the finished scans every 0.25 s for 15 s: the
     idle-poll baseline, measured back to back, so that a loaded machine's share of the poll latency shows
     ("poll_p99_ratio_to_idle").
  2. The same 50 files go through `dflab scan --json` (one CLI process) and every service result must equal the
     CLI's document, timings aside, with the uploaded name as path.
  3. A 1 GB upload is sent twice on a raw socket: once declaring its size (Content-Length) and once streamed
     (chunked, no size): both must get 413; the server's resident memory is sampled every 20 ms meanwhile.

Run: .venv/bin/python bench/serve_load.py [--clients 10] [--per-client 5] [--workers 2] [--scan-in process|threads]
     [--scan-processes P]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, require_shared_data, write_results  # noqa: E402

TOKEN = "bench-token-for-the-load-run-000"
GIB = 1024**3


def _pictures(root: Path, n: int) -> list[Path]:
    """n different real pictures of the faces set, spread over its sources (sorted, so the run is repeatable)."""
    found = sorted(p for p in (root / "faces").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(found) < n:
        sys.exit(f"need {n} pictures under {root / 'faces'}, found {len(found)}")
    step = len(found) // n
    return [found[i * step] for i in range(n)]


def _start_server(home: Path, port: int, workers: int, scan_in: str, scan_processes: int | None) -> subprocess.Popen:
    env = {**os.environ, "DFLAB_HOME": str(home), "DFLAB_TOKEN": TOKEN,
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *sys.path[1:]])}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "dflab", "serve", "--port", str(port), "--workers", str(workers),
                             "--rate-limit", "100000", "--scan-in", scan_in,
                             *(["--scan-processes", str(scan_processes)] if scan_processes else [])],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    line = proc.stdout.readline()
    if not line.startswith("open http://"):
        sys.exit(f"dflab serve did not start: {line}{proc.stdout.read()[-2000:]}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _wait_ready(base: str, timeout_s: float = 600) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("the server never became ready")


def _client(base: str, files: list[Path], out: dict, barrier: threading.Barrier) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        barrier.wait()
        started, ids = {}, {}
        for path in files:
            t0 = time.perf_counter()
            with open(path, "rb") as handle:
                answer = http.post("/v1/scans", files={"file": (path.name, handle)})
            out["requests"].append(("upload", time.perf_counter() - t0, answer.status_code))
            if answer.status_code != 202:
                out["errors"].append(f"{path.name}: upload {answer.status_code} {answer.text[:200]}")
                continue
            ids[answer.json()["id"]] = path
            started[answer.json()["id"]] = t0
        waiting = set(ids)
        while waiting:
            for scan_id in sorted(waiting):
                t0 = time.perf_counter()
                answer = http.get(f"/v1/scans/{scan_id}")
                latency = time.perf_counter() - t0
                doc = answer.json()
                out["requests"].append(("poll", latency, answer.status_code))
                if doc["state"] in ("succeeded", "failed"):
                    waiting.discard(scan_id)
                    out["results"].append({"path": str(ids[scan_id]), "id": scan_id, "state": doc["state"],
                                           "seconds": time.perf_counter() - started[scan_id], "doc": doc})  # fmt: skip
            time.sleep(0.25)


def _load_phase(base: str, pictures: list[Path], clients: int) -> dict:
    out = {"requests": [], "results": [], "errors": []}
    barrier = threading.Barrier(clients)
    share = [pictures[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=_client, args=(base, files, out, barrier)) for files in share]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["wall_s"] = time.perf_counter() - start
    return out


def _idle_polls(base: str, ids: list[str], clients: int, seconds: float = 15.0) -> list[float]:
    """Poll latency with the workers idle: each client polls its share of the finished scans every 0.25 s."""
    import httpx

    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def client(mine: list[str]) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as http:
            while time.monotonic() < deadline:
                for scan_id in mine:
                    t0 = time.perf_counter()
                    http.get(f"/v1/scans/{scan_id}").raise_for_status()
                    latencies.append(time.perf_counter() - t0)
                time.sleep(0.25)

    threads = [threading.Thread(target=client, args=(ids[k::clients],)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (0 for one that is gone)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _descendants(pid: int) -> list[int]:
    """Processes below `pid`: the server's scan process and the scan processes it started beside itself."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        found += below
        frontier = below
    return found


def _cli_documents(pictures: list[Path], home: Path) -> dict[str, dict]:
    env = {**os.environ, "DFLAB_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *sys.path[1:]])}
    done = subprocess.run([sys.executable, "-m", "dflab", "scan", "--json", "--quiet", *map(str, pictures)],
                          capture_output=True, text=True, env=env, timeout=3600)  # fmt: skip
    docs = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {d["path"]: d for d in docs}


def _same(service_doc: dict, cli_doc: dict, name: str) -> bool:
    a = {k: v for k, v in service_doc.items() if k != "timings"}
    b = {k: v for k, v in cli_doc.items() if k != "timings"}
    b["path"] = name
    return a == b


def _difference(service_doc: dict, cli_doc: dict, name: str) -> dict:
    """Where a service result and the CLI's differ: the file, and each differing key with both values (short)."""
    keys = sorted((set(service_doc) | set(cli_doc)) - {"timings", "path"})
    changed = {k: [json.dumps(service_doc.get(k))[:300], json.dumps(cli_doc.get(k))[:300]]
               for k in keys if service_doc.get(k) != cli_doc.get(k)}
    return {"file": name, "keys": changed}


def _send_big(port: int, declared: bool, total: int = GIB) -> dict:
    """Upload `total` bytes of a multipart file on a raw socket, reading the answer as soon as one comes."""
    boundary = "benchBOUNDARY"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()  # fmt: skip
    tail = f"\r\n--{boundary}--\r\n".encode()
    request = [f"POST /v1/scans HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Authorization: Bearer {TOKEN}",
               f"Content-Type: multipart/form-data; boundary={boundary}"]  # fmt: skip
    request.append(f"Content-Length: {len(head) + total + len(tail)}" if declared else "Transfer-Encoding: chunked")
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    sent, answer, started = 0, b"", time.perf_counter()
    chunk = bytes(1024 * 1024)

    def frame(data: bytes) -> bytes:
        return data if declared else f"{len(data):x}\r\n".encode() + data + b"\r\n"

    try:
        sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode())
        sock.sendall(frame(head))
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server answered before the body ended
            sock.sendall(frame(chunk))
            sent += len(chunk)
        else:
            sock.sendall(frame(tail) + (b"" if declared else b"0\r\n\r\n"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.settimeout(60)
    try:
        while b"\r\n\r\n" not in answer:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
    except (ConnectionResetError, socket.timeout):
        pass
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return {"declared_size": declared, "status": status, "body_bytes_sent": sent,
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip


def _big_upload_phase(pid: int, port: int) -> dict:
    samples, stop = [], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(_rss_mib(pid))
            time.sleep(0.02)

    before = _rss_mib(pid)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tries = [_send_big(port, declared=True), _send_big(port, declared=False)]
    stop.set()
    sampler.join()
    return {"rss_before_mib": round(before, 1), "rss_peak_mib": round(max(samples + [before]), 1),
            "rss_growth_mib": round(max(samples + [before]) - before, 1), "uploads": tries}  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--per-client", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scan-in", choices=("process", "threads"), default="process")
    parser.add_argument("--scan-processes", type=int, default=None,
                        help="dflab serve --scan-processes (default: the server's own, 1)")
    args = parser.parse_args()
    data = require_shared_data()
    pictures = _pictures(data, args.clients * args.per_client)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = _start_server(home / "server", port, args.workers, args.scan_in, args.scan_processes)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base)
            scan_pids = _descendants(server.pid)
            cpu_before = (_cpu_s([server.pid]), _cpu_s(scan_pids))
            load = _load_phase(base, pictures, args.clients)
            cpu = {"api_process_cpu_s": round(_cpu_s([server.pid]) - cpu_before[0], 2),
                   "scan_process_cpu_s": round(_cpu_s(scan_pids) - cpu_before[1], 2) if scan_pids else None}
            load_average_after_load = os.getloadavg()[0]
            idle = _idle_polls(base, [r["id"] for r in load["results"]], args.clients)
            memory = _big_upload_phase(server.pid, port)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        cli = _cli_documents(pictures, home / "cli")

    results = load["results"]
    succeeded = [r for r in results if r["state"] == "succeeded"]
    equal = sum(_same(r["doc"]["result"], cli[r["path"]], Path(r["path"]).name) for r in succeeded if r["path"] in cli)
    differences = [_difference(r["doc"]["result"], cli.get(r["path"], {}), Path(r["path"]).name)
                   for r in succeeded if not _same(r["doc"]["result"], cli.get(r["path"], {}), Path(r["path"]).name)]
    polls = [lat for kind, lat, _ in load["requests"] if kind == "poll"]
    uploads = [lat for kind, lat, _ in load["requests"] if kind == "upload"]
    seconds = [r["seconds"] for r in results]
    summary = {
        "scans": len(pictures), "clients": args.clients, "workers": args.workers, "succeeded": len(succeeded),
        "equal_to_cli": equal, "errors": load["errors"][:10], "wall_s": round(load["wall_s"], 2),
        "time_to_result_p50_s": round(statistics.median(seconds), 2) if seconds else None,
        "time_to_result_p99_s": round(_pct(seconds, 0.99), 2) if seconds else None,
        "scans_per_s": round(len(succeeded) / load["wall_s"], 3),
        "requests": len(load["requests"]), "requests_per_s": round(len(load["requests"]) / load["wall_s"], 1),
        "upload_p50_ms": round(statistics.median(uploads) * 1000, 1) if uploads else None,
        "upload_p99_ms": round(_pct(uploads, 0.99) * 1000, 1) if uploads else None,
        "poll_p50_ms": round(statistics.median(polls) * 1000, 1) if polls else None,
        "poll_p99_ms": round(_pct(polls, 0.99) * 1000, 1) if polls else None,
        "idle_poll_p50_ms": round(statistics.median(idle) * 1000, 1) if idle else None,
        "idle_poll_p99_ms": round(_pct(idle, 0.99) * 1000, 1) if idle else None,
        "poll_p99_ratio_to_idle": round(_pct(polls, 0.99) / _pct(idle, 0.99), 2) if polls and idle else None,
        "scan_in": args.scan_in, "scan_processes": len(scan_pids) if args.scan_in == "process" else 0, **cpu,
        "scan_cpu_s_per_scan": round(cpu["scan_process_cpu_s"] / len(pictures), 3) if cpu["scan_process_cpu_s"] else None,
        "scan_cores_busy": round(cpu["scan_process_cpu_s"] / load["wall_s"], 2) if cpu["scan_process_cpu_s"] else None,
        "differences_from_cli": differences,
        "load_average_1min_after_load": round(load_average_after_load, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "big_upload": memory,
    }  # fmt: skip
    print_table([{k: summary[k] for k in ("scans", "succeeded", "equal_to_cli", "wall_s", "time_to_result_p50_s",
                                          "time_to_result_p99_s", "scans_per_s", "requests_per_s", "poll_p50_ms",
                                          "poll_p99_ms", "idle_poll_p99_ms", "poll_p99_ratio_to_idle",
                                          "scan_cpu_s_per_scan", "scan_cores_busy", "load_average_1min_after_load")}],
                ["scans", "succeeded", "equal_to_cli", "wall_s", "time_to_result_p50_s", "time_to_result_p99_s",
                 "scans_per_s", "requests_per_s", "poll_p50_ms", "poll_p99_ms", "idle_poll_p99_ms",
                 "poll_p99_ratio_to_idle", "scan_cpu_s_per_scan", "scan_cores_busy",
                 "load_average_1min_after_load"])  # fmt: skip
    print()
    print_table([{**u, "rss_before_mib": memory["rss_before_mib"], "rss_peak_mib": memory["rss_peak_mib"]}
                 for u in memory["uploads"]],
                ["declared_size", "status", "body_bytes_sent", "seconds", "rss_before_mib", "rss_peak_mib"])  # fmt: skip
    # The default layout keeps the name serve_load; the former one (scans in threads) is kept beside it to compare.
    write_results("serve_load" if args.scan_in == "process" else "serve_load_threads", {"summary": summary, "per_scan": [
        {"file": Path(r["path"]).name, "state": r["state"], "seconds": round(r["seconds"], 2)} for r in results]})


if __name__ == "__main__":
    main()
