"""Decoding and encoding of images, video and audio: the layer every other part of dflab reads media through.

    load(path) -> Media          image / video / audio, sampled and scaled for analysis
    iter_frames(path)            the same frames one at a time
    probe(path) -> dict          what a file is, without decoding
    load_audio(path) -> Audio    mono float32 at 16 kHz
    load_image_rgb(path)         full-resolution RGB pixels of an image (watermarks, hashes)
    check_media(path) -> CheckedMedia   the same rules without keeping pixels (sign, verify, watermark)
    write_video / write_image    atomic H.264+AAC and JPEG/PNG/WebP writers
"""

from dflab.media.check import CheckedMedia, check_media
from dflab.media.load import iter_frames, load, load_audio, load_image_rgb, probe
from dflab.media.types import Audio, Frame, Media, MediaType
from dflab.media.write import write_image, write_video

__all__ = [
    "Audio", "CheckedMedia", "Frame", "Media", "MediaType", "check_media", "iter_frames", "load", "load_audio", "load_image_rgb", "probe",
    "write_image", "write_video",
]  # fmt: skip
