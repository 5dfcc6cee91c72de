"""The scan process's C heap: glibc's malloc arenas capped by the CLI, free pages handed back between stages."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from dflab import heap

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and malloc_trim are glibc's")


@glibc_only
def test_the_arena_cap_and_the_trim_take_effect(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert heap.limit_malloc_arenas(heap.DEFAULT_ARENAS) is True
    assert isinstance(heap.release_free_heap(), bool)


def test_an_arena_count_from_the_environment_is_left_alone(monkeypatch):
    calls = []
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(heap, "_glibc", lambda: calls.append("opened"))
    assert heap.limit_malloc_arenas() is True and calls == []


def test_the_cli_caps_the_arenas_before_running_a_command(monkeypatch, capsys):
    from dflab.cli import main as cli_main

    calls = []
    monkeypatch.setattr(cli_main, "limit_malloc_arenas", lambda: calls.append("capped"))
    monkeypatch.setattr(cli_main, "collect_garbage_less_often", lambda: calls.append("fewer gc passes"))
    assert cli_main.main(["scan", "--list-detectors"]) == 0
    assert calls == ["capped", "fewer gc passes"] and "face_crop" in capsys.readouterr().out


def test_the_garbage_collector_runs_less_often_but_still_runs():
    import gc

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        heap.collect_garbage_less_often()
        assert gc.get_threshold() == (heap.YOUNG_OBJECTS_PER_GC_PASS, 10, 10)
        gc.set_threshold(100_000, 10, 10)  # already rarer: left alone
        heap.collect_garbage_less_often()
        assert gc.get_threshold()[0] == 100_000
        gc.set_threshold(0, 10, 10)  # switched off by the caller: left off
        heap.collect_garbage_less_often()
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*saved)


@glibc_only
def test_a_scan_process_ends_with_at_most_two_arenas(tmp_path):
    # malloc_info lists one <heap> per arena; threads that allocate at once would each get one without the cap.
    code = (
        "import ctypes, threading, sys\n"
        "from dflab.heap import limit_malloc_arenas\n"
        "limit_malloc_arenas()\n"
        "import numpy as np\n"
        "def work():\n"
        "    for _ in range(200): np.ones(5000).sum()\n"
        "threads = [threading.Thread(target=work) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "libc = ctypes.CDLL('libc.so.6'); libc.fopen.restype = ctypes.c_void_p\n"
        "f = libc.fopen(sys.argv[1].encode(), b'w'); libc.malloc_info(0, ctypes.c_void_p(f)); libc.fclose(ctypes.c_void_p(f))\n"
    )
    out = tmp_path / "malloc_info.xml"
    env_free = {k: v for k, v in __import__("os").environ.items() if k != "MALLOC_ARENA_MAX"}
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env_free)
    assert 1 <= out.read_text().count("<heap nr=") <= heap.DEFAULT_ARENAS
