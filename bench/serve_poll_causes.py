"""Why does a status poll of `dflab serve` get slow while it scans? Poll latency under controlled loads.

Each condition starts a real `dflab serve` (its own DFLAB_HOME) with one upload queued, then 10 client threads
poll GET /v1/scans/{id} every 0.25 s for --seconds s and record every latency. The conditions separate the
suspects:
  * idle:              nothing else runs (the floor: HTTP, auth, one SQLite read, JSON);
  * gil_threads:       two pure-Python busy threads inside the server process (they hold the GIL, use no SQLite);
  * cpu_processes:     two busy processes beside the server (the same CPU demand, no shared GIL);
  * scans_threads:     30 pictures scanned by 2 worker threads inside the server (`--scan-in threads`, the former
                       default);
  * scans_process:     the same scans in the server's scan process (`--scan-in process`, the default: its own GIL,
                       its own session);
  * scans_process_nice5: the same, with `--scan-nice 5` (scans yield the CPU to polls, and to other work).
In the scans conditions the clients poll until every scan has finished (at most --seconds). They also write
heartbeats and progress to SQLite, so comparing them with gil_threads and cpu_processes says which part matters.

Run: .venv/bin/python bench/serve_poll_causes.py [--seconds 20] [--only idle,scans_process]
"""

from __future__ import annotations

import argparse
import os
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

TOKEN = "bench-token-for-the-poll-probe-00"
CONDITIONS = ("idle", "gil_threads", "cpu_processes", "scans_threads", "scans_process", "scans_process_nice5")
SERVE_OPTIONS = {"scans_threads": ["--workers", "2", "--scan-in", "threads"],
                 "scans_process": ["--workers", "2", "--scan-in", "process"],
                 "scans_process_nice5": ["--workers", "2", "--scan-in", "process", "--scan-nice", "5"]}  # fmt: skip
BUSY = "import time\nwhile True:\n    sum(i * i for i in range(1000))\n"
# The server with two GIL-holding threads: the CLI's `serve`, started from a script that first starts the threads.
SERVE_WITH_GIL_THREADS = ("import sys, threading\n"
                          "def busy():\n    while True:\n        sum(i * i for i in range(1000))\n"
                          "for _ in range(2):\n    threading.Thread(target=busy, daemon=True).start()\n"
                          "from dflab.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")  # fmt: skip


def _env(home: Path) -> dict:
    return {**os.environ, "DFLAB_HOME": str(home), "DFLAB_TOKEN": TOKEN,
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *sys.path[1:]])}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(home: Path, port: int, gil_threads: bool, options: list[str]) -> subprocess.Popen:
    head = [sys.executable, "-c", SERVE_WITH_GIL_THREADS] if gil_threads else [sys.executable, "-m", "dflab"]
    proc = subprocess.Popen([*head, "serve", "--port", str(port), "--rate-limit", "100000", *options], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    line = proc.stdout.readline()
    if not line.startswith("open http://"):
        sys.exit(f"dflab serve did not start: {line}{proc.stdout.read()[-2000:]}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc


def _wait_ready(http) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if http.get("/readyz").status_code == 200:
                return
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.5)
    sys.exit("the server never became ready")


def _upload(http, path: Path) -> str:
    with open(path, "rb") as handle:
        answer = http.post("/v1/scans", files={"file": (path.name, handle)})
    answer.raise_for_status()
    return answer.json()["id"]


def _poll(base: str, ids: list[str], seconds: float, clients: int, until_finished: bool) -> list[float]:
    """Every client polls its share of `ids` every 0.25 s for `seconds` (or until all are finished)."""
    import httpx

    latencies: list[float] = []
    finished: set[str] = set()
    deadline = time.monotonic() + seconds

    def client(k: int) -> None:
        mine = ids[k::clients] or [ids[k % len(ids)]]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as http:
            while time.monotonic() < deadline and not (until_finished and finished >= set(ids)):
                for scan_id in mine:
                    t0 = time.perf_counter()
                    answer = http.get(f"/v1/scans/{scan_id}")
                    latencies.append(time.perf_counter() - t0)
                    if answer.json()["state"] in ("succeeded", "failed"):
                        finished.add(scan_id)
                time.sleep(0.25)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_condition(name: str, pictures: list[Path], seconds: float, clients: int, root: Path) -> dict:
    import httpx

    home, port = root / name, _free_port()
    scans = name.startswith("scans")
    server = _serve(home, port, gil_threads=name == "gil_threads", options=SERVE_OPTIONS.get(name, ["--workers", "0"]))
    helpers: list[subprocess.Popen] = []
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as http:
            _wait_ready(http)
            if name == "cpu_processes":
                helpers += [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
            ids = [_upload(http, p) for p in (pictures if scans else pictures[:1])]
            cpu_before = _cpu_s(server.pid)
            started = time.perf_counter()
            latencies = _poll(base, ids, seconds, clients, until_finished=scans)
            polled_s = time.perf_counter() - started
            cpu_after = _cpu_s(server.pid)
            finished = sum(http.get(f"/v1/scans/{i}").json()["state"] in ("succeeded", "failed") for i in ids)
    finally:
        for proc in [*helpers, server]:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {"condition": name, "polls": len(latencies), "poll_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "poll_p90_ms": round(_pct(latencies, 0.90) * 1000, 1), "poll_p99_ms": round(_pct(latencies, 0.99) * 1000, 1),
            "poll_max_ms": round(max(latencies) * 1000, 1), "scans_finished": finished if scans else None,
            "polled_s": round(polled_s, 1),
            "server_cpu_s": round(cpu_after - cpu_before, 2), "load_average_1min": round(os.getloadavg()[0], 2)}  # fmt: skip


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--only", default=",".join(CONDITIONS))
    args = parser.parse_args()
    data = require_shared_data()
    found = sorted(p for p in (data / "faces").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    pictures = [found[i * (len(found) // 30)] for i in range(30)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            rows.append(run_condition(name, pictures, args.seconds, args.clients, Path(tmp)))
            print(rows[-1], flush=True)
    columns = ["condition", "polls", "poll_p50_ms", "poll_p90_ms", "poll_p99_ms", "poll_max_ms", "scans_finished",
               "polled_s", "server_cpu_s", "load_average_1min"]  # fmt: skip
    print_table(rows, columns)
    write_results("serve_poll_causes", {"seconds": args.seconds, "clients": args.clients, "conditions": rows})


if __name__ == "__main__":
    main()
