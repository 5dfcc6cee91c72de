"""Progress bars of the long commands: on stderr only for a terminal, off with --quiet or --json."""

from __future__ import annotations

import argparse
import io
import sys

import numpy as np
import pytest

import dflab.cli.eval as cli_eval
from dflab.cli.main import build_parser, main
from dflab.cli.progress import progress_wanted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_for_a_terminal_and_never_with_quiet_or_json():
    assert progress_wanted(argparse.Namespace(quiet=False, json=False), Terminal())
    assert not progress_wanted(argparse.Namespace(quiet=False, json=False), io.StringIO())  # a pipe or a file
    assert not progress_wanted(argparse.Namespace(quiet=True, json=False), Terminal())
    assert not progress_wanted(argparse.Namespace(quiet=False, json=True), Terminal())


@pytest.mark.parametrize("argv", [
    ["eval", "m.csv"],
    ["train", "synthetic-image", "m.csv", "--out", "w.json"],
    ["train", "detector", "--out", "w.pt"],
    ["train", "synthetic-speech"],
    ["train", "findings", "m.csv", "--finding", "face_manipulated", "--out", "t.json"],
    ["register", "a.jpg", "b.jpg"],
    ["scan", "a.jpg"],
])  # fmt: skip
def test_every_long_command_takes_quiet(argv):
    assert build_parser().parse_args([*argv, "--quiet"]).quiet
    assert not build_parser().parse_args(argv).quiet


def test_eval_draws_a_bar_on_a_terminal_and_none_with_quiet(tmp_path, monkeypatch, capsys):
    lines = ["path,label"]
    for name, label in (("a.png", "real"), ("b.png", "fake")):
        (tmp_path / name).write_bytes(b"stand-in")
        lines.append(f"{name},{label}")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(cli_eval, "_default_scanner", lambda: (lambda path: 0.9 if path.name == "b.png" else 0.1))
    for extra, expect_bar in (([], True), (["--quiet"], False)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert main(["eval", str(manifest), "--bootstrap", "0", *extra]) == 0
        assert ("file/s" in terminal.getvalue()) == expect_bar, terminal.getvalue()  # tqdm: "eval: ..| 0/2 [.., ?file/s]"
        assert "2 rows" in capsys.readouterr().out  # the results are the same either way


def test_speech_features_one_utterance_at_a_time_equal_one_call():
    from tqdm import tqdm

    from dflab.audio.antispoof import Utterance, featurise
    from dflab.cli.train_speech import featurise_with_progress

    rng = np.random.default_rng(0)
    items = [Utterance((0.1 * rng.standard_normal(16_000)).astype(np.float32), label, "s", "v", f"g{label}")
             for label in (0, 1)]  # fmt: skip
    bar = tqdm(total=len(items), file=io.StringIO())
    x, y, owners = featurise_with_progress(items, featurise, bar)
    x_all, y_all, owners_all = featurise(items, augment=True)
    assert np.array_equal(x, x_all) and np.array_equal(y, y_all) and owners == owners_all == [0, 0, 0, 1, 1, 1]
    assert bar.n == len(items)
