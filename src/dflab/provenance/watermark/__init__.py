"""dflab's robust invisible watermark ("dflab-v1"): 64 payload bits that survive JPEG, rescaling and cropping.

Design in one paragraph. A 32x32 tile of +-1 chips (178 sync chips and 282 coded bits x 3: the 64-bit payload
plus CRC-24, protected by a K=7 rate-1/3 convolutional code) is repeated over a low-resolution working grid of
the luma, weighted by local texture (more evenly on pictures under 400 px: embed.SMALL_PICTURE_SIDE), upsampled
and added at a fixed PSNR budget (40.75 dB). The detector
resamples to a 256-pixel grid, whitens, finds the tile period from the autocorrelation (which survives any
rescale and crop), folds all tiles onto one, finds the tile offset with the sync code, then soft-decodes with
Viterbi and accepts only on a valid CRC. A picture smaller than that grid is searched again near its own
resolution (upsampling it stretches the period out of the search range after a crop), within the same budget
of CRC checks. Video: the same tile on every frame's Y plane, residuals averaged over
frames at detection. Informed detection (informed.py), only when blind decoding fails and the lab's ledger is at
hand: the full tile of every payload the ledger issued is correlated with the folds the search already made,
and the best is accepted above a threshold set by the number of folds x offsets x candidates (false-match odds
1e-6 per picture). Payloads name ledger records (provenance/payload.py): format 1 (every mark issued before
format 2) is the record id as is, so neighbouring records share most payload bits and a match names the record
only when it beats every other candidate by a clear margin; format 2, what disclosure issues now, permutes the
id so that every other payload is far away in code space, and a match that is present is nearly always named.
The mark itself (tile, chips, embedding) is the same in both: the blind detector reads either unchanged.

Public API: embed_image, detect_image, embed_file, detect_file, WatermarkResult, EmbedConfig,
create_watermarker / list_watermarkers (name "dflab-v1").
"""

from dflab.provenance.watermark.detect import THEORETICAL_FALSE_POSITIVE_RATE, WatermarkResult, detect_image
from dflab.provenance.watermark.embed import EmbedConfig, embed_image, parse_payload_hex, psnr
from dflab.provenance.watermark.files import detect_file, embed_file
from dflab.provenance.watermark.registry import Watermarker, create_watermarker, list_watermarkers, register_watermarker

ALGORITHM = "dflab-v1"

__all__ = [
    "ALGORITHM",
    "EmbedConfig",
    "THEORETICAL_FALSE_POSITIVE_RATE",
    "WatermarkResult",
    "Watermarker",
    "create_watermarker",
    "detect_file",
    "detect_image",
    "embed_file",
    "embed_image",
    "list_watermarkers",
    "parse_payload_hex",
    "psnr",
    "register_watermarker",
]
