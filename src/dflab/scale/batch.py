"""`dflab batch`: scan many files with one JSON line each, locally or on Ray, resumable.

    run_batch(inputs, out, engine="local", workers=1)   # -> BatchSummary

The inputs expand to a file list (inputs.py); files already answered in `out` are skipped (results.py); the
rest go to the local process pool (local.py) or Ray Data (ray_engine.py), and each finished line is appended
to `out` at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dflab.errors import UsageError

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class BatchSummary:
    files: int  # in the inputs
    skipped: int  # already in the results file
    scanned: int  # answered by this run
    errors: int  # of those, `{path, error}` lines

    def to_json(self) -> dict:
        return {"files": self.files, "skipped": self.skipped, "scanned": self.scanned, "errors": self.errors}


def run_batch(inputs: list[str], out: str | Path, *, engine: str = "local", workers: int = 1,
              ray_address: str | None = None, register: bool = False, progress: bool = False) -> BatchSummary:  # fmt: skip
    from dflab.scale.inputs import expand_inputs
    from dflab.scale.results import ResultsFile

    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    if ray_address and engine != "ray":
        raise UsageError("--ray-address needs --engine ray")
    paths = expand_inputs(inputs)
    results = ResultsFile(out)
    todo = [p for p in paths if p not in results.done]
    counts = {"scanned": 0, "errors": 0}
    bar = _bar(len(todo), progress)

    def on_line(path: str, line: str) -> None:
        results.write(line)
        counts["scanned"] += 1
        counts["errors"] += set(json.loads(line)) == {"path", "error"}
        bar.update(1)

    try:
        if todo:
            if engine == "ray":
                from dflab.scale.ray_engine import run_ray

                run_ray(todo, workers, ray_address, register, on_line)
            else:
                from dflab.scale.local import run_local

                run_local(todo, workers, register, on_line)
    finally:
        bar.close()
        results.close()
    return BatchSummary(len(paths), len(paths) - len(todo), counts["scanned"], counts["errors"])


def _bar(total: int, enabled: bool):
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc="batch", unit="file", file=sys.stderr, disable=not enabled, leave=False)
