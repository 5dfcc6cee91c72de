"""Audio tracks through PyAV: decoded, downmixed to mono and resampled (16 kHz float32 by default)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dflab.config import Limits
from dflab.errors import BadMedia, LimitExceeded, Unsupported, UsageError
from dflab.media.container import audio_stream, open_container
from dflab.media.guards import media_errors, one_line
from dflab.media.types import Audio

DEFAULT_SAMPLE_RATE = 16_000
# A jump forward in the audio timestamps (a join made by an editor: ffmpeg -stream_loop leaves 48 ms at each loop)
# is filled with silence, as players do, so the sound stays where the pictures are. Smaller jumps are rounding;
# larger ones are broken timestamps, not a pause, and are left as they are.
MIN_GAP_S = 0.005
MAX_GAP_S = 10.0


class AudioChunks:
    """The first audio stream as consecutive mono float32 chunks in [-1, 1], decoded as they are read, so a
    long recording can be worked through without holding all of it. Unsupported when there is none.

    A decode error after some audio came out ends the chunks there (`truncated` and `error` say so); an error
    before any sample raises BadMedia. The chunks joined are exactly decode_audio's samples."""

    def __init__(self, path: Path, sample_rate: int = DEFAULT_SAMPLE_RATE, limits: Limits = Limits()) -> None:
        if sample_rate <= 0:
            raise UsageError(f"sample rate must be positive, got {sample_rate}")
        self.path, self.sample_rate, self.limits = path, sample_rate, limits
        self.truncated = False
        self.error = ""
        self.total = 0
        self.gaps_filled_s = 0.0  # silence put into timestamp gaps

    def __iter__(self) -> Iterator[np.ndarray]:
        import av

        path, sample_rate, limits = self.path, self.sample_rate, self.limits
        container = open_container(path)
        max_samples = int(limits.max_duration_s * sample_rate) + sample_rate
        try:
            with media_errors(path, "read the audio stream"):
                stream = audio_stream(container)
                if stream is None:
                    raise Unsupported(f"{path} has no audio stream")
                stream.thread_type = "AUTO"
                resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            packets = container.demux(stream)
            expected_s = None  # where the next decoded frame should start, by the last one's timestamp and length
            while True:
                decoded: list[np.ndarray] = []
                try:
                    with media_errors(path, "decode the audio"):
                        packet = next(packets, None)
                        frames = packet.decode() if packet is not None else [None]  # None flushes the resampler
                        for frame in frames:
                            if frame is not None and frame.pts is not None and frame.time_base is not None:
                                start_s = float(frame.pts * frame.time_base)
                                gap = start_s - expected_s if expected_s is not None else 0.0
                                if MIN_GAP_S < gap <= MAX_GAP_S:
                                    silence = np.zeros(int(round(gap * sample_rate)), np.float32)
                                    decoded.append(silence)
                                    self.total += silence.size
                                    self.gaps_filled_s += gap
                                expected_s = start_s + frame.samples / float(frame.sample_rate)
                            for out in resampler.resample(frame):
                                samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                                decoded.append(samples)
                                self.total += samples.size
                        if self.total > max_samples:
                            raise LimitExceeded(
                                f"{path}: audio runs past {limits.max_duration_s:.0f} s, the duration limit"
                            )
                except BadMedia as exc:
                    self.truncated, self.error = True, one_line(exc)
                    packet = None  # what decoded before the error is kept
                for samples in decoded:
                    yield np.clip(samples, -1.0, 1.0)
                if packet is None:
                    break
        finally:
            container.close()
        if self.total == 0:
            if self.error:
                raise BadMedia(f"{path}: no audio could be decoded ({self.error})")
            raise BadMedia(f"{path}: the audio stream is empty")


def decode_audio(path: Path, sample_rate: int = DEFAULT_SAMPLE_RATE, limits: Limits = Limits()) -> tuple[Audio, bool]:
    """(mono float32 audio, truncated) for the first audio stream; Unsupported when there is none.

    A decode error after some audio came out keeps what decoded (truncated=True); an error before any
    sample raises BadMedia.
    """
    chunks = AudioChunks(path, sample_rate, limits)
    samples = np.concatenate(list(chunks)).astype(np.float32, copy=False)
    return Audio(samples=samples, sample_rate=sample_rate), chunks.truncated
