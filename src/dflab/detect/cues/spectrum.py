"""Frequency-domain artefacts of generated images (Durall, Keuper & Keuper 2020). The up-sampling layers
of GANs and other generators cannot reproduce the natural fall-off of the power spectrum at high
frequencies; the azimuthally averaged power spectrum of a generated image bends away from the power
law that natural images follow. We fit that power law on the middle band and measure how far the top of
the spectrum departs from it."""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence
from dflab.detect.registry import register_detector
from dflab.detect.timeline import sigmoid

MAX_SIDE = 512  # analyse a central square of at most this size, without resampling (resampling hides artefacts)
FIT_BAND = (0.10, 0.50)  # fraction of Nyquist used to fit the power law
TAIL_BAND = (0.75, 1.00)  # where generator artefacts show
TAIL_CENTRE, TAIL_SCALE = 1.0, 0.5  # logistic over |tail residual| in log10 power; set on cnndetection
FRAMES_PER_VIDEO = 3


def azimuthal_power_spectrum(gray: np.ndarray) -> np.ndarray:
    """Mean log10 power per integer radius (0 = DC) of the centred 2-D spectrum of a square image."""
    side = gray.shape[0]
    window = np.outer(np.hanning(side), np.hanning(side))  # reduces the cross artefact of image borders
    spectrum = np.fft.fftshift(np.fft.fft2((gray - gray.mean()) * window))
    power = np.log10(np.abs(spectrum) ** 2 + 1e-8)
    yy, xx = np.indices(power.shape)
    radius = np.hypot(yy - side // 2, xx - side // 2).astype(np.int32)
    sums = np.bincount(radius.ravel(), weights=power.ravel())
    counts = np.bincount(radius.ravel())
    return (sums / np.maximum(counts, 1))[: side // 2]


def tail_residual(profile: np.ndarray) -> float:
    """Mean departure (log10 power) of the high-frequency tail from the mid-band power-law fit."""
    n = len(profile)
    freq = np.arange(n) / n
    fit = (freq >= FIT_BAND[0]) & (freq <= FIT_BAND[1])
    tail = (freq >= TAIL_BAND[0]) & (freq <= TAIL_BAND[1])
    slope, intercept = np.polyfit(np.log10(freq[fit]), profile[fit], 1)
    predicted = slope * np.log10(freq[tail]) + intercept
    return float(np.mean(profile[tail] - predicted))


def central_square(rgb: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    gray = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    side = min(gray.shape[0], gray.shape[1], max_side)
    side -= side % 2
    y0, x0 = (gray.shape[0] - side) // 2, (gray.shape[1] - side) // 2
    return gray[y0 : y0 + side, x0 : x0 + side]


@register_detector("spectrum")
class SpectrumDetector:
    media_types = ("image", "video")
    needs_faces = False

    def frames_wanted(self, media: AnalysedMedia) -> list[int]:
        """The frame positions `detect` reads (the scan decodes them together with other cues' frames)."""
        n = len(media.media.frames)
        return np.linspace(0, n - 1, min(FRAMES_PER_VIDEO, n)).round().astype(int).tolist() if n else []

    def detect(self, media: AnalysedMedia) -> Evidence:
        frames = media.media.frames
        picks = np.array(self.frames_wanted(media), dtype=int)
        profiles = [azimuthal_power_spectrum(central_square(frames[i].rgb)) for i in picks]
        residual = float(np.median([tail_residual(p) for p in profiles]))
        score = float(sigmoid((abs(residual) - TAIL_CENTRE) / TAIL_SCALE))
        small = min(frames[0].rgb.shape[:2]) < 64
        direction = "raised" if residual > 0 else "lowered"
        judgement = "typical of generated images" if score >= 0.6 else "as in camera images" if score < 0.45 else "borderline"
        return Evidence(
            name=self.name,
            score=score,
            # Video codecs remove the high frequencies this cue looks at, so it says little about video.
            confidence=0.0 if small else (0.2 if media.media_type == "video" else 0.6),
            summary=f"The high-frequency end of the power spectrum is {direction} by {abs(residual):.2f} log10 "
            f"units against the natural power law: {judgement}.",
            details={"tail_residual_log10": round(residual, 4), "profile": [round(float(v), 3) for v in profiles[0]]},
        )
