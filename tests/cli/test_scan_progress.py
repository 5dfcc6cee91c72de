"""When `dflab scan` draws its progress bar: for a person at a terminal, never into a script's pipes."""

import sys

import pytest

from dflab.cli import scan as scan_cli
from dflab.cli.main import build_parser


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    "argv, stdout_tty, stderr_tty, shown",
    [
        (["scan", "x.jpg"], True, True, True),
        (["scan", "x.jpg"], False, True, True),  # human output piped, bar still on the terminal
        (["scan", "x.jpg", "--quiet"], True, True, False),
        (["scan", "x.jpg", "--json"], True, True, True),  # JSON read by a person at the terminal
        (["scan", "x.jpg", "--json"], False, True, False),  # JSON read by a script
        (["scan", "x.jpg"], True, False, False),  # stderr to a log file
    ],
)
def test_progress_bar_only_for_a_person(monkeypatch, argv, stdout_tty, stderr_tty, shown):
    args = build_parser().parse_args(argv)
    monkeypatch.setattr(sys, "stdout", _Stream(stdout_tty))
    monkeypatch.setattr(sys, "stderr", _Stream(stderr_tty))
    assert scan_cli._show_progress(args) is shown


def test_the_bar_waits_before_it_appears():
    bar = scan_cli._progress_bar("clip.mp4")
    try:
        assert bar.delay == scan_cli.PROGRESS_DELAY_S >= 1.0  # short scans never draw one
    finally:
        bar.close()
