"""Leave-one-TTS-system-out evaluation of the synthetic-speech model.

For each of the 7 TTS systems, and each of 5 folds (one LJSpeech sentence, two LibriSpeech speakers and
two LivePortrait clips held out per fold): train on the other systems' renderings of the other sentences
plus the remaining real speech, then score the held-out system's renderings of the held-out sentence and
the held-out real speech. So the test never shares a TTS system, a sentence or a real speaker with the
training data. Test clips are scored as they are (not re-encoded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.audio.antispoof import Utterance, featurise, fit
from dflab.eval.metrics import eer

N_FOLDS = 5


@dataclass(frozen=True)
class SystemResult:
    system: str
    eer: float
    n_fake: int
    n_real: int
    fake_scores: np.ndarray
    real_scores: np.ndarray
    real_corpus: np.ndarray  # "ljspeech" (the TTS voice itself), "librispeech" or "liveportrait", per real score

    def eer_against(self, corpus: str) -> float:
        """EER against one real corpus only (ljspeech: the same voice the TTS systems imitate)."""
        real = self.real_scores[self.real_corpus == corpus]
        return eer(np.r_[np.ones(len(self.fake_scores)), np.zeros(len(real))], np.r_[self.fake_scores, real])[0]


def _fold_of(item: Utterance, sentences: list[str], real_groups: list[str]) -> int:
    if item.group in sentences:
        return sentences.index(item.group) % N_FOLDS
    return real_groups.index(item.group) % N_FOLDS


def leave_one_system_out(
    items: list[Utterance], c: float = 0.05, featurised: tuple[np.ndarray, np.ndarray, list[int]] | None = None
) -> list[SystemResult]:
    """Per held-out TTS system: EER of its renderings against held-out real speech.

    `featurised` (from `featurise(items, augment=True)`) can be passed to try several settings cheaply."""
    sentences = sorted({i.group for i in items if i.label == 1})
    real_groups = sorted({i.group for i in items if i.label == 0 and i.group not in sentences})
    folds = np.array([_fold_of(i, sentences, real_groups) for i in items])
    x_aug, y_aug, owners = featurised or featurise(items, augment=True)
    owners = np.array(owners)
    plain_rows = np.array([np.flatnonzero(owners == i)[0] for i in range(len(items))])
    systems = np.array([i.system for i in items])
    results = []
    for held in sorted(set(systems) - {"real"}):
        fake_scores, real_scores, corpus = [], [], []
        for fold in range(N_FOLDS):
            train_items = (folds != fold) & (systems != held)
            model = fit(x_aug[train_items[owners]], y_aug[train_items[owners]], c=c)
            fake_idx = np.flatnonzero((folds == fold) & (systems == held))
            real_idx = np.flatnonzero((folds == fold) & (systems == "real"))
            fake_scores.extend(model.probability(x_aug[plain_rows[fake_idx]]))
            real_scores.extend(model.probability(x_aug[plain_rows[real_idx]]))
            corpus.extend(items[i].vocoder for i in real_idx)
        f, r = np.array(fake_scores), np.array(real_scores)
        rate, _ = eer(np.r_[np.ones(len(f)), np.zeros(len(r))], np.r_[f, r])
        results.append(SystemResult(held, rate, len(f), len(r), f, r, np.array(corpus)))
    return results
