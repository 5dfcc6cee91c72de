"""The `dflab` command. Each verb group lives in its own module with `register(subparsers)`.

Every DflabError (and a few well-understood OS errors) becomes one line on stderr and exit code 2;
an unexpected exception still shows its traceback, because that is a bug to report.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dflab import __version__
from dflab.cli.early_children import start_early_children
from dflab.errors import DflabError
from dflab.heap import collect_garbage_less_often, limit_malloc_arenas
from dflab.worker_process import close_unclaimed

# Verb-group modules under dflab.cli, in the order `dflab --help` lists them.
VERB_MODULES: list[str] = ["scan", "eval", "keys", "sign", "verify", "ledger", "register", "trace", "batch", "watermark", "train", "compare", "consent", "swap", "gan", "serve", "worker", "api_key", "db"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dflab",
        description="The deepfake lab: detect manipulated faces and voices, trace media to registered "
        "originals, and make disclosed synthetic media for research.",
    )
    parser.add_argument("--version", action="version", version=f"dflab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in VERB_MODULES:
        importlib.import_module(f"dflab.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    limit_malloc_arenas()  # before any thread allocates: a scan's peak memory grows with idle arenas (dflab/heap.py)
    collect_garbage_less_often()  # a scan's imports made the collector walk a million objects again and again
    arguments = sys.argv[1:] if argv is None else list(argv)
    start_early_children(arguments)  # a video scan's model processes load on the idle core while we import
    try:
        return _run(arguments)
    finally:
        close_unclaimed()


def _run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DflabError as exc:
        from dflab.cli.common import error_text

        print(f"dflab {args.command}: error: {error_text(exc, args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dflab {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
