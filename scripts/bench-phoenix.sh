#!/usr/bin/env bash
# Phoenix-2014T translation benchmark (`make bench-phoenix`): trains the translator LM from
# scratch on the Phoenix files (read in place from ../shared/data, never copied) with the
# best recipe found so far (train/slt/README.md, "Phoenix-2014T benchmark"), exports it,
# converts it to GGUF F16 and Q4_0 with `scope llm convert/quantize`, and scores it with
# `scope eval slt` on dev (and test when test.* files are present) eight ways: F16 and Q4_0,
# reference vs recognised (STMC) glosses, with vs without dialogue context.
# The trained model does not ship (CC BY-NC-SA); it stays under $OUT.
#
# Training runs by steps (reproducible for a seed), not by wall clock. With --select-on-dev the
# trainer keeps whichever of the last weights, their moving average and the average of the
# last snapshots scores best on dev (PyTorch greedy, reference glosses, context).
#
# Knobs (environment): PHOENIX_DIR, OUT, PYTHON, SCOPE, STEPS (3430), SEED (2), THREADS,
# CONTEXT (previous sentences given as context: 1), BEAM (1 = greedy, the recipe's best;
# 2-16 = beam search), EVAL_THREADS, RETRAIN (0: re-score the model in $OUT when it is there;
# 1: train again).
set -euo pipefail
cd "$(dirname "$0")/.."

PHOENIX_DIR=${PHOENIX_DIR:-../shared/data/phoenix2014t}
OUT=${OUT:-.cache/bench-phoenix}
PYTHON=${PYTHON:-/usr/bin/python3}
SCOPE=${SCOPE:-bin/scope}
STEPS=${STEPS:-3430}
SEED=${SEED:-2}
THREADS=${THREADS:-2}
CONTEXT=${CONTEXT:-1}
BEAM=${BEAM:-1}
EVAL_THREADS=${EVAL_THREADS:-1}
RETRAIN=${RETRAIN:-0}

die() { echo "bench-phoenix: $*" >&2; exit 1; }

[ -x "$SCOPE" ] || die "$SCOPE not found: run 'make build' first (or set SCOPE=path/to/scope)"
for f in train.gloss train.de train.ids dev.gloss dev.de dev.ids; do
  [ -f "$PHOENIX_DIR/$f" ] || die "$PHOENIX_DIR/$f missing: set PHOENIX_DIR to the phoenix2014t folder (see ../shared/data/README.md)"
done
case "$BEAM" in ''|*[!0-9]*) die "BEAM=$BEAM: give 1 (greedy) to 16" ;; esac
[ "$BEAM" -ge 1 ] && [ "$BEAM" -le 16 ] || die "BEAM=$BEAM: give 1 (greedy) to 16"
mkdir -p "$OUT"

if [ "$RETRAIN" = 1 ] || [ ! -f "$OUT/model/model.safetensors" ]; then
  echo "== training the recipe from scratch ($STEPS steps, seed $SEED, $THREADS threads; about 5 h on 2 CPU cores, about 4 min on one GPU)"
  start=$(date +%s)
  # 19.2M parameters: hidden 512, 6 layers, 8 heads / 4 KV heads, MLP 1408, tied embeddings,
  # dropout 0.3, BPE-dropout 0.1 on the target, label smoothing 0.1, weight average 0.999,
  # the last 5 snapshots 300 steps apart averaged, batch 64, lr 1e-3 with 500 warm-up steps.
  "$PYTHON" -m train.slt.train_lm --phoenix "$PHOENIX_DIR" --out "$OUT" \
    --hidden 512 --layers 6 --heads 8 --kv-heads 4 --intermediate 1408 --vocab 3000 \
    --tie-embeddings --dropout 0.3 --bpe-dropout 0.1 \
    --steps "$STEPS" --batch-size 64 --lr 1e-3 --warmup 500 --weight-decay 0.1 \
    --label-smoothing 0.1 --ema 0.999 --avg-last 5 --avg-every 300 --amp bf16 \
    --select-on-dev --eval-every 1000 \
    --max-context 1 --p-single 0.7 --threads "$THREADS" --seed "$SEED" --log-every 100 \
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
        label="split=$split model=$q glosses=$split.$g context=$ctx beam=$BEAM"
        echo "== $label"
        "$SCOPE" eval slt --model "$OUT/phoenix-$q.gguf" --glosses "$PHOENIX_DIR/$split.$g" \
          --refs "$PHOENIX_DIR/$split.de" --ids "$PHOENIX_DIR/$split.ids" \
          --context-ids "$ctx_ids" --context-de "$ctx_de" --context-turns "$ctx" \
          --beam "$BEAM" --threads "$EVAL_THREADS" --batch-threads "$EVAL_THREADS" \
          --out "$OUT/hyp-$split-$q-${g%.gloss}-ctx$ctx.txt" > "$OUT/eval.tmp"
        cat "$OUT/eval.tmp"
        echo "$label | $(grep -m1 '^BLEU-1' "$OUT/eval.tmp") | $(grep -m1 '^ROUGE-L' "$OUT/eval.tmp")" >> "$results"
      done
    done
  done
done
echo "== results ($results)"
cat "$results"
