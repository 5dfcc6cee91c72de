"""Progress bars for the long CLI commands (`dflab eval`, `dflab train ...`): tqdm on stderr.

A bar is drawn only when a person is watching: stderr is a terminal, and neither --quiet nor --json was
given (--json output is for scripts). Results always go to stdout, so turning bars off changes no output.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars or progress messages on stderr")


def progress_wanted(args: argparse.Namespace, stream: TextIO | None = None) -> bool:
    """True when bars should be drawn on `stream` (default stderr) for a command parsed into `args`."""
    if getattr(args, "quiet", False) or getattr(args, "json", False):
        return False
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def progress_bar(args: argparse.Namespace, **tqdm_options):
    """A tqdm bar on stderr; disabled (every call a no-op) unless progress_wanted(args)."""
    from tqdm import tqdm

    return tqdm(file=sys.stderr, disable=not progress_wanted(args), leave=False, **tqdm_options)
