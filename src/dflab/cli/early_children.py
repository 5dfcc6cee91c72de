"""The model child processes of a video's scan, started by `dflab scan` before its own imports.

A video's scan runs the identity embeddings and the face-crop network in child processes that load their models
while the file decodes (dflab/worker_process.py). Started by the scan itself, they begin about half a second
after the interpreter (importing the command, the scanner and creating the detectors, on one core while the
second is idle); started here, first thing in `main`, that half second of their start-up (importing torch,
loading the network and dlib) runs on the idle core instead of in the face stage (docs/performance.md).

Only when the command line says the scan will ask for them: `dflab scan` whose first file exists and is named as
a video (only the first scan of a process uses children), with no --detectors or one that names a detector that
uses the child. The scan takes each one whose command line is exactly the one it would start
(dflab/worker_commands.py builds both); any it does not take (an audio-only .mp4, an error first) is killed
when its first scan starts or when the command ends. Nothing here imports more than the standard library and
dflab's light modules.
"""

from __future__ import annotations

from pathlib import Path

# `dflab scan` options that take a value (cli/scan.py; a test checks the two agree)
SCAN_VALUE_OPTIONS = frozenset({"--report", "--detectors", "--fps", "--all-frames-up-to", "--face-fps",
                                "--max-faces", "--operating-point", "--reference"})  # fmt: skip
# The detectors each child serves (the default set, with no --detectors, includes both)
EMBEDDING_READERS = frozenset({"identity_drift"})  # reads_identity_embeddings
FACE_CROP_DETECTOR = "face_crop"
FACE_CROP_WORKER_MODULE = "dflab.detect.learned.face_crop_worker"  # run with -m: the network loads there
SCANNER_TORCH_THREADS = 1  # detect.scanner.DEFAULT_TORCH_THREADS, which the face-crop child is started with


def planned_children(argv: list[str]) -> list[str]:
    """Which children ("embeddings", "face_crop") the scan `argv` (the arguments after `dflab`) will ask for;
    empty when in doubt (the scan then starts its own)."""
    if not argv or argv[0] != "scan":
        return []
    first_file, detectors = _first_file_and_detectors(argv[1:])
    if first_file is None:
        return []
    from dflab.media.suffixes import VIDEO_SUFFIXES

    path = Path(first_file)
    if path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
        return []
    names = None if detectors is None else {name.strip() for name in detectors.split(",")}
    children = []
    if names is None or names & EMBEDDING_READERS:
        children.append("embeddings")
    if names is None or FACE_CROP_DETECTOR in names:
        children.append("face_crop")
    return children


def _first_file_and_detectors(args: list[str]) -> tuple[str | None, str | None]:
    """The first FILE and the --detectors value of a scan's arguments; (None, None) for --help, --list-detectors
    or anything this reading does not know."""
    first_file, detectors, index = None, None, 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            first_file = first_file or (args[index + 1] if index + 1 < len(args) else None)
            break
        if arg.startswith("-"):
            name, has_value, value = arg.partition("=")
            if name in ("-h", "--help", "--list-detectors"):
                return None, None
            if name in SCAN_VALUE_OPTIONS and not has_value:
                index += 1
                value = args[index] if index < len(args) else ""
            if name == "--detectors":
                detectors = value
        elif first_file is None:
            first_file = arg
        index += 1
    return first_file, detectors


def start_early_children(argv: list[str]) -> None:
    """Start the children the scan `argv` will ask for (see the module's docstring); never raises."""
    try:
        children = planned_children(argv)
        if not children:
            return
        from dflab.worker_commands import (
            EMBEDDING_WHAT, FACE_CROP_WHAT, embedding_worker_command, face_crop_worker_command,
        )  # fmt: skip
        from dflab.worker_process import start_early

        # The face-crop child first: it has the most to load (torch and the network, ~1 s against dlib's 0.35 s).
        if "face_crop" in children:
            command = face_crop_worker_command(FACE_CROP_WORKER_MODULE, None, SCANNER_TORCH_THREADS)
            start_early(command, FACE_CROP_WHAT)
        if "embeddings" in children:
            start_early(embedding_worker_command(), EMBEDDING_WHAT)
    except Exception:  # noqa: BLE001 - an early start is only a head start: the scan starts its own and reports
        return
