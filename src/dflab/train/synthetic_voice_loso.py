"""Leave-one-speaker-out fits of the synthetic-speech detector: out-of-fold probabilities for every file.

Folds are voices. Each voice of cloned_voices is a fold of its own (its real recordings and its clones leave
together; the "lj" fold also takes ljspeech_tts, LJSpeech's voice); the LibriSpeech speakers and LivePortrait
clips are dealt to those folds round-robin, so every file, real or synthetic, is scored by a model that never
heard its speaker. A model is a class-balanced L2 logistic regression on standardised window features; a file's
probability is the mean over its windows (as at scan time). Every file is scored as it is (codec version
"original") through the front end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.eval.metrics import eer, expected_calibration_error, roc_auc
from dflab.train.voice_clone_data import VoiceFile, featurised, text_of, versions_of


@dataclass
class Rows:
    x: np.ndarray  # windows x features
    owner: np.ndarray  # index of the file per row
    original: np.ndarray  # row comes from the file as it is (not a codec re-encoding)


# Feature sets that add AASIST-L's window outputs (dflab.train.aasist_window_cache) to the front end's blocks.
# The network is only run on the files as they are, so these sets use no codec re-encodings.
AASIST_SETS = {"aasist": ("aasist",), "aasist-published": ("aasist-published",)}  # beside voice_features' lfcc+aasist


def blocks_of(feature_set: str) -> tuple[str, ...]:
    from dflab.audio.voice_features import FEATURE_SETS

    return FEATURE_SETS[feature_set] if feature_set in FEATURE_SETS else AASIST_SETS[feature_set]


def _aasist_part(item: VoiceFile, block: str, n_windows: int, aasist_cache) -> np.ndarray:
    from dflab.audio.aasist_windows import spread
    from dflab.train.aasist_window_cache import DEFAULT_CACHE, aasist_block

    rows = spread(aasist_block(item, aasist_cache or DEFAULT_CACHE), n_windows)
    return rows[:, -1:] if block == "aasist-published" else rows


def build_rows(items: list[VoiceFile], feature_set: str, cache=None, originals_only: bool = False,
               aasist_cache=None) -> Rows:
    """Window rows of every file (and codec version, unless originals_only or the set uses AASIST)."""
    kwargs = {"cache": cache} if cache else {}
    names = blocks_of(feature_set)
    with_aasist = any(b.startswith("aasist") for b in names)
    xs, owners, originals = [], [], []
    for i, item in enumerate(items):
        for version in ("original",) if (originals_only or with_aasist) else versions_of(item):
            blocks = featurised(item, version, **kwargs)
            n = len(blocks["lfcc"])
            x = np.concatenate([_aasist_part(item, b, n, aasist_cache) if b.startswith("aasist") else blocks[b]
                                for b in names], axis=1)  # fmt: skip
            xs.append(x)
            owners += [i] * len(x)
            originals += [version == "original"] * len(x)
    return Rows(np.concatenate(xs), np.array(owners), np.array(originals))


def grouped_k_folds(items: list[VoiceFile], k: int) -> dict[str, int]:
    """k folds of whole voices: the cloned_voices voices dealt round-robin (sorted by name) to k folds, then
    every other group, so every file is still scored by a model that never heard its speaker. For models too
    costly to fit once per voice."""
    return {g: j % k for g, j in fold_of_groups(items).items()}


def fold_of_groups(items: list[VoiceFile]) -> dict[str, int]:
    """Each cloned_voices voice one fold; every other group dealt round-robin to those folds."""
    cloned = sorted({it.group for it in items if it.dataset == "cloned_voices"})
    folds = {g: k for k, g in enumerate(cloned)}
    others = sorted({it.group for it in items} - set(folds))
    for j, g in enumerate(others):
        folds[g] = j % len(cloned)
    return folds


def row_weights(items: list[VoiceFile], rows: Rows, mask: np.ndarray, cloned_weight: float) -> np.ndarray:
    """Every file counts once whatever its length and codec versions, both classes weigh the same, and the
    cloned_voices files (the modern generators) weigh `cloned_weight` times an old-corpus file."""
    labels = np.array([items[o].label for o in rows.owner])
    per_file = np.bincount(rows.owner[mask], minlength=len(items)).astype(float)
    w = np.zeros(len(rows.owner))
    w[mask] = 1.0 / per_file[rows.owner[mask]]
    w[mask] *= np.array([cloned_weight if items[o].dataset == "cloned_voices" else 1.0 for o in rows.owner[mask]])
    for cls in (0, 1):
        sel = mask & (labels == cls)
        w[sel] *= 0.5 / w[sel].sum()
    return w * mask.sum()


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit((x - mean) / scale, y, sample_weight=w)
    return mean, scale, clf.coef_[0].copy(), float(clf.intercept_[0])


def window_probability(model, x: np.ndarray) -> np.ndarray:
    mean, scale, coef, bias = model
    return 1.0 / (1.0 + np.exp(-(((x - mean) / scale) @ coef + bias)))


def fold_splits(items: list[VoiceFile], rows: Rows, folds: dict[str, int], trains: np.ndarray,
                unseen_text: bool = False):
    """Per fold k: (k, the rows its model may train on, the original rows it scores). A model of fold k trains on
    the `trains` rows of the other folds; with unseen_text, also on no rendering of a text the held-out voices'
    renderings say."""
    fold = np.array([folds[items[o].group] for o in rows.owner])
    texts = np.array([text_of(items[o]) for o in rows.owner])
    for k in sorted(set(folds.values())):
        held_out = fold == k
        train = trains & ~held_out
        if unseen_text:
            said = {text_of(items[o]) for o in np.unique(rows.owner[held_out])}
            train &= ~np.isin(texts, list(said))
        yield k, train, held_out & rows.original


def out_of_fold_windows(items: list[VoiceFile], rows: Rows, c: float = 0.05, cloned_weight: float = 3.0,
                        use_old: bool = True, unseen_text: bool = False,
                        folds: dict[str, int] | None = None) -> np.ndarray:
    """Each original window's probability from the model fitted without its fold (its voice, or the voices
    `folds` deals to it); with unseen_text, also without any other voice's rendering of a text the held-out
    voices' renderings say. Rows of codec re-encodings stay NaN."""
    trains = np.array([items[o].trains and (use_old or items[o].dataset == "cloned_voices") for o in rows.owner])
    y = np.array([items[o].label for o in rows.owner])
    out = np.full(len(rows.owner), np.nan)
    for _, train, scored in fold_splits(items, rows, folds or fold_of_groups(items), trains, unseen_text):
        model = fit_logistic(rows.x[train], y[train], row_weights(items, rows, train, cloned_weight)[train], c)
        out[scored] = window_probability(model, rows.x[scored])
    return out


def file_means(items: list[VoiceFile], owners: np.ndarray, window_p: np.ndarray) -> np.ndarray:
    """A file's probability: the mean over its windows (as at scan time)."""
    out = np.full(len(items), np.nan)
    for i in np.unique(owners):
        out[i] = float(window_p[owners == i].mean())
    return out


def out_of_fold(items: list[VoiceFile], rows: Rows, c: float = 0.05, cloned_weight: float = 3.0,
                use_old: bool = True, unseen_text: bool = False) -> np.ndarray:
    """Each file's probability from the model fitted without its fold (see out_of_fold_windows)."""
    p = out_of_fold_windows(items, rows, c, cloned_weight, use_old, unseen_text)
    return file_means(items, rows.owner[rows.original], p[rows.original])


def late_fusion(items: list[VoiceFile], parts: list[tuple[Rows, np.ndarray]]) -> np.ndarray:
    """File probabilities from several models' out-of-fold window probabilities: per window, the mean of
    their log-odds (equal weights: fitting the weights would need another level of folds), then the mean
    over the file's windows. Every model's original rows must describe the same windows in the same order."""
    owners = parts[0][0].owner[parts[0][0].original]
    logits = []
    for rows, p in parts:
        if not np.array_equal(rows.owner[rows.original], owners):
            raise ValueError("late fusion needs models that scored the same windows in the same order")
        q = np.clip(p[rows.original], 1e-6, 1 - 1e-6)
        logits.append(np.log(q / (1 - q)))
    return file_means(items, owners, 1.0 / (1.0 + np.exp(-np.mean(logits, axis=0))))


def fit_all(items: list[VoiceFile], rows: Rows, c: float = 0.05, cloned_weight: float = 3.0,
            exclude_groups: tuple[str, ...] = ()):
    """The model fitted on every training file except the voices in exclude_groups."""
    trains = np.array([items[o].trains and items[o].group not in exclude_groups for o in rows.owner])
    y = np.array([items[o].label for o in rows.owner])
    return fit_logistic(rows.x[trains], y[trains], row_weights(items, rows, trains, cloned_weight)[trains], c)


def figures(labels, scores) -> dict:
    labels, scores = np.asarray(labels), np.asarray(scores)
    e, _ = eer(labels, scores)
    return {"n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum()),
            "auc": round(float(roc_auc(labels, scores)), 4), "eer": round(float(e), 4),
            "ece": round(float(expected_calibration_error(labels, scores)), 4)}  # fmt: skip


def operating_points(real_scores: np.ndarray) -> dict[str, float]:
    """The probability 1 % (manipulated) and 5 % (suspicious) of real development files reach, out of fold."""
    return {"manipulated": float(np.quantile(real_scores, 0.99)), "suspicious": float(np.quantile(real_scores, 0.95))}


def loso_report(items: list[VoiceFile], p: np.ndarray) -> dict:
    """Figures on cloned_voices (all renderings, Tortoise clones only), the old TTS set, and the real speech
    outside cloned_voices flagged at the operating points placed on every real file's out-of-fold score."""
    y = np.array([it.label for it in items])
    ds = np.array([it.dataset for it in items])
    method = np.array([it.method for it in items])
    cloned = ds == "cloned_voices"
    clones = cloned & ((y == 0) | (method == "tortoise_clone"))
    report = {"cloned_voices": figures(y[cloned], p[cloned]), "tortoise_clones": figures(y[clones], p[clones]),
              "ljspeech_tts+librispeech": figures(y[np.isin(ds, ["ljspeech_tts", "librispeech"])],
                                                  p[np.isin(ds, ["ljspeech_tts", "librispeech"])])}  # fmt: skip
    points = operating_points(p[y == 0])
    report["operating_points"] = {k: round(v, 4) for k, v in points.items()}
    flagged = {}
    for name in ("cloned_voices", "ljspeech_tts", "librispeech", "liveportrait"):
        real = (ds == name) & (y == 0)
        fake = (ds == name) & (y == 1)
        flagged[name] = {"real_suspicious": f"{int((p[real] >= points['suspicious']).sum())}/{int(real.sum())}",
                         "real_manipulated": f"{int((p[real] >= points['manipulated']).sum())}/{int(real.sum())}",
                         "fake_suspicious": f"{int((p[fake] >= points['suspicious']).sum())}/{int(fake.sum())}"}  # fmt: skip
    report["flagged"] = flagged
    report["liveportrait"] = {items[i].path.stem: round(float(p[i]), 4) for i in np.flatnonzero(ds == "liveportrait")}
    return report
