#!/usr/bin/env bash
# The Phoenix-2014T translator sweep on a lent GPU machine (issue: Phoenix translator), in one
# call: a 30-step smoke test of the whole path first (fails fast), then every run of
# train/slt/phoenix-gpu.json side by side on the one GPU for MINUTES of wall clock each, then
# the dev-best model packed as fp16 parts into $OUT with the summary and every log.
#
# The Phoenix files travel in the git-ignored .phoenix/ (never committed; name it in carry).
# Back here: python -m train.slt.sweep unpack --parts <files_at> --out .cache/phoenix-gpu/model
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-5.5}
OUT=${OUT:?set OUT to the folder whose files come back}
PY=${PY:-python3}
PLAN=${PLAN:-train/slt/phoenix-gpu.json}
export PYTHONUNBUFFERED=1
work=/tmp/phoenix-gpu
rm -rf "$work" && mkdir -p "$work"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c 'import torch, sentencepiece; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "sentencepiece", sentencepiece.__version__)'
t0=$(date +%s)
echo "== smoke"
"$PY" -m train.slt.train_lm --phoenix .phoenix --out "$work/smoke" --hidden 64 --layers 1 --heads 2 --kv-heads 1 \
  --intermediate 128 --vocab 500 --steps 30 --batch-size 16 --amp bf16 --ema 0.99 --avg-last 2 --avg-every 10 \
  --select-on-dev --final-eval-limit 16 --eval-every 15 --log-every 10 --tie-embeddings --bpe-dropout 0.1 | tail -4
"$PY" -m train.slt.sweep pack --model "$work/smoke/model" --out "$work/smoke-parts" >/dev/null
"$PY" -m train.slt.sweep unpack --parts "$work/smoke-parts" --out "$work/smoke-back" >/dev/null
echo "smoke passed in $(( $(date +%s) - t0 )) s"
echo "== sweep ($MINUTES min per run)"
rc=0
timeout $(( ${MINUTES%.*} * 60 + 200 )) "$PY" -m train.slt.sweep run --plan "$PLAN" --out "$work/sweep" \
  -- --max-minutes "$MINUTES" || rc=$?
echo "sweep exit $rc after $(( $(date +%s) - t0 )) s"
cp "$work/sweep/summary.json" "$OUT/" 2>/dev/null || true
tar czf "$OUT/logs.tgz" -C "$work/sweep" $(cd "$work/sweep" && ls -d *.log *.cmd */result.json 2>/dev/null) || true
best=$("$PY" -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x.get("dev_bleu4_ref_context") is not None]; print(r[0]["name"] if r else "")' "$work/sweep/summary.json" 2>/dev/null || true)
if [ -n "$best" ]; then
  echo "best on dev: $best"
  "$PY" -m train.slt.sweep pack --model "$work/sweep/$best/model" --out "$OUT"
  echo "$best" > "$OUT/best.txt"
fi
echo "total $(( $(date +%s) - t0 )) s"
