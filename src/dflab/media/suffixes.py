"""File-name suffixes, in one place. A suffix only says where to look or what to expect: what a file is comes
from its bytes (media/sniff.py), and a mislabelled file is read as what it is."""

from __future__ import annotations

PICTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})  # the pictures dflab decodes
OTHER_PICTURE_SUFFIXES = frozenset({".bmp", ".tif", ".tiff"})  # pictures it names in a clear refusal
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac"})
MEDIA_SUFFIXES = PICTURE_SUFFIXES | OTHER_PICTURE_SUFFIXES | VIDEO_SUFFIXES | AUDIO_SUFFIXES

# What dflab writes: pictures through Pillow (suffix -> Pillow format), video through PyAV (suffix -> muxer).
PICTURE_OUTPUTS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
VIDEO_OUTPUTS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
SIGNABLE_VIDEO_OUTPUTS = (".mp4", ".m4v", ".mov")  # the video containers a C2PA manifest can be embedded in
