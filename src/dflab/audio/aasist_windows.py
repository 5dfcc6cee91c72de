"""AASIST-L outputs for the synthetic-speech detector's windows: one 160-d graph embedding and the published
spoof log-odds per window of a harmonised clip.

The windows are the LFCC model's own (dflab.audio.voice_features: the clip after the front end, its first and
last 0.3 s left out, 4 s windows), so the two kinds of feature describe the same stretch of audio and can sit
side by side in one row. AASIST reads 64,600 samples (4.04 s) from each window's start; a window shorter than
that is repeated to fill it, as upstream AASIST does.

The network costs about 0.8 s of one CPU core per window, far more than the LFCC statistics, so it runs on one
window in EVERY (the LFCC windows start every 2 s: one AASIST window per 8 s of speech, about 1 s of CPU per
10 s of audio) and each LFCC window takes the AASIST row of the nearest window run before it (`spread`).
"""

from __future__ import annotations

import numpy as np

EMBEDDING_DIMS = 160
FEATURE_DIMS = EMBEDDING_DIMS + 1  # embedding, then the published spoof log-odds
BATCH = 2  # crops per forward pass: the first encoder block holds ~60 MB of activations per crop
EVERY = 4  # AASIST runs on LFCC windows 0, 4, 8, ...: windows start every 2 s, so once per 8 s of speech


def sampled(spans: list[tuple[int, int]], every: int = EVERY) -> list[tuple[int, int]]:
    """The spans AASIST runs on: the first and then one in `every`."""
    return spans[::every]


def spread(block: np.ndarray, n_windows: int, every: int = EVERY) -> np.ndarray:
    """(n_windows, dims): LFCC window i takes the AASIST row of sampled window i // every."""
    return block[np.minimum(np.arange(n_windows) // every, len(block) - 1)]


def crop_at(samples: np.ndarray, start: int, crop: int) -> np.ndarray:
    """`crop` samples from `start`; a clip too short to give them is repeated (from `start`) to fill the crop."""
    piece = np.asarray(samples[start : start + crop], dtype=np.float32)
    if len(piece) < crop:
        piece = np.tile(piece, int(np.ceil(crop / max(len(piece), 1))))[:crop]
    return piece


def window_outputs(core: np.ndarray, spans: list[tuple[int, int]], variant: str = "AASIST-L") -> np.ndarray:
    """(windows, 161): AASIST's embedding and spoof log-odds for each (start, end) span of `core`, the
    harmonised clip with its edges cut (dflab.audio.voice_features.speech_core)."""
    import torch

    from dflab.audio.aasist import CROP_SAMPLES, load_model, spoof_log_odds

    model = load_model(variant)
    batch = np.stack([crop_at(core, start, CROP_SAMPLES) for start, _ in spans])
    rows = []
    with torch.inference_mode():
        for i in range(0, len(batch), BATCH):
            embedding = model.embed(torch.from_numpy(batch[i : i + BATCH]))
            log_odds = spoof_log_odds(model.out_layer(embedding))
            rows.append(np.concatenate([embedding.numpy().astype(np.float64), log_odds[:, None]], axis=1))
    return np.concatenate(rows)
