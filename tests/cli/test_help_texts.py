"""Every command's --help renders as a user reads it: no argparse escapes left in the text."""

import argparse

from dflab.cli.main import build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "dflab"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_no_help_text_shows_a_doubled_percent_sign():
    seen = {}
    for name, parser in _parsers(build_parser()):
        seen[name] = parser.format_help()
    assert len(seen) > 30  # every verb and its sub-verbs were walked
    shown = [name for name, text in seen.items() if "%%" in text]
    assert not shown, f"'%%' printed literally in the help of: {shown}"
