#!/usr/bin/env bash
# make check-arm64: runs the arm64 package's own binary, libraries and models under
# qemu-user on this amd64 machine, as the package lays them out:
#
#   scope version   names the arm64 libraries it loaded (ELF machine of each file)
#   scope run       the demo (synthetic signing) through recogniser and translator, and
#                   a real photo through capture (arm64 OpenCV) and the pose models
#   scope run --input <.pose>   when this binary takes .pose input (the daemon issue adds it)
#   scope bench slr|slt|pose    short runs: emulated, so the figures show the stages run,
#                                not an arm64 board's speed
#
#   packaging/check-arm64.sh dist/scope_<version>_arm64.deb
#
# The package is unpacked into a folder and qemu-aarch64 runs with -L on it, so
# /usr/bin/scope, /usr/lib/scope and /etc/scope resolve inside the package; the arm64
# loader and Debian 12's arm64 libraries come from the arm64 sysroot
# (packaging/sysroot-arm64.sh), linked into that folder as /lib/aarch64-linux-gnu and
# /usr/lib/aarch64-linux-gnu. No binfmt registration is needed.
#
# SCOPE_SHARED_DATA (default ../shared/data) holds the real .pose samples.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
deb=$(realpath "${1:?usage: packaging/check-arm64.sh dist/scope_<version>_arm64.deb}")
shared=${SCOPE_SHARED_DATA:-$repo/../shared/data}
die() { printf 'check-arm64: %s\n' "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*"; }

[ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || die "$deb is not the arm64 package"
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$qemu" ] || die "no qemu-aarch64: run packaging/setup-arm64.sh (installs qemu-user-static)"
sysroot=$(bash "$repo/packaging/sysroot-arm64.sh" | tail -n1)
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || die "no arm64 loader in $sysroot: remove it and run packaging/sysroot-arm64.sh again"

work=$(mktemp -d /tmp/scope-check-arm64.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
dpkg-deb -x "$deb" "$root"
# Everything in the sysroot's /lib and /usr/lib that the package does not have itself
# (the multiarch folders, the loader, a few libraries such as libarmadillo in /usr/lib).
mkdir -p "$root/lib" "$root/usr/lib" "$root/etc"
for d in lib usr/lib; do
  for e in "$sysroot/$d"/*; do
    [ -e "$root/$d/$(basename "$e")" ] || ln -s "$e" "$root/$d/$(basename "$e")"
  done
done
# An empty loader cache: the loader must not take this machine's /etc/ld.so.cache. Its
# built-in paths are /lib and /usr/lib only (Debian adds the multiarch folders through
# ld.so.conf), so LD_LIBRARY_PATH below names them, as the guest sees them.
: >"$root/etc/ld.so.cache"
guestlibs=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu/blas:/usr/lib/aarch64-linux-gnu/lapack
mkdir -p "$work/state"
# SCOPE_CACHE=/usr/lib/scope: the package lays /usr/lib/scope out like the source tree's
# cache, so the commands that look there (bench) find ONNX Runtime and the pose models.
arm() {
  env -i PATH=/usr/bin:/bin HOME="$work/state" LANG=C.UTF-8 SCOPE_CACHE=/usr/lib/scope SCOPE_DATA_DIR="$work/state" \
    LD_LIBRARY_PATH="$guestlibs" "$qemu" -L "$root" "$root/usr/bin/scope" "$@"
}
pass=0 fail=0
ok() { pass=$((pass + 1)); printf 'PASS %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf 'FAIL %s\n' "$*"; }
timed() { # name logfile command...: runs it, prints its tail and its wall time
  local name=$1 log=$2; shift 2
  local t0=$SECONDS rc=0
  "$@" >"$log" 2>&1 || rc=$?
  sed 's/^/    /' "$log" | tail -n "${TAIL:-12}"
  printf '    (%s: exit %d, %d s under qemu)\n' "$name" "$rc" $((SECONDS - t0))
  return $rc
}

step "$(basename "$deb"): $(file -b "$root/usr/bin/scope" | cut -d, -f1-2)"
file -b "$root/usr/bin/scope" | grep -q "ARM aarch64" && ok "the binary is an arm64 ELF" || bad "the binary is not arm64"
file -b "$root/usr/lib/scope/onnxruntime/libonnxruntime.so.1" | grep -q "ARM aarch64" && ok "libonnxruntime.so.1 is arm64" || bad "libonnxruntime.so.1 is not arm64"

step "scope version (qemu-aarch64)"
if TAIL=40 timed version "$work/version.out" arm version --config /etc/scope/scope.yaml; then ok "scope version exits 0"; else bad "scope version"; fi
grep -q "(linux/arm64)" "$work/version.out" && ok "scope version: linux/arm64" || bad "scope version does not say linux/arm64"
grep -qE "^  arm64 +.*libonnxruntime\.so\.1" "$work/version.out" && ok "scope version: arm64 libonnxruntime.so.1 loaded" || bad "no arm64 libonnxruntime.so.1 in scope version"
grep -qE "^  arm64 +.*libopencv_core" "$work/version.out" && ok "scope version: arm64 libopencv_core loaded" || bad "no arm64 libopencv_core in scope version"
grep -qE "^ONNX Runtime +1\.30\.0" "$work/version.out" && ok "scope version: ONNX Runtime 1.30.0" || bad "ONNX Runtime version"
grep -q "amd64" "$work/version.out" && bad "an amd64 library was loaded" || ok "no amd64 library loaded"

step "scope run: the demo (synthetic signing), one dialogue"
if TAIL=14 timed "run demo" "$work/run.out" arm run --config /etc/scope/scope.yaml --dialogues 1 --seed 3; then ok "scope run (demo) exits 0"; else bad "scope run (demo)"; fi
grep -q "shown" "$work/run.out" && ok "scope run (demo) showed translated sentences" || bad "scope run (demo) showed no sentence"

photo=/usr/share/doc/opencv-doc/examples/data/messi5.jpg
step "scope run --input messi5.jpg --no-translate (arm64 OpenCV capture, pose models)"
if [ -f "$photo" ]; then
  if timed "run photo" "$work/photo.out" arm run --config /etc/scope/scope.yaml --input "$photo" --no-translate --no-store; then ok "scope run --input a photo exits 0"; else bad "scope run --input a photo"; fi
else
  bad "$photo missing (opencv-doc, installed by make setup)"
fi

pose=$(ls "$shared"/pose-samples/mediapipe.pose 2>/dev/null || true)
step "scope run --input <.pose>"
if [ -z "$pose" ]; then
  bad "no .pose sample in $shared/pose-samples (set SCOPE_SHARED_DATA)"
else
  if timed "run pose" "$work/runpose.out" arm run --config /etc/scope/scope.yaml --input "$pose" --no-store; then
    ok "scope run --input $(basename "$pose") exits 0"
  elif grep -qi "pose" "$work/runpose.out" && ! grep -q "SIGILL\|SIGSEGV\|panic" "$work/runpose.out"; then
    printf 'NOTE this binary does not take .pose input yet (the daemon issue adds it); the .pose check below runs the recogniser on it through bench slr --pose\n'
  else
    bad "scope run --input $(basename "$pose")"
  fi
fi

step "scope bench (emulated arm64: shows the stages run, not an arm64 board's speed)"
if [ -n "$pose" ]; then
  if TAIL=20 timed "bench slr --pose" "$work/bslr.out" arm bench slr --model /usr/lib/scope/models/demo/slr --pose "$pose" --runs 5; then ok "bench slr on a real .pose"; else bad "bench slr --pose"; fi
fi
if TAIL=20 timed "bench slt" "$work/bslt.out" arm bench slt --model /usr/lib/scope/models/demo/slt/slt-q4_0.gguf --types Q4_0 --runs 2 --tokens 32 --no-peer; then ok "bench slt"; else bad "bench slt"; fi
if TAIL=20 timed "bench pose" "$work/bpose.out" arm bench pose --complexity lite --frames 10 --no-mediapipe; then ok "bench pose"; else bad "bench pose"; fi

echo
echo "check-arm64 ($(dpkg-deb -f "$deb" Version), under $(basename "$qemu")): $pass passed, $fail failed"
[ "$fail" = 0 ]
