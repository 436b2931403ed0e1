#!/usr/bin/env bash
# Rebuilds the demo models (all SYNTHETIC) from the current `scope synth`:
#   1. the corpus: 2000 dialogues, 60 signers (42 train, 9 dev, 9 test), seed 1, with the
#      gloss-to-word lexicon (lexicon.json) synth writes beside it;
#   2. the context recogniser (models/demo/slr) and, separately trained, the no-context
#      baseline (models/demo/slr-baseline), SLR_STEPS (3000) each;
#   3. the recogniser's real top-3 on the training signers' turns (one plain and two
#      augmented views each), which the translator trains on beside random corruption;
#   4. the translator and its domain adapters (train/slt/make-demo.sh with RECOGNISED and
#      LEXICON), faithful views only;
#   5. the lexicon into the recogniser bundle, then `scope gate calibrate` on the corpus's
#      dev split, which stores the gate's thresholds in the bundle manifest.
# Steps: STEPS=corpus,slr,baseline,hyps,slt,gate (default all). Knobs: WORK, SCOPE, PYTHON,
# THREADS, SLR_STEPS (training steps of each recogniser, 3000). Run from anywhere; see models/demo/slr/README.md for the measured times.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-.cache/demo-build}
SCOPE=${SCOPE:-bin/scope}
PYTHON=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-1}
SLR_STEPS=${SLR_STEPS:-3000}
STEPS=${STEPS:-corpus,slr,baseline,hyps,slt,gate}
CORPUS=$WORK/synth
has() { [[ ",$STEPS," == *",$1,"* ]]; }
stamp() { echo "==> $(date -u +%H:%M:%S) $*"; }

[ -x "$SCOPE" ] || { echo "make-demo: $SCOPE not found: run 'make build' first" >&2; exit 1; }
mkdir -p "$WORK"

if has corpus && [ ! -f "$CORPUS/manifest.jsonl" ]; then
  stamp "corpus"
  "$SCOPE" synth --out "$CORPUS" --dialogues 2000 --signers 60 --seed 1 --force
fi

train_slr() { # out-dir extra-flags...
  local out=$1; shift
  "$PYTHON" -m train.slr.train --data "$CORPUS" --out "$out" --cache "$WORK/cache" --max-steps "$SLR_STEPS" \
    --threads "$THREADS" --eval-every 500 --dev-limit 300 --seed 1 --resume "$@"
}

if has slr; then
  stamp "context recogniser"
  train_slr "$WORK/slr-ctx"
  "$PYTHON" -m train.slr.export --checkpoint "$WORK/slr-ctx/checkpoint.pt" --out models/demo/slr \
    --name scope-slr-demo --version 0.3.0
fi

if has baseline; then
  stamp "no-context baseline"
  train_slr "$WORK/slr-base" --no-context
  "$PYTHON" -m train.slr.export --checkpoint "$WORK/slr-base/checkpoint.pt" --out models/demo/slr-baseline \
    --name scope-slr-demo-baseline --version 0.3.0 --no-int8
fi

if has hyps; then
  stamp "the recogniser's top-3 on the training turns"
  "$PYTHON" -m train.slr.hypotheses --checkpoint "$WORK/slr-ctx/checkpoint.pt" --data "$CORPUS" \
    --out "$WORK/hyps-train.jsonl" --split train --passes 3 --cache "$WORK/cache" --threads "$THREADS"
fi

if has slt; then
  stamp "translator"
  # (bash expands these left to right, so RECOGNISED must not follow WORK's new value)
  RECOGNISED="$WORK/hyps-train.jsonl" LEXICON="$CORPUS/lexicon.json" WORK="$WORK/slt" SYNTH="$CORPUS" \
    SCOPE="$SCOPE" PYTHON="$PYTHON" train/slt/make-demo.sh
fi

if has gate; then
  stamp "lexicon and confidence gate"
  cp "$CORPUS/lexicon.json" models/demo/slr/lexicon.json
  "$SCOPE" gate calibrate --data "$CORPUS" --split dev --add-lexicon models/demo/slr/lexicon.json
fi
stamp "done"
