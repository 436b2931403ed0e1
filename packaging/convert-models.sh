#!/usr/bin/env bash
# Converts the MediaPipe models the pose pipeline opens (models/pose/pipeline.go) to
# ONNX once, with this machine's scope binary, into $SCOPE_CACHE/packaging/onnx for
# the packages: ONNX files are the same for every architecture, and an installed scope
# cannot convert into /usr/lib/scope. palm_detection_* and face_landmark_with_attention
# are not used by the pipeline and do not ship.
#
#   packaging/convert-models.sh SCOPE_BINARY
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:?usage: packaging/convert-models.sh SCOPE_BINARY}
cache=${SCOPE_CACHE:-$repo/.cache}
out=$cache/packaging/onnx
models=(pose_detection pose_landmark_lite pose_landmark_full pose_landmark_heavy
        hand_recrop hand_landmark_lite hand_landmark_full face_detection_short_range face_landmark)

# Converted again when the binary (and so the converter) changed.
stamp=$(sha256sum "$bin" | cut -c1-16)
if [ -f "$out/.complete" ] && [ "$(cat "$out/.complete")" = "$stamp" ]; then
  echo "==> onnx: ${#models[@]} converted MediaPipe models present"
  exit 0
fi
echo "==> onnx: converting ${#models[@]} MediaPipe models for the packages"
rm -rf "$out" && mkdir -p "$out"
for m in "${models[@]}"; do
  src=$cache/mediapipe/$m.tflite
  [ -f "$src" ] || { echo "packaging/convert-models.sh: $src is missing: run 'make setup'" >&2; exit 1; }
  nice "$bin" convert "$src" "$out/$m.onnx" >/dev/null
  chmod 0644 "$out/$m.onnx"
done
echo "$stamp" >"$out/.complete"
