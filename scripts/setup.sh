#!/usr/bin/env bash
# Idempotent setup for SCOPE: Debian packages, pinned npm tarballs, and the native
# libraries and MediaPipe models extracted from them into the cache.
#
#   SCOPE_CACHE   where downloads and extracted files go (default: <repo>/.cache)
#   SCOPE_SKIP_APT=1  skip the apt step (packages installed some other way)
#
# A second run checks what is there and finishes in seconds.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${SCOPE_CACHE:-$repo/.cache}
mkdir -p "$cache/npm" "$cache/onnxruntime" "$cache/mediapipe"

step() { printf '==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------
apt_pkgs=(
  build-essential pkg-config
  libopencv-dev opencv-doc          # capture and image ops (gocv v0.31.0 needs OpenCV 4.6)
  nlohmann-json3-dev libstb-dev     # headers llama.cpp's sources include
  python3-torch python3-numpy python3-sentencepiece libopenblas0-pthread  # train/
  chromium                          # reference runs of MediaPipe/LiteRT (tools/mpref)
)
if [ "${SCOPE_SKIP_APT:-}" = 1 ]; then
  step "apt: skipped (SCOPE_SKIP_APT=1)"
else
  missing=()
  for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    step "apt: ${#apt_pkgs[@]} packages present"
  else
    step "apt: installing ${missing[*]}"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -q >/dev/null || die "apt-get update failed; check the Debian package sources"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install of ${missing[*]} failed"
  fi
fi

# --- pinned npm tarballs ---------------------------------------------------
# name@version  tarball  sha256
npm_pkgs=(
  "onnxruntime-node@1.30.0 onnxruntime-node-1.30.0.tgz 6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75"
  "@mediapipe/holistic@0.5.1675471629 mediapipe-holistic-0.5.1675471629.tgz 8a3c0632e40e761e637d020738e96dc54d9bbbd4330ce2b206469fe467fd708b"
  "@mediapipe/hands@0.4.1675469240 mediapipe-hands-0.4.1675469240.tgz bdd5be939c60cbd72a49f4b6141407683cf2a67263598e1a44757d70b3dfcb8a"
)
for entry in "${npm_pkgs[@]}"; do
  read -r spec tgz sum <<<"$entry"
  f="$cache/npm/$tgz"
  if [ -f "$f" ] && echo "$sum  $f" | sha256sum -c --status; then
    step "npm: $spec present (sha256 ok)"
    continue
  fi
  step "npm: fetching $spec"
  rm -f "$f"
  (cd "$cache/npm" && npm pack --silent "$spec" >/dev/null) || die "npm pack $spec failed; is the npm registry reachable?"
  [ -f "$f" ] || die "npm pack $spec did not write $tgz"
  if ! echo "$sum  $f" | sha256sum -c --status; then
    got=$(sha256sum "$f" | cut -d' ' -f1)
    mv "$f" "$f.bad"
    die "checksum mismatch for $spec: want $sum, got $got (kept as $f.bad)"
  fi
done

# --- ONNX Runtime shared library -------------------------------------------
case "$(uname -m)" in
  x86_64) ortarch=x64 ;;
  aarch64|arm64) ortarch=arm64 ;;
  *) die "no ONNX Runtime build in onnxruntime-node for $(uname -m) (x86_64 and aarch64 are supported)" ;;
esac
ortlib="$cache/onnxruntime/libonnxruntime.so.1"
stamp="$cache/onnxruntime/.from-1.30.0-$ortarch"
if [ -f "$ortlib" ] && [ -f "$stamp" ]; then
  step "onnxruntime: libonnxruntime.so.1 ($ortarch) present"
else
  step "onnxruntime: extracting libonnxruntime.so.1 ($ortarch)"
  tar -xzf "$cache/npm/onnxruntime-node-1.30.0.tgz" -O "package/bin/napi-v6/linux/$ortarch/libonnxruntime.so.1" >"$ortlib.tmp" \
    || die "onnxruntime-node-1.30.0.tgz has no linux/$ortarch/libonnxruntime.so.1"
  mv "$ortlib.tmp" "$ortlib"
  rm -f "$cache"/onnxruntime/.from-*
  touch "$stamp"
fi

# --- MediaPipe models --------------------------------------------------------
mp="$cache/mediapipe"
if [ -f "$mp/.complete" ]; then
  step "mediapipe: $(ls "$mp"/*.tflite | wc -l) models present"
else
  step "mediapipe: extracting models"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$cache/npm/mediapipe-holistic-0.5.1675471629.tgz" -C "$tmp" || die "cannot unpack the holistic tarball"
  mkdir -p "$tmp/hands"
  tar -xzf "$cache/npm/mediapipe-hands-0.4.1675469240.tgz" -C "$tmp/hands" || die "cannot unpack the hands tarball"
  cp "$tmp"/package/pose_landmark_{lite,full,heavy}.tflite "$mp/"
  cp "$tmp/hands/package/hand_landmark_lite.tflite" "$mp/"
  # The remaining models are packed into one .data file; the loader script names
  # each file with its byte range.
  python3 - "$tmp/package/holistic_solution_packed_assets_loader.js" "$tmp/package/holistic_solution_packed_assets.data" "$mp" <<'PY' || die "cannot unpack holistic_solution_packed_assets.data"
import json, os, re, sys
loader, data, out = sys.argv[1:]
m = re.search(r'loadPackage\((\{.*?\})\);?\s*\}\)\(\);', open(loader).read(), re.S) or \
    re.search(r'loadPackage\((\{"files".*?"remote_package_size":\s*\d+[^}]*\})\)', open(loader).read(), re.S)
if not m:
    sys.exit("no loadPackage metadata in " + loader)
meta = json.loads(m.group(1))
blob = open(data, "rb").read()
for f in meta["files"]:
    name = os.path.basename(f["filename"])
    if not (name.endswith(".tflite") or name.endswith(".txt")):
        continue
    with open(os.path.join(out, name), "wb") as w:
        w.write(blob[f["start"]:f["end"]])
    print("    " + name, f["end"] - f["start"], "bytes")
PY
  touch "$mp/.complete"
fi
step "setup complete: cache at $cache"
