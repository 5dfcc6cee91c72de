"""Hand-made features of generated images, for the learned synthetic-image detector.

Generators leave traces that survive across architectures, but each trace is weak on its own:
- the azimuthally averaged power spectrum bends away from the natural power law at high frequencies
  (Durall et al. 2020; computed by cues/spectrum.py, reused here, not duplicated);
- up-sampling layers repeat a kernel on a grid, which shows as isolated peaks in the 2-D spectrum of the
  high-pass residual at fractions of the sampling rate (N/2, N/4, N/8; Zhang et al. 2019, Frank et al. 2020);
- the pixel-level noise left after removing the image content (the high-pass residual) has different local
  statistics than camera noise: we take co-occurrences of quantised residuals (SPAM-like, Pevny et al.)
  and the correlation of the residual across colour channels (camera demosaicing correlates them);
- generators rarely produce saturated or clipped pixels (McCloskey & Albright 2019).
Every feature is a ratio, a log or a normalised histogram, so that overall brightness and contrast do not
matter, and the spectrum is read on normalised frequencies, so that crop size matters little.

All functions are pure numpy on one RGB uint8 array; `image_features(rgb)` returns the vector the classifier
uses, in the order of `feature_names()`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from dflab.detect.cues.spectrum import azimuthal_power_spectrum, tail_residual
from dflab.errors import BadMedia

PATCH = 240  # the side the shipped model was fitted on (cnndetection crops); larger images are tiled
MIN_SIDE = 64  # below this the spectrum has too few radii to mean anything
PROFILE_BINS = 16  # normalised-frequency bins of the power-law residual
PEAK_FRACTIONS = (1 / 2, 1 / 4, 3 / 4, 1 / 8, 3 / 8)  # of the sampling rate, where up-sampling grids show
COOC_T = 2  # residuals are clipped to [-T, T] before co-occurrence counting


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def high_pass(channel: np.ndarray) -> np.ndarray:
    """Second-order residual (image minus the mean of its 4 neighbours): removes content, keeps noise."""
    kernel = np.array([[0, -0.25, 0], [-0.25, 1.0, -0.25], [0, -0.25, 0]])
    return ndimage.convolve(channel, kernel, mode="reflect")


def profile_features(gray: np.ndarray) -> np.ndarray:
    """Power-law slope, the tail residual of cues/spectrum.py, and the residual of the azimuthal spectrum
    from a log-log line fitted over the whole band, averaged in PROFILE_BINS normalised-frequency bins."""
    profile = azimuthal_power_spectrum(gray)
    n = len(profile)
    freq = np.arange(n) / n
    usable = freq >= 2.0 / n  # skip DC and the lowest radius (window leakage)
    slope, intercept = np.polyfit(np.log10(freq[usable]), profile[usable], 1)
    residual = profile - (slope * np.log10(np.maximum(freq, 1e-6)) + intercept)
    edges = np.linspace(0.0, 1.0, PROFILE_BINS + 1)
    bins = np.array(
        [residual[usable & (freq >= a) & (freq < b)].mean() if np.any(usable & (freq >= a) & (freq < b)) else 0.0
         for a, b in zip(edges[:-1], edges[1:])]
    )
    return np.concatenate([[slope, tail_residual(profile)], bins])


def peak_features(gray: np.ndarray) -> np.ndarray:
    """How far the 2-D residual spectrum rises, at the up-sampling grid frequencies, above its local floor.

    For each fraction f in PEAK_FRACTIONS: the largest log-power excess at the points (f, 0), (0, f), (f, f)
    over the mean of its 7x7 neighbourhood; then the mean of the 20 largest excesses anywhere (a generic
    "spikiness" that does not depend on where the grid lies)."""
    residual = high_pass(gray)
    side = residual.shape[0]
    window = np.outer(np.hanning(side), np.hanning(side))
    power = np.log10(np.abs(np.fft.fft2(residual * window)) ** 2 + 1e-8)
    floor = ndimage.uniform_filter(power, size=7, mode="wrap")  # the mean, not the median: 50x faster, and a
    # single peak moves a 49-point mean of log-powers by a 49th of its height only
    excess = power - floor
    out = []
    for fraction in PEAK_FRACTIONS:
        k = int(round(fraction * side)) % side
        points = [(k, 0), (0, k), (k, k), (side - k, k)]
        out.append(max(excess[y, x] for y, x in points))
    excess[0, 0] = 0.0
    top = np.sort(excess.ravel())[-20:]
    out.append(float(top.mean()))
    return np.array(out)


def cooccurrence(residual: np.ndarray, step: float) -> np.ndarray:
    """Normalised (2T+1)^2 histogram of horizontally and vertically adjacent quantised residual pairs."""
    q = np.clip(np.round(residual / step), -COOC_T, COOC_T).astype(np.int64) + COOC_T
    size = 2 * COOC_T + 1
    pairs = np.concatenate([(q[:, :-1] * size + q[:, 1:]).ravel(), (q[:-1, :] * size + q[1:, :]).ravel()])
    hist = np.bincount(pairs, minlength=size * size).astype(np.float64)
    return hist / hist.sum()


def residual_features(rgb: np.ndarray) -> np.ndarray:
    """Co-occurrences of first- and second-order residuals (log-probabilities), residual energy and
    kurtosis, the cross-channel residual correlations, and the share of clipped / saturated pixels."""
    gray = _gray(rgb)
    first = np.diff(gray, axis=1)
    cooc_first = cooccurrence(first, step=1.0)
    second = high_pass(gray)
    cooc_second = cooccurrence(second, step=1.0)
    energy = np.log10(np.mean(second**2) + 1e-6)
    centred = second - second.mean()
    kurtosis = np.mean(centred**4) / (np.mean(centred**2) ** 2 + 1e-12)
    channels = [high_pass(rgb[..., c].astype(np.float64)).ravel() for c in range(3)]
    corr = [
        float(np.corrcoef(channels[a], channels[b])[0, 1]) if channels[a].std() > 0 and channels[b].std() > 0 else 1.0
        for a, b in ((0, 1), (1, 2), (0, 2))
    ]
    clipped = float(np.mean((rgb.max(axis=2) >= 255) | (rgb.min(axis=2) <= 0)))
    hi, lo = rgb.max(axis=2).astype(np.float64), rgb.min(axis=2).astype(np.float64)
    saturation = np.where(hi > 0, (hi - lo) / np.maximum(hi, 1), 0.0)
    return np.concatenate(
        [
            np.log(cooc_first + 1e-4),
            np.log(cooc_second + 1e-4),
            [energy, np.log(kurtosis + 1e-12), *corr, np.log(clipped + 1e-4), saturation.mean(), np.mean(saturation > 0.8)],
        ]
    )


def feature_names() -> list[str]:
    size = (2 * COOC_T + 1) ** 2
    return (
        ["psd_slope", "psd_tail_residual"]
        + [f"psd_bin{i}" for i in range(PROFILE_BINS)]
        + [f"peak_{f:.3f}" for f in PEAK_FRACTIONS]
        + ["peak_top20"]
        + [f"cooc1_{i}" for i in range(size)]
        + [f"cooc2_{i}" for i in range(size)]
        + ["res_energy", "res_log_kurtosis", "res_corr_rg", "res_corr_gb", "res_corr_rb"]
        + ["clipped", "saturation_mean", "saturation_high"]
    )


def patch_features(patch: np.ndarray) -> np.ndarray:
    """The feature vector of one square RGB uint8 patch (side even, at least MIN_SIDE)."""
    gray = _gray(patch)
    vector = np.concatenate([profile_features(gray), peak_features(gray), residual_features(patch)])
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)


def patches(rgb: np.ndarray, side: int = PATCH, max_patches: int = 4) -> list[np.ndarray]:
    """Up to `max_patches` non-overlapping side x side patches spread over the image (the central square
    of at most `side` when the image is smaller). Patches are cut, never resampled: resampling hides the
    high-frequency traces."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise BadMedia(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise BadMedia(f"image {width}x{height} is too small for spectral analysis (min side {MIN_SIDE})")
    if min(height, width) < side:
        small = min(height, width) - min(height, width) % 2
        y0, x0 = (height - small) // 2, (width - small) // 2
        return [rgb[y0 : y0 + small, x0 : x0 + small]]
    rows = np.linspace(0, height - side, max(1, min(height // side, 2))).round().astype(int)
    cols = np.linspace(0, width - side, max(1, min(width // side, 2))).round().astype(int)
    cut = [rgb[y : y + side, x : x + side] for y in rows for x in cols]
    return cut[:max_patches]


def image_features(rgb: np.ndarray) -> np.ndarray:
    """Features of the central patch of an image (the training unit of the shipped model)."""
    height, width = rgb.shape[:2]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise BadMedia(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    if min(height, width) < MIN_SIDE:
        raise BadMedia(f"image {width}x{height} is too small for spectral analysis (min side {MIN_SIDE})")
    side = min(height, width, PATCH)
    side -= side % 2
    y0, x0 = (height - side) // 2, (width - side) // 2
    return patch_features(rgb[y0 : y0 + side, x0 : x0 + side])


__all__ = ["PATCH", "feature_names", "image_features", "patch_features", "patches"]
