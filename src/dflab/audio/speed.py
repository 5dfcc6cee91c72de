"""Playback-speed estimation from one speech clip: is it natural speed, and if not, by what factor?

A clip counts as changed when any of three speaker-independent tests says so, each aimed at one way of
changing speed; the factor comes from a fourth model. All are fitted by `python -m dflab.train.speed_calibrate`
on the speed test set (the MLPs are evaluated here in numpy; an MLP without hidden layers is linear):

1. Phase vocoder: a small MLP classifier on CLASSIFIER_FEATURES, the loss of glottal pulses in the LPC residual
   (kurtosis) and smeared onsets. Speaker norms (rate, pitch) in it made a quarter of natural clips of new
   speakers read as changed. Like the resample classifier it is the average of five seeds' networks (stored as
   one wider network) and its threshold sits above every natural clip of a speaker it was not fitted on.
2. WSOLA (ffmpeg atempo): the spectral line of its crossfade grid (dflab.audio.artefacts.line_strength, at the
   clip's own sample rate), judged alone against a threshold just above the highest line of any natural clip
   the model was calibrated on (3.55; nothing else is fitted). In theory the line is exponentially distributed
   with mean 1 in natural audio, but its tail is lighter: the highest of 148 natural clips was 3.55, where
   Exp(1) would put about 5.6, so the theory's 1 % point (ln 100 = 4.6) missed 1.1x atempo clips (their line is above
   3.55 in 76 % of them, above 4.6 in 65 %). Inside the learned classifier the line competed with the phase-vocoder
   measures and atempo clips with lines of 5-6 were missed.
3. Tape-style resampling leaves no method trace: pitch, formants and rate all move by the factor, and a slowed
   clip loses its top band (dflab.audio.band_edge). A classifier on RESAMPLE_FEATURES judges "pitch/rate moved";
   its bias is shifted so that 0.5 sits above every natural clip of a speaker it was not fitted on (an unusual
   voice reads as "pitch moved" against the others' norms).

Recordings over 15 s are also judged in 10 s windows (speed_windows, windowed_reading): a stretch re-timed
inside a longer recording is diluted in the whole.

The factor: an MLP regressor of log2(factor) on every feature (speaking rate, pitch and spectra against
natural speech), whatever the tests say; speakers differ by +-20 %, so it is within 5 % for about a quarter of
changed clips (README, "Playback speed").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dflab.atomic import write_text_atomic
from dflab.audio import SAMPLE_RATE
from dflab.audio.speed_features import FEATURE_NAMES, feature_vector, speed_features
from dflab.errors import NotFound, UsageError

DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "speed.json"
# Rates and spreads are compared on a log scale: a speed factor multiplies them.
LOG_FEATURES = (
    "syllable_rate", "articulation_rate", "pause_mean_s", "nucleus_gap_median_s", "modulation_centroid_hz",
    "modulation_peak_hz", "f0_slope_st_per_s", "voiced_run_s", "onset_rate", "flatness_median",
    "line_wsola_hop", "line_wsola_window",
)  # fmt: skip
# Kurtosis near 0 (phase vocoder) against 1-10 (natural pulses): log-scaled, with an offset since it can be < 0.
SHIFTED_LOG_FEATURES = {"residual_kurtosis": 0.05}
# Phase-vocoder traces for the learned classifier; WSOLA's grid line has its own test (SpeedModel.grid_threshold).
CLASSIFIER_FEATURES = ("residual_kurtosis", "residual_kurtosis_p25", "onset_slope_db_per_5ms", "onset_slope_p90")
GRID_FEATURE = "line_wsola_hop"
# Leave-one-speaker-out on the speed test set, the line's threshold at the other speakers' highest
# natural clip (3.33-3.55) against ln 100 = 4.6: natural kept 95.3 / 98.0 %, slowed caught 99.1 / 98.6 %, sped
# up 95.9 / 93.6 %.
GRID_SLOPE = 3.0  # logit per unit of line strength around the threshold: p 0.05 -> 0.95 over +-1
# Pitch, formants (spectral centroid/rolloff), rate and the band edge: leave-one-speaker-out on the speed test set
# this kept natural false alarms within 1-2 points, where adding f0 spread or the modulation spectrum did not.
RESAMPLE_FEATURES = (
    "f0_median_st", "centroid_log2_hz", "rolloff_log2_hz", "syllable_rate", "articulation_rate",
    "band_edge_fraction", "band_edge_drop_db",
)  # fmt: skip


@dataclass(frozen=True)
class Mlp:
    layers: list[tuple[np.ndarray, np.ndarray]]  # (weights in x out, bias); ReLU between layers

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x[:, 0]

    def to_json(self) -> list:
        return [[w.tolist(), b.tolist()] for w, b in self.layers]

    @classmethod
    def from_json(cls, data: list) -> Mlp:
        return cls([(np.array(w, dtype=np.float64).reshape(len(w), -1), np.array(b, dtype=np.float64)) for w, b in data])


def prepare(raw: np.ndarray, names: tuple[str, ...] = FEATURE_NAMES) -> np.ndarray:
    """Log-transform the rate-like columns (raw: clips x features, NaN kept)."""
    x = np.array(raw, dtype=np.float64, copy=True)
    for name in LOG_FEATURES:
        col = names.index(name)
        x[:, col] = np.log2(np.maximum(x[:, col], 1e-4))
    for name, offset in SHIFTED_LOG_FEATURES.items():
        col = names.index(name)
        x[:, col] = np.log2(np.maximum(x[:, col], 0.0) + offset)
    return x


def load_clip(path: str | Path) -> tuple[np.ndarray, tuple[np.ndarray, int] | None]:
    """(16 kHz samples, (native samples, native rate) or None when the file is 16 kHz) for estimate_speed."""
    from dflab.media import load_audio
    from dflab.media.load import NATIVE_RATE

    native = load_audio(path, NATIVE_RATE)
    if native.sample_rate == SAMPLE_RATE:
        return native.samples, None
    return load_audio(path).samples, (native.samples, native.sample_rate)


def standardise(raw: np.ndarray, impute: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Raw features -> the models' inputs: log-transformed, NaN imputed, z-scored and clipped to +-8."""
    x = prepare(np.atleast_2d(raw))
    x = np.where(np.isfinite(x), x, impute)
    return np.clip((x - mean) / scale, -8, 8)


def columns(names: tuple[str, ...]) -> np.ndarray:
    return np.array([FEATURE_NAMES.index(n) for n in names], dtype=int)


@dataclass(frozen=True)
class SpeedModel:
    impute: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    classifier: Mlp  # logit of "phase-vocoder traces", on the CLASSIFIER_FEATURES columns
    regressor: Mlp  # log2 of the factor, on every column
    resample: Mlp  # logit of "pitch/rate moved" (tape-style), on the RESAMPLE_FEATURES columns, 0 at its threshold
    grid_threshold: float  # WSOLA grid line strength above which the clip counts as changed
    meta: dict = field(default_factory=dict)

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        return standardise(raw, self.impute, self.mean, self.scale)

    def predict_parts(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(p method traces, p pitch/rate moved, p WSOLA grid, estimated factor) per row of raw features."""
        raw = np.atleast_2d(raw)
        z = self.standardise(raw)
        p_method = _sigmoid(self.classifier(z[:, columns(CLASSIFIER_FEATURES)]))
        p_resampled = _sigmoid(self.resample(z[:, columns(RESAMPLE_FEATURES)]))
        line = np.nan_to_num(raw[:, FEATURE_NAMES.index(GRID_FEATURE)], nan=0.0)
        p_grid = _sigmoid(GRID_SLOPE * (line - self.grid_threshold))
        factor = 2.0 ** np.clip(self.regressor(z), -2.0, 2.0)
        return p_method, p_resampled, p_grid, factor

    def predict(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probability the speed was changed, estimated factor) per row: changed when any signal says so."""
        p_method, p_resampled, p_grid, factor = self.predict_parts(raw)
        return np.maximum.reduce([p_method, p_resampled, p_grid]), factor

    def to_json(self) -> dict:
        return {"features": list(FEATURE_NAMES), "log_features": list(LOG_FEATURES),
                "shifted_log_features": SHIFTED_LOG_FEATURES, "classifier_features": list(CLASSIFIER_FEATURES),
                "resample_features": list(RESAMPLE_FEATURES), "impute": self.impute.tolist(),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "classifier": self.classifier.to_json(),
                "regressor": self.regressor.to_json(), "resample": self.resample.to_json(),
                "grid_threshold": self.grid_threshold, "meta": self.meta}  # fmt: skip

    def save(self, path: str | Path) -> Path:
        return write_text_atomic(path, json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: str | Path = DEFAULT_WEIGHTS) -> SpeedModel:
        path = Path(path)
        if not path.exists():
            raise NotFound(f"speed model not found at {path} (run `python -m dflab.train.speed_calibrate`)")
        data = json.loads(path.read_text())
        if (tuple(data["features"]) != FEATURE_NAMES or tuple(data["log_features"]) != LOG_FEATURES
                or data.get("shifted_log_features") != SHIFTED_LOG_FEATURES
                or tuple(data.get("classifier_features", ())) != CLASSIFIER_FEATURES
                or tuple(data.get("resample_features", ())) != RESAMPLE_FEATURES or "grid_threshold" not in data):
            raise UsageError(f"{path} was fitted on other speed features; re-run the calibration")
        return cls(np.array(data["impute"]), np.array(data["mean"]), np.array(data["scale"]),
                   Mlp.from_json(data["classifier"]), Mlp.from_json(data["regressor"]), Mlp.from_json(data["resample"]),
                   float(data["grid_threshold"]), data.get("meta", {}))  # fmt: skip


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0)))


# How speech-like the sound is decides which tests may speak. The three tests were fitted on clean speech; music,
# hiss and speech under steady noise fool two of them. Measured on LivePortrait driving clips (music, a beat, hiss),
# 10 LibriSpeech speakers (natural, atempo 0.75-1.5x, and under white noise at 10 dB / pink noise at 5 dB SNR) and
# 44 real recordings of cloned_voices (interviews, audiobooks), none of which the model was fitted on:
# * the phase-vocoder classifier reads glottal pulses in the LPC residual, which noise and music mask: natural
#   speech under white noise reads p 0.66-0.97, natural music/beat clips (d6, d10, d12, d14) 0.52-0.96;
# * the pitch/rate classifier compares pitch and spectrum with speech norms: a recording with almost no voiced
#   frames (d9: near-silent hiss, 0.7 % voiced; d11 12 %) reads p 0.7-1.0;
# * the WSOLA grid line of natural music reaches 4.6 (d14's beat) against 3.55 for clean speech, while atempo
#   leaves 7-500 on every LivePortrait clip but one (d10 at 1.25x, 2.3).
# "Clean" speech alternates syllables with quiet pauses: the log envelope's spread (dflab.audio.presence) is
# 0.85-2.9 for clean speech (one LibriSpeech clip at 0.85, every other >= 0.95) and 0.30-0.87 where music, hiss
# or noise fills the pauses (speech under noise 0.56-0.78).
MIN_VOICED_FRACTION = 0.15  # below it the sound is not judged: hiss or music with hardly any voice
CLEAN_SPEECH_SPREAD = 0.9
NOT_CLEAN_GRID_THRESHOLD = 6.0  # the grid line that counts when the speech is not clean


def speech_quality(samples: np.ndarray, sample_rate: int, features: dict[str, float]) -> str:
    """"clean" (speech with quiet pauses: every test applies), "not_clean" (music, hiss or noise fills the pauses:
    only the WSOLA grid, at NOT_CLEAN_GRID_THRESHOLD) or "unvoiced" (too little voice to judge at all)."""
    from dflab.audio.presence import envelope_spread

    voiced = features.get("voiced_fraction", np.nan)
    if not np.isfinite(voiced) or voiced < MIN_VOICED_FRACTION:
        return "unvoiced"
    return "clean" if envelope_spread(samples, sample_rate) >= CLEAN_SPEECH_SPREAD else "not_clean"


@dataclass(frozen=True)
class SpeedEstimate:
    p_changed: float  # the larger of the signals below that apply (speech_quality)
    factor_estimate: float  # regression output, whatever the classifiers say
    features: dict[str, float]
    p_method: float = float("nan")  # phase-vocoder traces
    p_resampled: float = float("nan")  # pitch/rate moved together (tape-style)
    p_grid: float = float("nan")  # WSOLA's crossfade grid on its own (at the stricter line when not clean speech)
    speech: str = "clean"  # speech_quality: "clean", "not_clean" or "unvoiced" (p_changed 0: not judged)

    @property
    def judged(self) -> bool:
        return self.speech != "unvoiced"

    @property
    def changed(self) -> bool:
        return self.p_changed >= 0.5

    @property
    def factor(self) -> float:
        """The reported factor: 1.0 when the clip is judged natural, else the estimate."""
        return self.factor_estimate if self.changed else 1.0


def estimate_speed(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, model: SpeedModel | None = None,
                   native: tuple[np.ndarray, int] | None = None) -> SpeedEstimate:
    """`samples` at 16 kHz; `native` = (samples, rate) of the same clip at its own rate, for the artefacts."""
    model = model or SpeedModel.load()
    return estimate_from_features(samples, sample_rate, model, speed_features(samples, sample_rate, native))


def estimate_from_features(samples: np.ndarray, sample_rate: int, model: SpeedModel,
                           features: dict[str, float]) -> SpeedEstimate:  # fmt: skip
    """The estimate from a recording's features (`samples` at 16 kHz only for how speech-like it is)."""
    p_method, p_resampled, p_grid, factor = (float(v[0]) for v in model.predict_parts(feature_vector(features)))
    speech = speech_quality(samples, sample_rate, features)
    if speech == "clean":
        p_changed = max(p_method, p_resampled, p_grid)
    elif speech == "not_clean":
        line = features.get(GRID_FEATURE, np.nan)
        p_grid = float(_sigmoid(np.array(GRID_SLOPE * ((line if np.isfinite(line) else 0.0) - NOT_CLEAN_GRID_THRESHOLD))))
        p_changed = p_grid
    else:
        p_changed = 0.0
    return SpeedEstimate(p_changed, factor, features, p_method, p_resampled, p_grid, speech)


WINDOW_S = 10.0  # the model was calibrated on 10 s clips, so a long recording is judged 10 s at a time
WINDOW_HOP_S = 5.0
# On 30 s recordings with 10 s re-timed (bench/speed_localisation.py, leave-one-speaker-out, 10 sources) the
# windows found 137 of 140 changes where the whole-recording estimate found 52 (11 of 70 phase-vocoder ones); they
# flagged 1 of 10 natural recordings and the whole estimate another, 2/10 together. Each further window is one more
# chance of a natural one reading as changed (about 1 in 20 do), so past this length the windows point, not decide.
WINDOWS_DECIDE_UP_TO_S = 30.0


@dataclass(frozen=True)
class SpeedWindow:
    start_s: float
    end_s: float
    estimate: SpeedEstimate | None  # None: the window holds no speech (nothing to judge)


def speed_windows(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, model: SpeedModel | None = None,
                  native: tuple[np.ndarray, int] | None = None, window_s: float = WINDOW_S,
                  hop_s: float = WINDOW_HOP_S) -> list[SpeedWindow]:  # fmt: skip
    """Where in a long recording the speed looks changed: each 10 s window (5 s apart, the last one flush with
    the end) judged as a clip of its own. Empty when the recording is shorter than 1.5 windows (the whole-clip
    estimate already is that window). A window's false-alarm rate is the model's per clip (about 1 natural
    10 s clip in 20, bench/speed_accuracy.py), so over many windows some natural ones read as changed."""
    starts = window_starts(len(samples) / sample_rate, window_s, hop_s)
    if not starts:
        return []
    model = model or SpeedModel.load()

    def cut(x: np.ndarray, rate: int, start: float) -> np.ndarray:
        return x[round(start * rate) : round((start + window_s) * rate)]

    windows = []
    for start in starts:
        piece_native = (cut(native[0], native[1], start), native[1]) if native is not None else None
        piece = cut(samples, sample_rate, start)
        windows.append(judge_window(piece, sample_rate, model, start, window_s, piece_native))
    return windows


def window_starts(duration_s: float, window_s: float = WINDOW_S, hop_s: float = WINDOW_HOP_S) -> list[float]:
    """Start times of speed_windows' windows (none under 1.5 windows)."""
    if duration_s < 1.5 * window_s:
        return []
    starts = list(np.arange(0.0, duration_s - window_s + 1e-9, hop_s))
    if duration_s - window_s - starts[-1] > 0.5:
        starts.append(duration_s - window_s)
    return [float(s) for s in starts]


def judge_window(piece: np.ndarray, sample_rate: int, model: SpeedModel, start_s: float, window_s: float,
                 piece_native: tuple[np.ndarray, int] | None) -> SpeedWindow:  # fmt: skip
    """One window judged as a clip of its own; no estimate when it holds no speech."""
    from dflab.audio.presence import sounds_like_speech

    estimate = None
    if sounds_like_speech(piece, sample_rate):
        estimate = estimate_speed(piece, sample_rate, model, native=piece_native)
        estimate = estimate if estimate.judged else None  # hardly any voice in this window
    return SpeedWindow(start_s, start_s + window_s, estimate)


def merge_ranges(ranges: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching (start, end) ranges joined, in time order."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class WindowedReading:
    p_changed: float  # the whole recording's, or its most changed window's where the windows decide
    factor_estimate: float  # the median over the windows that read as changed, else the whole recording's
    changed_ranges: list[tuple[float, float]]  # the windows that read as changed, joined
    windows_decide: bool


def windowed_reading(whole: SpeedEstimate, windows: list[SpeedWindow], duration_s: float) -> WindowedReading:
    """One reading of a recording from its whole-recording estimate and its 10 s windows: a re-timed stretch is
    diluted in the whole (the phase-vocoder traces are medians over it), so the windows decide up to
    WINDOWS_DECIDE_UP_TO_S and report where and by how much."""
    judged = [w.estimate for w in windows if w.estimate is not None]
    flagged = [w for w in windows if w.estimate is not None and w.estimate.changed]
    decide = bool(judged) and duration_s <= WINDOWS_DECIDE_UP_TO_S + 1e-6
    p = max([whole.p_changed] + ([e.p_changed for e in judged] if decide else []))
    factor = float(np.median([w.estimate.factor_estimate for w in flagged])) if flagged else whole.factor_estimate
    return WindowedReading(p, factor, merge_ranges([(w.start_s, w.end_s) for w in flagged]), decide)
