#!/usr/bin/env bash
# Idempotent setup of the arm64 cross-build on an amd64 Debian 12 machine:
#   - Debian multiarch (dpkg --add-architecture arm64) and the cross compiler
#     (crossbuild-essential-arm64: aarch64-linux-gnu-gcc/g++);
#   - NOT OpenCV for arm64 through multiarch: libopencv-*-dev:arm64 (and even the runtime
#     libopencv-imgcodecs406:arm64, through libgdal32 and gdal-plugins, which are not
#     Multi-Arch: same) make apt REMOVE the amd64 libopencv-dev, python3-torch and the rest
#     that every amd64 build here needs (measured: it broke the other developers' builds
#     once). The arm64 OpenCV comes from an arm64 Debian 12 sysroot in a folder, which
#     packaging/sysroot-arm64.sh builds with mmdebstrap (installed here) when
#     packaging/build.sh arm64 first needs it;
#   - qemu-user-static, to run the arm64 binary on this machine;
#   - libonnxruntime.so.1 for linux/arm64 from the onnxruntime-node tarball that
#     scripts/setup.sh fetched and checked, into $SCOPE_CACHE/onnxruntime/arm64/.
#
#   SCOPE_SKIP_APT=1  skip the apt step (packages installed some other way)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${SCOPE_CACHE:-$repo/.cache}
step() { printf '==> %s\n' "$*"; }
die() { printf 'setup-arm64: %s\n' "$*" >&2; exit 1; }

[ "$(dpkg --print-architecture)" = amd64 ] || die "this cross-build setup runs on amd64 (this machine is $(dpkg --print-architecture)); on arm64 build natively with 'make build'"

pkgs=(crossbuild-essential-arm64 qemu-user-static mmdebstrap)

if [ "${SCOPE_SKIP_APT:-}" = 1 ]; then
  step "apt (arm64): skipped (SCOPE_SKIP_APT=1)"
else
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  added=0
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    step "dpkg: adding the arm64 architecture (multiarch)"
    $sudo dpkg --add-architecture arm64
    added=1
  fi
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    step "apt (arm64): ${#pkgs[@]} packages present"
  else
    step "apt (arm64): installing ${missing[*]}"
    if [ $added = 1 ] || [ "${#missing[@]}" -gt 0 ]; then
      $sudo apt-get update -q >/dev/null || die "apt-get update failed; check the Debian package sources (arm64 must be served by them)"
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install of ${missing[*]} failed"
  fi
fi

# ONNX Runtime for linux/arm64, from the tarball scripts/setup.sh pinned by sha256.
tgz="$cache/npm/onnxruntime-node-1.30.0.tgz"
[ -f "$tgz" ] || die "$tgz is missing: run 'make setup' first (it fetches and checks it)"
out="$cache/onnxruntime/arm64"
mkdir -p "$out"
if [ -f "$out/libonnxruntime.so.1" ] && [ -f "$out/.from-1.30.0" ]; then
  step "onnxruntime: arm64 libonnxruntime.so.1 present"
else
  step "onnxruntime: extracting linux/arm64 libonnxruntime.so.1"
  tar -xzf "$tgz" -O package/bin/napi-v6/linux/arm64/libonnxruntime.so.1 >"$out/libonnxruntime.so.1.tmp" \
    || die "$tgz has no linux/arm64 libonnxruntime.so.1"
  mv "$out/libonnxruntime.so.1.tmp" "$out/libonnxruntime.so.1"
  touch "$out/.from-1.30.0"
fi
step "arm64 cross-build setup complete"
