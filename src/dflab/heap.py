"""The heap of a scan process: fewer glibc malloc arenas, free pages handed back between stages, and Python's
cyclic garbage collector run less often.

glibc gives each thread that allocates under contention an arena of its own (up to 8 per core). A scan runs
a decoder thread, MediaPipe's threads, two cue threads and torch, and memory freed in one arena is not
reused by another: a long recording's scan, whose cue temporaries are larger and longer-lived, ends up with
the same data spread over more, emptier arenas, and its peak resident size grows with that. Two arenas keep
the two cue threads from contending on one lock, which is all this project's 2-core machines can use.

Both calls are best-effort: on a C library without them (musl, macOS) they do nothing. MALLOC_ARENA_MAX in
the environment, when set, wins over the default (glibc reads it at start-up; it is not overridden here).

Python's collector looks at its youngest objects every 700 container allocations, and at all of them once
the long-lived ones have grown by a quarter. A scan imports torch, scipy and MediaPipe while it runs (a
quarter of a million long-lived container objects), so those passes came often and each of the four full
ones walked all that existed: 0.5-1.0 s of collection in a 10 s clip's scan, under the GIL. Every 50,000 allocations: 6 passes, none full,
0.2-0.3 s. Reference counting still frees everything else at once; only reference cycles wait longer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from functools import lru_cache

DEFAULT_ARENAS = 2
YOUNG_OBJECTS_PER_GC_PASS = 50_000  # Python's default is 700
_M_ARENA_MAX = -8  # mallopt parameter number in glibc's malloc.h


@lru_cache(maxsize=1)
def _glibc():
    """The process's C library when it is glibc (it has mallopt and malloc_trim), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(count: int = DEFAULT_ARENAS) -> bool:
    """Cap glibc's malloc arenas at `count` for the rest of the process (call it early: arenas that exist
    stay). Leaves a MALLOC_ARENA_MAX set in the environment alone. True when the cap is in force."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return True
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, int(count)) == 1)


def release_free_heap() -> bool:
    """Hand the heap's free pages back to the kernel (malloc_trim(0)), e.g. after a stage that freed a lot.
    True when some memory was released."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0) == 1)


def collect_garbage_less_often(young_objects: int = YOUNG_OBJECTS_PER_GC_PASS) -> None:
    """Run Python's cyclic garbage collector after `young_objects` container allocations instead of 700 (never
    more often than it already runs); the older generations keep their own thresholds."""
    first, second, third = gc.get_threshold()
    if first and first < young_objects:  # 0: collection is switched off, leave it so
        gc.set_threshold(young_objects, second, third)
