#!/usr/bin/env bash
# Rebuilds the shipped demo translator (models/demo/slt/) from a synthetic corpus:
#   1. `scope synth` writes kiosk dialogues (reception, pharmacy, counter), seed 1;
#   2. train_lm trains the base LM on all domains' training turns;
#   3. train_lora trains one LoRA adapter per domain on the frozen base;
#   4. `scope llm convert/quantize/convert-adapter` write the GGUF files.
# Everything it measures is on synthetic data. Run from anywhere; took 27 minutes on 2
# cores (4000 LM steps). Knobs: WORK (scratch dir), SCOPE, PYTHON, DEST, LM_STEPS (4000),
# LORA_STEPS (300), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-.cache/slt-demo}
SCOPE=${SCOPE:-bin/scope}
PYTHON=${PYTHON:-/usr/bin/python3}
DEST=${DEST:-models/demo/slt}
DOMAINS=${DOMAINS:-"reception pharmacy counter"}
# SYNTH: an existing corpus to train on (default: write one into $WORK/synth).
# RECOGNISED: the recogniser's real top-k per training turn (train.slr.hypotheses .jsonl):
#   half the views of those turns use them (--p-real 0.5). LEXICON: lexicon.json: only views
#   one hypothesis supports. train/slr/make-demo.sh sets all three for the shipped demo.
SYNTH=${SYNTH:-$WORK/synth}
RECOGNISED=${RECOGNISED:-}
LEXICON=${LEXICON:-}
LM_SIZE=${LM_SIZE:-"--hidden 192 --layers 3 --heads 4 --kv-heads 2 --intermediate 512"}
LM_STEPS=${LM_STEPS:-4000}
LORA_STEPS=${LORA_STEPS:-300}
THREADS=${THREADS:-1}

[ -x "$SCOPE" ] || { echo "make-demo: $SCOPE not found: run 'make build' first" >&2; exit 1; }
mkdir -p "$WORK" "$DEST"

if [ ! -f "$SYNTH/manifest.jsonl" ]; then
  "$SCOPE" synth --out "$SYNTH" --dialogues 1000 --seed 1 --force
  rm -rf "$SYNTH/pose"   # the LM reads only manifest.jsonl (3.5 GB of keypoints otherwise)
fi
extra=()
[ -n "$RECOGNISED" ] && extra+=(--recognised "$RECOGNISED" --p-real 0.5)
[ -n "$LEXICON" ] && extra+=(--lexicon "$LEXICON")

# shellcheck disable=SC2086
"$PYTHON" -m train.slt.train_lm --manifest "$SYNTH" --out "$WORK/lm" \
  $LM_SIZE --vocab 1200 --max-len 256 \
  --dropout 0.1 --steps "$LM_STEPS" --batch-size 32 --lr 2e-3 --warmup 80 --max-context 2 --threads "$THREADS" --seed 1 \
  --log-every 50 "${extra[@]}"

for d in $DOMAINS; do
  "$PYTHON" -m train.slt.train_lora --base "$WORK/lm/model" --manifest "$SYNTH" --domain "$d" \
    --out "$WORK/adapters/$d" --r 8 --alpha 16 --targets q_proj,k_proj,v_proj,o_proj \
    --steps "$LORA_STEPS" --batch-size 16 --lr 2e-3 --warmup 15 --max-context 2 --threads "$THREADS" --seed 1 --log-every 25 \
    "${extra[@]}"
done

"$SCOPE" llm convert "$WORK/lm/model" "$WORK/slt-f16.gguf"
"$SCOPE" llm quantize --type Q4_0 "$WORK/slt-f16.gguf" "$DEST/slt-q4_0.gguf"
for d in $DOMAINS; do
  "$SCOPE" llm convert-adapter --base "$WORK/slt-f16.gguf" "$WORK/adapters/$d" "$DEST/lora-$d.gguf"
done
# The training record, with this machine's absolute paths written relative to the repository.
"$PYTHON" - "$WORK/lm/result.json" "$DEST/train-result.json" <<'PY'
import json, os, sys
def rel(v):
    if isinstance(v, dict):
        return {k: rel(x) for k, x in v.items()}
    if isinstance(v, list):
        return [rel(x) for x in v]
    return os.path.relpath(v) if isinstance(v, str) and os.path.isabs(v) else v
with open(sys.argv[1]) as f:
    r = rel(json.load(f))
with open(sys.argv[2], "w") as f:
    json.dump(r, f, indent=2)
    f.write("\n")
PY
ls -l "$DEST"
