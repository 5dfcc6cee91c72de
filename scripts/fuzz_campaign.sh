#!/usr/bin/env bash
# A long fuzz campaign in chunks, at the lowest CPU priority, stopping at a wall-clock deadline:
#   1. DOOR mutants of SEED through the media front door (check_media and the readers), in-process;
#   2. the first CHUNK-sized slices of the same seed's mutants through all seven commands (fork runner),
#      one bench/results/fuzz_chunks/seed<SEED>-<K>.json per chunk, until UNTIL (HH:MM, UTC);
#   3. the chunks merged into bench/results/fuzz.json.
# Before the chunks: the subprocess, fork and in-process runners on the same 7 mutants (bench/results/fuzz_modes/).
# Usage: scripts/fuzz_campaign.sh SEED CHUNK UNTIL [DOOR]      e.g. scripts/fuzz_campaign.sh 7 150 13:20 10000
# A stopped campaign keeps its finished chunks; run it again with the same SEED and it goes on where it stopped.
set -u
cd "$(dirname "$0")/.."
SEED=$1 CHUNK=$2 UNTIL=$3 DOOR=${4:-10000}
PY=${PYTHON:-.venv/bin/python}
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
OUT=bench/results/fuzz_chunks
mkdir -p "$OUT"
deadline=$(date -u -d "$UNTIL" +%s)
if [ "$DOOR" -gt 0 ] && [ ! -f "$OUT/seed$SEED-door.json" ]; then
  nice -n 19 "$PY" bench/fuzz.py --runner in-process --n 0 --door "$DOOR" --door-seed "$SEED" --seed "$SEED" \
    --out "fuzz_chunks/seed$SEED-door"
fi
# The three runners on the same 7 mutants (one per corpus file), for their cost per run (MODES=0 skips it).
if [ "${MODES:-1}" = 1 ]; then
  for runner in subprocess fork in-process; do
    [ -f "bench/results/fuzz_modes/$runner.json" ] || nice -n 19 "$PY" bench/fuzz.py --runner "$runner" --n 7 \
      --seed "$SEED" --out "fuzz_modes/$runner"
  done
fi
# The next chunk: the first mutants no finished chunk covers (chunks record their skip and size, so runs with
# another CHUNK, or chunks run by hand, are never fuzzed twice: the merge would count them twice).
next_gap() {
  "$PY" - "$OUT" "$SEED" "$CHUNK" <<'PYEOF'
import json, sys
from pathlib import Path
out, seed, chunk = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
spans = sorted((d["skip"], d["skip"] + d["mutants"]) for d in
               (json.loads(p.read_text()) for p in out.glob(f"seed{seed}-[0-9]*.json")))
start = 0
for first, end in spans:
    if first > start:
        break
    start = max(start, end)
following = [first for first, _ in spans if first > start]
print(start, min([chunk] + [first - start for first in following]))
PYEOF
}
while :; do
  read -r skip n < <(next_gap)
  left=$((deadline - $(date -u +%s)))
  [ "$left" -gt 240 ] || break  # not worth a chunk's warm-up
  nice -n 19 "$PY" bench/fuzz.py --runner fork --seed "$SEED" --skip "$skip" --n "$n" --timeout 180 \
    --budget-s $((left - 60)) --out "fuzz_chunks/seed$SEED-$(printf %05d $skip)" || break
done
"$PY" bench/fuzz.py --merge "$OUT"/seed"$SEED"-*.json --out fuzz
