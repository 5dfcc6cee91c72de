"""The Ray engine of `dflab batch`: Ray Data over the file list, mapped by a pool of actors that each hold one
Scanner (models load once per actor, not once per file).

Locally (no address) it starts a private Ray instance sized to the pool; with `--ray-address` it joins a running
cluster (`ray start --head` on one machine, `ray start --address=HEAD:6379` on the others), where every node
needs dflab installed and the files at the same paths (a shared mount). Results stream back to the driver, which
writes them as they arrive: a run stopped half way keeps what finished. docs/scale-out.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from dflab.errors import UsageError


class ScanActor:
    """One actor of the pool: builds its Scanner (and lab, with --register) once, then scans batches of paths."""

    def __init__(self, register: bool) -> None:
        import dflab

        self.scanner = dflab.Scanner()
        self.register = register
        self.lab = None
        if register:
            from dflab.lab import Lab

            self.lab = Lab.default()

    def __call__(self, batch: dict) -> dict:
        from dflab.scale.results import json_line, scan_document

        paths = [str(p) for p in batch["path"]]
        lines = [json_line(scan_document(self.scanner, p, self.register, self.lab)) for p in paths]
        return {"path": paths, "line": lines}


def run_ray(paths: list[str], workers: int, address: str | None, register: bool,
            on_line: Callable[[str, str], None]) -> None:  # fmt: skip
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
        import ray.data
    except ImportError:
        raise UsageError("--engine ray needs ray[data] (pip install 'ray[data]==2.60.0'; see requirements.txt)") from None
    started = not ray.is_initialized()
    if started:
        try:
            if address:
                ray.init(address=address, log_to_driver=False, include_dashboard=False)
            else:
                # One CPU per actor plus one for Ray Data's own tasks; a small object store (only paths and JSON
                # lines travel through it).
                ray.init(num_cpus=workers + 1, object_store_memory=256 * 2**20, log_to_driver=False,
                         include_dashboard=False)  # fmt: skip
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(f"cannot start or reach Ray{f' at {address}' if address else ''}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None  # fmt: skip
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # dflab draws its own bar
        dataset = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=max(1, min(len(paths), 256)))
        mapped = dataset.map_batches(ScanActor, fn_constructor_kwargs={"register": register}, batch_size=1,
                                     compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)  # fmt: skip
        for row in mapped.iter_rows():
            on_line(str(row["path"]), str(row["line"]))
    finally:
        if started:
            ray.shutdown()
