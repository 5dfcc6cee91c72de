"""Speech analysis shared by the audio detectors: loudness, speaking rate, pitch, spectral statistics,
playback-speed estimation, spoof (synthetic speech) features and speaker embeddings.

Everything works on mono float32 at 16 kHz (what `dflab.media.load_audio` returns); heavy libraries
(librosa, torch, resemblyzer) are imported inside the functions that need them.
"""

SAMPLE_RATE = 16_000
