"""Window-level out-of-fold scores and the late fusion of two models' windows (dflab.train.synthetic_voice_loso)."""

from pathlib import Path

import numpy as np
import pytest

from dflab.train.synthetic_voice_loso import Rows, file_means, late_fusion
from dflab.train.voice_clone_data import VoiceFile


def _items(n: int) -> list[VoiceFile]:
    return [VoiceFile(Path(f"f{i}.wav"), i % 2, "m", f"g{i}", "cloned_voices") for i in range(n)]


def test_file_means_average_each_files_windows():
    owners = np.array([0, 0, 1, 2, 2, 2])
    p = np.array([0.2, 0.4, 0.9, 0.1, 0.2, 0.3])
    assert np.allclose(file_means(_items(3), owners, p), [0.3, 0.9, 0.2])


def test_late_fusion_averages_log_odds_per_window_and_skips_codec_rows():
    items = _items(2)
    # the first model also has a codec re-encoding row (not original) that must be left out
    a = Rows(np.zeros((4, 1)), np.array([0, 0, 1, 1]), np.array([True, True, True, False]))
    b = Rows(np.zeros((3, 1)), np.array([0, 0, 1]), np.array([True, True, True]))
    pa = np.array([0.9, 0.5, 0.2, np.nan])
    pb = np.array([0.1, 0.5, 0.8])
    fused = late_fusion(items, [(a, pa), (b, pb)])
    assert fused == pytest.approx([0.5, 0.5])  # opposite log-odds cancel window by window
    pb_sure = np.array([0.9, 0.5, 0.2])
    assert late_fusion(items, [(a, pa), (b, pb_sure)]) == pytest.approx([(0.9 + 0.5) / 2, 0.2])


def test_late_fusion_refuses_models_that_scored_different_windows():
    items = _items(2)
    a = Rows(np.zeros((2, 1)), np.array([0, 1]), np.array([True, True]))
    b = Rows(np.zeros((3, 1)), np.array([0, 0, 1]), np.array([True, True, True]))
    with pytest.raises(ValueError, match="same windows"):
        late_fusion(items, [(a, np.array([0.5, 0.5])), (b, np.array([0.5, 0.5, 0.5]))])
