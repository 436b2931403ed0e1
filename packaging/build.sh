#!/usr/bin/env bash
# Builds the scope binary for one Debian architecture, for packaging:
#
#   packaging/build.sh amd64 [OUT]   native build (same cgo flags as `make build`)
#   packaging/build.sh arm64 [OUT]   cross-build with aarch64-linux-gnu-gcc against the
#                                    arm64 sysroot of packaging/sysroot-arm64.sh
#
# OUT defaults to bin/<arch>/scope. The Go build cache keeps llama.cpp compiled per
# architecture: the first arm64 build compiles it for arm64 (79 minutes on 2 cores),
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
# Debian 12 arm64 in a folder (packaging/sysroot-arm64.sh, built once and cached): not
# multiarch, whose libopencv-*-dev:arm64 would remove this machine's amd64 libopencv-dev.
sysroot=$(bash packaging/sysroot-arm64.sh | tail -n1)
[ -f "$sysroot/usr/lib/aarch64-linux-gnu/libopencv_imgcodecs.so" ] || die "$sysroot has no arm64 OpenCV: remove it and run packaging/sysroot-arm64.sh again"

# gocv's default cgo flags ask pkg-config for opencv4.pc; the customenv tag takes the
# flags from here instead. These are the modules its C++ wrappers call.
OPENCV_MODULES="core imgproc imgcodecs videoio highgui objdetect dnn calib3d features2d photo video"
ldl=""
for m in $OPENCV_MODULES; do ldl+=" -lopencv_$m"; done

# Go's build cache keys every cgo package (llama.cpp: 79 minutes on 2 cores for arm64)
# on CC and the CGO_* variables, so those stay exactly as they were when the cache was
# filled; everything about the sysroot travels through what the key leaves out:
#   CPATH         the sysroot's OpenCV headers (arch-independent ones also come from
#                 -I/usr/include/opencv4, this machine's libopencv-dev: the same 4.6.0),
#   LIBRARY_PATH  where gcc finds -lopencv_* when cgo links its _cgo_.o,
#   -extldflags   the final link: --sysroot and -rpath-link for OpenCV's own dependencies.
# The C runtime headers and libstdc++ come from the cross toolchain (Debian 12's glibc
# 2.36 as in the sysroot).
sl=$sysroot/usr/lib/aarch64-linux-gnu
extld="--sysroot=$sysroot -L$sl -L$sysroot/lib/aarch64-linux-gnu -Wl,-rpath-link,$sl -Wl,-rpath-link,$sysroot/lib/aarch64-linux-gnu -Wl,-rpath-link,$sl/blas -Wl,-rpath-link,$sl/lapack"

echo "==> go build (arm64, cross: aarch64-linux-gnu-gcc, sysroot $sysroot; a cold cache compiles llama.cpp for arm64: over an hour on 2 cores)"
# No -mavx2 (x86 only); the arm64 baseline (armv8-a with NEON) runs on every 64-bit
# ARM board from the Raspberry Pi 3 to Jetson Orin.
CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
CGO_ENABLED=1 GOOS=linux GOARCH=arm64 \
CGO_CPPFLAGS="$CGO_CPPFLAGS -I/usr/include/opencv4" \
CGO_CFLAGS="-O2 -g" CGO_CXXFLAGS="-O2 -g" \
CGO_LDFLAGS="$ldl" \
CPATH="$sysroot/usr/include/opencv4:$sysroot/usr/include/aarch64-linux-gnu/opencv4" \
LIBRARY_PATH="$sl:$sysroot/lib/aarch64-linux-gnu" \
  nice -n 10 $GO build -tags customenv -ldflags "$ldflags -extldflags '$extld'" -o "$out" ./cmd/scope
