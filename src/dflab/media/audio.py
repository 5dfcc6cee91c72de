"""Audio tracks through PyAV: decoded, downmixed to mono and resampled (16 kHz float32 by default)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dflab.config import Limits
from dflab.errors import BadMedia, LimitExceeded, Unsupported, UsageError
from dflab.media.container import audio_stream, open_container
from dflab.media.guards import media_errors, one_line
from dflab.media.types import Audio

DEFAULT_SAMPLE_RATE = 16_000


def decode_audio(path: Path, sample_rate: int = DEFAULT_SAMPLE_RATE, limits: Limits = Limits()) -> tuple[Audio, bool]:
    """(mono float32 audio, truncated) for the first audio stream; Unsupported when there is none.

    A decode error after some audio came out keeps what decoded (truncated=True); an error before any
    sample raises BadMedia.
    """
    import av

    if sample_rate <= 0:
        raise UsageError(f"sample rate must be positive, got {sample_rate}")
    container = open_container(path)
    chunks: list[np.ndarray] = []
    total = 0
    max_samples = int(limits.max_duration_s * sample_rate) + sample_rate
    truncated = False
    error = ""
    try:
        with media_errors(path, "read the audio stream"):
            stream = audio_stream(container)
            if stream is None:
                raise Unsupported(f"{path} has no audio stream")
            stream.thread_type = "AUTO"
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        packets = container.demux(stream)
        while True:
            try:
                with media_errors(path, "decode the audio"):
                    packet = next(packets, None)
                    frames = packet.decode() if packet is not None else [None]  # None flushes the resampler
                    for frame in frames:
                        for out in resampler.resample(frame):
                            samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                            chunks.append(samples)
                            total += samples.size
                    if total > max_samples:
                        raise LimitExceeded(
                            f"{path}: audio runs past {limits.max_duration_s:.0f} s, the duration limit"
                        )
                    if packet is None:
                        break
            except BadMedia as exc:
                truncated, error = True, one_line(exc)
                break
    finally:
        container.close()
    if total == 0:
        if error:
            raise BadMedia(f"{path}: no audio could be decoded ({error})")
        raise BadMedia(f"{path}: the audio stream is empty")
    samples = np.clip(np.concatenate(chunks), -1.0, 1.0).astype(np.float32, copy=False)
    return Audio(samples=samples, sample_rate=sample_rate), truncated

