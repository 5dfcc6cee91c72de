"""Whether an MP4/MOV (ISO base media) file's boxes fit together: what FFmpeg forgives and others do not.

FFmpeg plays an MP4 whose boxes overlap or whose sample tables count more entries than they hold; the C2PA
reader (and so `dflab sign` and `dflab verify`) refuses the same file as "Bad BMFF". Reading only the box
headers and the sample tables (no media data) makes every command agree on it.

The sample tables of one track must also agree on how many samples there are: the sample-to-chunk table (stsc)
over the chunk offsets (stco/co64) places as many samples as the size table (stsz) lists, and the time table
(stts) times as many. FFmpeg plays a track whose tables disagree, but then reads packets from the wrong bytes:
the decoder conceals the damage differently on each pass, so no two reads of the file agree.
"""

from __future__ import annotations

import struct
from pathlib import Path

# Boxes that hold only other boxes. (Inside meta is left alone: QuickTime and ISO disagree on its layout, a
# full box in one and a plain one in the other; a QuickTime udta may end in 4 zero bytes, which the walk skips.)
_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex", b"moof", b"traf",
                         b"mfra", b"udta"})  # fmt: skip
# Sample tables: (bytes before the entries, after version and flags, the entry count last; bytes per entry).
# sbgp (sample-to-group) has its grouping type before the count, and in version 1 a parameter too.
_TABLES = {b"stco": (4, 4), b"co64": (4, 8), b"stts": (4, 8), b"stsc": (4, 12), b"stss": (4, 4), b"ctts": (4, 8),
           b"stsz": (8, 4), b"sbgp": (8, 8)}  # fmt: skip
# Full boxes that list child boxes after version, flags and an entry count: their children must fit in them.
_LISTS = {b"dref": 8, b"stsd": 8}
_MAX_BOXES = 200_000  # a real file has hundreds; a hostile one must not loop for long
_MAX_DEPTH = 12
_MAX_TABLE_ENTRIES = 4_000_000  # stsc/stts entries read to count samples (48 MB); beyond that a track is not checked


def declares_boxes(container) -> bool:
    names = set((container.format.name or "").split(","))
    return bool(names & {"mov", "mp4"})


def bmff_problem(path: Path) -> str:
    """Why the file's boxes do not fit together, or "" when they do (or the file is not ISO BMFF)."""
    try:
        with open(path, "rb") as fh:
            size = path.stat().st_size
            return _walk(fh, 0, size, size, depth=0, budget=[_MAX_BOXES])
    except OSError:
        return ""


def _walk(fh, start: int, end: int, file_size: int, depth: int, budget: list[int], descend: bool = True) -> str:
    """The first problem among the boxes from start to end; `descend`: look inside known container boxes too
    (not inside a list's entries, whose layouts are codec-specific)."""
    pos = start
    while pos + 8 <= end:
        budget[0] -= 1
        if budget[0] < 0:
            return "the MP4 has too many boxes"
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            return f"the MP4 ends inside a box header at byte {pos:,}"
        box_size, kind = struct.unpack_from(">I4s", header)
        name = kind.decode("latin-1", "replace")
        head = 8
        if box_size == 1:  # a 64-bit size follows
            if len(header) < 16:
                return f"the MP4 ends inside the {name} box header"
            box_size, head = struct.unpack_from(">Q", header, 8)[0], 16
        elif box_size == 0 and depth == 0:  # "to the end of the file": only a top-level box may say so
            box_size = end - pos
        if box_size < head:
            return f"the MP4's {name} box at byte {pos:,} declares an impossible size ({box_size})"
        box_end = pos + box_size
        if box_end > end:
            where = "the end of the file" if end == file_size else "the box that holds it"
            return f"the MP4's {name} box at byte {pos:,} runs past {where} (cut short or damaged)"
        if descend and kind in _CONTAINERS and depth < _MAX_DEPTH:
            inner = _walk(fh, pos + head, box_end, file_size, depth + 1, budget)
            if not inner and kind == b"stbl":
                inner = _sample_counts_problem(fh, pos + head, box_end)
            if inner:
                return inner
        elif descend and kind in _LISTS and depth < _MAX_DEPTH:
            if box_size < head + _LISTS[kind]:
                return f"the MP4's {name} box at byte {pos:,} is shorter than its header"
            inner = _walk(fh, pos + head + _LISTS[kind], box_end, file_size, depth + 1, budget, descend=False)
            if inner:
                return inner
        elif descend and kind in _TABLES:
            problem = _table(fh, pos + head, box_end, kind, name)
            if problem:
                return problem
        pos = box_end
    return ""


def _table(fh, body: int, box_end: int, kind: bytes, name: str) -> str:
    """A sample table must hold the entries it counts."""
    before, per_entry = _TABLES[kind]
    fh.seek(body)
    fixed = fh.read(4 + before + 4)  # version + flags, then the fields before the entries (+ sbgp's parameter)
    if kind == b"sbgp" and fixed[:1] == b"\x01":
        before += 4  # version 1: the grouping type's parameter
    if len(fixed) < 4 + before or box_end - body < 4 + before:
        return f"the MP4's {name} table is shorter than its header"
    (count,) = struct.unpack_from(">I", fixed, before)  # the entry count: the last field before the entries
    if kind == b"stsz" and struct.unpack_from(">I", fixed, 4)[0]:
        return ""  # every sample the same size: no table follows
    room = box_end - body - 4 - before
    if count * per_entry > room:
        return f"the MP4's {name} table counts {count:,} entries but holds {room // per_entry:,}"
    return ""


def _sample_counts_problem(fh, start: int, end: int) -> str:
    """Whether one track's sample tables agree with each other (called once its boxes fit)."""
    bodies: dict[bytes, int] = {}  # box kind -> position of its body
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        box_size, kind = struct.unpack(">I4s", fh.read(8))
        if box_size < 8:  # 64-bit sizes do not occur inside a sample table; _walk has vetted the layout
            return ""
        bodies[kind] = pos + 8
        pos += box_size
    offsets = bodies.get(b"stco") or bodies.get(b"co64")
    if b"stsz" not in bodies or offsets is None:
        return ""  # a fragmented file or a track without samples: nothing to compare
    samples, chunks = _field(fh, bodies[b"stsz"] + 8), _field(fh, offsets + 4)
    descriptions = _field(fh, bodies[b"stsd"] + 4) if b"stsd" in bodies else None
    runs = _entries(fh, bodies.get(b"stsc"), 12)
    if runs is not None:
        if descriptions is not None and any(not 1 <= run[2] <= descriptions for run in runs):
            return (f"the MP4's chunk map names a sample description the track does not have ({descriptions} "
                    "described; damaged)")
        placed = _samples_in_chunks(runs, chunks)
        if placed < 0:
            return f"the MP4's chunk map runs out of order or past its {chunks:,} chunks (damaged)"
        if placed != samples:
            return (f"the MP4's sample tables disagree: the chunk map places {placed:,} samples, the size table "
                    f"lists {samples:,} (damaged)")
    times = _entries(fh, bodies.get(b"stts"), 8)
    if times is not None and sum(count for count, _ in times) != samples:
        return (f"the MP4's sample tables disagree: the time table times {sum(c for c, _ in times):,} samples, the "
                f"size table lists {samples:,} (damaged)")
    return ""


def _field(fh, at: int) -> int:
    fh.seek(at)
    return struct.unpack(">I", fh.read(4))[0]


def _entries(fh, body: int | None, per_entry: int) -> list[tuple[int, ...]] | None:
    """A table's entries as tuples of 32-bit fields, or None when absent or too long to read here."""
    if body is None:
        return None
    count = _field(fh, body + 4)
    if count > _MAX_TABLE_ENTRIES:
        return None
    return list(struct.iter_unpack(f">{per_entry // 4}I", fh.read(count * per_entry)))


def _samples_in_chunks(runs: list[tuple[int, ...]], chunks: int) -> int:
    """How many samples the sample-to-chunk runs put into `chunks` chunks (-1: runs out of order or past the end)."""
    total = 0
    for (first, per_chunk, _), following in zip(runs, [*runs[1:], (chunks + 1, 0, 0)]):
        last = following[0] - 1
        if not 1 <= first <= last + 1 or last > chunks:
            return -1
        total += (last - first + 1) * per_chunk
    return total
