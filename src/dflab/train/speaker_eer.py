"""Speaker-verification EER on LibriSpeech and the threshold the `speaker_match` detector uses.

    python -m dflab.train.speaker_eer [--data DIR] [--write]

Embeds all 100 utterances (10 speakers x 10), scores every pair by cosine similarity (450 same-speaker,
4500 different-speaker pairs) and prints the EER and its threshold; --write stores the threshold in
dflab/audio/weights/speaker_verification.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dflab.atomic import write_text_atomic


def pair_scores(embeddings: np.ndarray, speakers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(labels 1 = same speaker, cosine similarities) over all unordered pairs."""
    sims = embeddings @ embeddings.T
    rows, cols = np.triu_indices(len(speakers), k=1)
    same = np.array([speakers[i] == speakers[j] for i, j in zip(rows, cols)], dtype=int)
    return same, sims[rows, cols]


def librispeech_eer(data: Path) -> dict:
    from dflab.audio.speaker import embed
    from dflab.eval.metrics import eer
    from dflab.media import load_audio

    files = sorted((data / "librispeech").glob("*/*.flac"))
    speakers = [f.parent.name for f in files]
    embeddings = np.stack([embed(load_audio(f).samples) for f in files])
    same, sims = pair_scores(embeddings, speakers)
    rate, threshold = eer(same, sims)
    return {"eer": rate, "threshold": threshold, "n_utterances": len(files), "n_speakers": len(set(speakers)),
            "same_pairs": int(same.sum()), "different_pairs": int((1 - same).sum()),
            "same_mean": float(sims[same == 1].mean()), "different_mean": float(sims[same == 0].mean())}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from dflab.train.speed_testset import default_data_dir

    parser = argparse.ArgumentParser(prog="python -m dflab.train.speaker_eer", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--write", action="store_true", help="store the threshold for the speaker_match detector")
    args = parser.parse_args(argv)
    result = librispeech_eer(Path(args.data) if args.data else default_data_dir())
    print(json.dumps(result))
    if args.write:
        from dflab.audio.speaker import THRESHOLD_FILE

        payload = {**result, "command": "python -m dflab.train.speaker_eer --write"}
        write_text_atomic(THRESHOLD_FILE, json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
