"""A few hundred mutated real files through every media-reading command, in-process: exit 0 or 2 (verify: 0, 1
or 2), never a traceback, and one line on stderr for each refusal. bench/fuzz.py runs the larger campaign, each command in a fresh process."""

from __future__ import annotations

import contextlib
import io
import traceback

import pytest

from dflab.cli.main import main
from dflab.eval.fuzz import MUTATIONS, build_corpus, mutants

COMMANDS = ("scan", "register", "trace", "verify", "sign", "watermark", "compare")
CORPUS_FILES = 7
SEED = 0


@pytest.fixture(scope="module")
def corpus(shared_data, tmp_path_factory):
    return build_corpus(shared_data, tmp_path_factory.mktemp("fuzz_corpus"))


def argv_for(command: str, path, original, out_dir) -> list[str]:
    return {
        "scan": ["scan", str(path), "--json"],
        "register": ["register", str(path), "--json"],
        "trace": ["trace", str(path), "--json"],
        "verify": ["verify", str(path), "--json"],
        "sign": ["sign", str(path), str(out_dir / f"signed-{path.name}"), "--json"],
        "watermark": ["watermark", "detect", str(path), "--json"],
        "compare": ["compare", str(path), "--original", str(original), "--json"],
    }[command]


def run_in_process(argv: list[str]) -> tuple[object, str]:
    """(exit code, or "traceback: ..." for an exception that escaped main(); stderr)."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    except Exception:  # noqa: BLE001 - exactly what this test looks for
        code = "traceback: " + traceback.format_exc(limit=-3)
    return code, err.getvalue()


def test_mutants_of_real_media_never_crash_any_command(corpus, tmp_path):
    assert len(corpus) == CORPUS_FILES
    assert run_in_process(["keys", "init"])[0] == 0
    for original in corpus.values():  # something to trace, verify and compare against
        assert run_in_process(["register", str(original)])[0] == 0
    # Every (corpus file, mutation, command) once: the mutant index picks the file, then the mutation, then
    # the command (mutants() cycles files fastest, then mutations).
    count = CORPUS_FILES * len(MUTATIONS) * len(COMMANDS)
    failures, codes = [], {0: 0, 1: 0, 2: 0}
    for index, mutant in enumerate(mutants(corpus, count, seed=SEED)):
        command = COMMANDS[index // (CORPUS_FILES * len(MUTATIONS))]
        path = tmp_path / f"{mutant.name}{mutant.suffix}"
        path.write_bytes(mutant.data)
        code, err = run_in_process(argv_for(command, path, corpus[mutant.seed_name], tmp_path))
        allowed = (0, 1, 2) if command == "verify" else (0, 2)  # verify exits 1 for problems it found
        if code not in allowed or (code == 2 and err.count("\n") != 1):
            failures.append(f"{command} {mutant.name} ({mutant.detail}): {code} {err[-400:]}")
        else:
            codes[code] += 1
        path.unlink()
    assert failures == []
    # Both outcomes occur: the campaign is not all refusals (mutants that still decode reach the detectors).
    assert codes[0] >= 30 and codes[2] >= 30, codes
