"""The experiments beside the LFCC logistic model: grouped folds by voice, window maps, the small CNN."""

from pathlib import Path

import numpy as np
import pytest

from dflab.train.synthetic_voice_loso import fold_of_groups, grouped_k_folds
from dflab.train.voice_clone_data import VoiceFile


def _corpus() -> list[VoiceFile]:
    items = [VoiceFile(Path(f"{v}/{i}.wav"), i % 2, "m", v, "cloned_voices") for v in "abcdefgh" for i in range(3)]
    items += [VoiceFile(Path(f"libri{j}.flac"), 0, "librispeech", f"libri_{j}", "librispeech") for j in range(5)]
    return items


def test_grouped_k_folds_keep_each_voice_whole_and_use_every_fold():
    items = _corpus()
    folds = grouped_k_folds(items, 3)
    assert set(folds) == {it.group for it in items}  # every voice, cloned or not, has exactly one fold
    assert set(folds.values()) == {0, 1, 2}
    cloned = sorted({it.group for it in items if it.dataset == "cloned_voices"})
    assert [folds[v] for v in cloned] == [j % 3 for j in range(len(cloned))]  # dealt round-robin by name
    # one fold per voice is the same dealing with k = the number of cloned voices
    assert grouped_k_folds(items, len(cloned)) == fold_of_groups(items)


def test_window_maps_give_one_map_per_window_of_the_logistic_rows():
    from dflab.audio.voice_features import window_features
    from dflab.train.voice_window_maps import N_FBANK, group_delay_statistics, window_maps

    rng = np.random.default_rng(0)
    t = np.arange(16_000 * 9) / 16_000
    clip = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(len(t)))
    maps = window_maps(clip.astype(np.float32), with_embedding=False)
    rows = window_features(clip.astype(np.float32), "lfcc")
    assert len(maps["fbank"]) == len(maps["lfcc"]) == len(rows) >= 3
    assert maps["fbank"][0].shape[1] == N_FBANK and maps["lfcc"][0].shape[1] == 60
    assert len(maps["fbank"][0]) == len(maps["active"][0])
    gd = group_delay_statistics(clip[:64_000])
    assert gd.shape == (120,) and np.isfinite(gd).all()


def test_the_cnn_scores_a_window_of_any_length_and_its_activation_is_max_feature_map():
    torch = pytest.importorskip("torch")
    from dflab.train.voice_map_cnn import _network

    torch.manual_seed(0)
    net = _network(60).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 399, 60)).shape == (2,)
        assert net(torch.randn(1, 150, 60)).shape == (1,)
    mfm = net.body[1]
    x = torch.tensor([[[[1.0]], [[-2.0]], [[3.0]], [[0.5]]]])  # 4 channels: halves (1, -2) and (3, 0.5)
    assert mfm(x).flatten().tolist() == [3.0, 0.5]
