"""Synthetic-speech leave-one-TTS-system-out EER and speaker-verification EER on LibriSpeech.

    .venv/bin/python bench/speech_detection.py

The first is what `dflab train synthetic-speech --eval` prints (7 systems, 5 sentence folds; see
dflab.train.antispoof_eval), with the EER also against LJSpeech's own recordings only (the TTS voice);
the second is `python -m dflab.train.speaker_eer` (100 utterances, 10 speakers, all pairs).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, require_shared_data, write_results  # noqa: E402


def main() -> int:
    from dflab.audio.antispoof import collect_corpus, featurise
    from dflab.train.antispoof_eval import leave_one_system_out
    from dflab.train.speaker_eer import librispeech_eer

    data = require_shared_data()
    start = time.perf_counter()
    items = collect_corpus(data)
    systems = leave_one_system_out(items, featurised=featurise(items, augment=True))
    rows = [{"held_out_system": r.system, "eer": round(r.eer, 4), "eer_vs_ljspeech_real": round(r.eer_against("ljspeech"), 4),
             "eer_vs_librispeech": round(r.eer_against("librispeech"), 4), "n_fake": r.n_fake, "n_real": r.n_real}
            for r in systems]  # fmt: skip
    rows.append({"held_out_system": "mean", "eer": round(sum(r.eer for r in systems) / len(systems), 4)})
    print_table(rows, ["held_out_system", "eer", "eer_vs_ljspeech_real", "eer_vs_librispeech", "n_fake", "n_real"])
    speaker = librispeech_eer(data)
    print(f"\nspeaker verification (GE2E, LibriSpeech {speaker['n_speakers']} speakers, {speaker['same_pairs']} same / "
          f"{speaker['different_pairs']} different pairs): EER {100 * speaker['eer']:.2f}% at cosine {speaker['threshold']:.3f}")
    write_results("speech_detection", {"lotso": rows, "speaker_verification": speaker,
                                       "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
