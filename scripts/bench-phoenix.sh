#!/usr/bin/env bash
# Phoenix-2014T translation benchmark (`make bench-phoenix`): trains the translator LM from
# scratch on the Phoenix files (read in place from ../shared/data, never copied), exports it,
# converts it to GGUF F16 and Q4_0 with `scope llm convert/quantize`, and scores it with
# `scope eval slt` on dev (and test when test.* files are present) four ways: reference vs
# recognised (STMC) glosses, with vs without dialogue context, for F16 and Q4_0.
# The trained model does not ship (CC BY-NC-SA); it stays under $OUT.
#
# Knobs (environment): PHOENIX_DIR, OUT, PYTHON, SCOPE, STEPS, MAX_MINUTES (0: train by STEPS
# only, reproducible), THREADS, CONTEXT (previous sentences given as context), RETRAIN=1.
set -euo pipefail
cd "$(dirname "$0")/.."

PHOENIX_DIR=${PHOENIX_DIR:-../shared/data/phoenix2014t}
OUT=${OUT:-.cache/bench-phoenix}
PYTHON=${PYTHON:-/usr/bin/python3}
SCOPE=${SCOPE:-bin/scope}
STEPS=${STEPS:-5500}
MAX_MINUTES=${MAX_MINUTES:-0}
THREADS=${THREADS:-2}
CONTEXT=${CONTEXT:-1}
RETRAIN=${RETRAIN:-0}

die() { echo "bench-phoenix: $*" >&2; exit 1; }

[ -x "$SCOPE" ] || die "$SCOPE not found: run 'make build' first (or set SCOPE=path/to/scope)"
for f in train.gloss train.de train.ids dev.gloss dev.de dev.ids; do
  [ -f "$PHOENIX_DIR/$f" ] || die "$PHOENIX_DIR/$f missing: set PHOENIX_DIR to the phoenix2014t folder (see ../shared/data/README.md)"
done
mkdir -p "$OUT"

if [ "$RETRAIN" = 1 ] || [ ! -f "$OUT/model/model.safetensors" ]; then
  echo "== training (steps $STEPS, max minutes $MAX_MINUTES, threads $THREADS)"
  start=$(date +%s)
  "$PYTHON" -m train.slt.train_lm --phoenix "$PHOENIX_DIR" --out "$OUT" \
    --hidden 256 --layers 4 --heads 4 --kv-heads 2 --intermediate 704 --vocab 3000 --dropout 0.2 \
    --steps "$STEPS" --max-minutes "$MAX_MINUTES" --batch-size 32 --lr 2e-3 --warmup 150 \
    --label-smoothing 0.1 --ema 0.999 \
    --max-context "$CONTEXT" --p-single 0.7 --threads "$THREADS" --seed 1 --log-every 100 \
    2>&1 | tee "$OUT/train.log"
  echo "training wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/train.log"
else
  echo "== reusing $OUT/model (RETRAIN=1 to train again)"
fi

echo "== converting"
"$SCOPE" llm convert "$OUT/model" "$OUT/phoenix-f16.gguf"
"$SCOPE" llm quantize --type Q4_0 "$OUT/phoenix-f16.gguf" "$OUT/phoenix-q4_0.gguf"
ls -l "$OUT"/phoenix-*.gguf

# Context is looked up across every ids/de pair available (never the sentence itself).
ctx_ids="$PHOENIX_DIR/train.ids,$PHOENIX_DIR/dev.ids"
ctx_de="$PHOENIX_DIR/train.de,$PHOENIX_DIR/dev.de"
splits=dev
if [ -f "$PHOENIX_DIR/test.gloss" ] && [ -f "$PHOENIX_DIR/test.de" ] && [ -f "$PHOENIX_DIR/test.ids" ]; then
  ctx_ids="$ctx_ids,$PHOENIX_DIR/test.ids"
  ctx_de="$ctx_de,$PHOENIX_DIR/test.de"
  splits="dev test"
fi

results="$OUT/results.txt"
: > "$results"
for split in $splits; do
  for q in f16 q4_0; do
    for g in gloss stmc.gloss; do
      [ -f "$PHOENIX_DIR/$split.$g" ] || { echo "($split.$g not present: skipped)" | tee -a "$results"; continue; }
      for ctx in "$CONTEXT" 0; do
        label="split=$split model=$q glosses=$split.$g context=$ctx"
        echo "== $label"
        "$SCOPE" eval slt --model "$OUT/phoenix-$q.gguf" --glosses "$PHOENIX_DIR/$split.$g" \
          --refs "$PHOENIX_DIR/$split.de" --ids "$PHOENIX_DIR/$split.ids" \
          --context-ids "$ctx_ids" --context-de "$ctx_de" --context-turns "$ctx" \
          --out "$OUT/hyp-$split-$q-${g%.gloss}-ctx$ctx.txt" > "$OUT/eval.tmp"
        cat "$OUT/eval.tmp"
        echo "$label | $(grep -m1 '^BLEU-1' "$OUT/eval.tmp") | $(grep -m1 '^ROUGE-L' "$OUT/eval.tmp")" >> "$results"
      done
    done
  done
done
echo "== results ($results)"
cat "$results"
