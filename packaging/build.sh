#!/usr/bin/env bash
# Builds the scope binary for one Debian architecture, for packaging:
#
#   packaging/build.sh amd64 [OUT]   native build (same cgo flags as `make build`)
#   packaging/build.sh arm64 [OUT]   cross-build with aarch64-linux-gnu-gcc against the
#                                    arm64 OpenCV of packaging/setup-arm64.sh
#
# OUT defaults to bin/<arch>/scope. The Go build cache keeps llama.cpp compiled per
# architecture: the first arm64 build compiles it for arm64 (10+ minutes on 2 cores),
# later ones take seconds. The flags below must stay the same from build to build for
# that cache to hit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
arch=${1:?usage: packaging/build.sh amd64|arm64 [OUT]}
out=${2:-bin/$arch/scope}
GO=${GO:-go}
die() { printf 'packaging/build.sh: %s\n' "$*" >&2; exit 1; }

# The cgo include flags and the revision stamp come from the Makefile, so that the
# native build here is byte-for-byte the flags of `make build` (and hits its cache).
eval "$(make -s env)"
revision=$(make -s print-revision)
ldflags="-X scope/version.revision=$revision -s -w"

host=$(dpkg --print-architecture)
if [ "$arch" = "$host" ]; then
  echo "==> go build ($arch, native)"
  CGO_ENABLED=1 nice $GO build -ldflags "$ldflags" -o "$out" ./cmd/scope
  exit 0
fi

case "$host/$arch" in
  amd64/arm64) ;;
  *) die "cross-building $arch on $host is not set up (only amd64 -> arm64)" ;;
esac

command -v aarch64-linux-gnu-gcc >/dev/null || die "aarch64-linux-gnu-gcc is missing: run packaging/setup-arm64.sh (make setup-arm64)"
[ -f /usr/lib/aarch64-linux-gnu/libopencv_imgcodecs.so ] || die "no arm64 OpenCV to link against. It cannot come from Debian multiarch on a machine that also builds amd64: libopencv-*-dev:arm64 and libopencv-imgcodecs406:arm64 make apt remove the amd64 libopencv-dev (libgdal32 is not Multi-Arch: same). An arm64 sysroot in a folder (mmdebstrap --architectures=arm64 --variant=extract) is the way; packaging does not build one yet (see packaging/README.md)"

# gocv's default cgo flags ask pkg-config for opencv4.pc, which only libopencv-dev
# (amd64) ships; the customenv tag takes the flags from here instead. These are the
# modules its C++ wrappers call (keep in sync with packaging/setup-arm64.sh).
OPENCV_MODULES="core imgproc imgcodecs videoio highgui objdetect dnn calib3d features2d photo video"
ldl=""
for m in $OPENCV_MODULES; do ldl+=" -lopencv_$m"; done

echo "==> go build (arm64, cross: aarch64-linux-gnu-gcc; the first build compiles llama.cpp for arm64, 10+ minutes on 2 cores)"
# No -mavx2 (x86 only); the arm64 baseline (armv8-a with NEON) runs on every 64-bit
# ARM board from the Raspberry Pi 3 to Jetson Orin.
CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
CGO_ENABLED=1 GOOS=linux GOARCH=arm64 \
CGO_CPPFLAGS="$CGO_CPPFLAGS -I/usr/include/opencv4" \
CGO_CFLAGS="-O2 -g" CGO_CXXFLAGS="-O2 -g" \
CGO_LDFLAGS="$ldl" \
  nice $GO build -tags customenv -ldflags "$ldflags" -o "$out" ./cmd/scope
