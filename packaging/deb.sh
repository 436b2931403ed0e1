#!/usr/bin/env bash
# Assembles dist/scope_<version>_<arch>.deb with Debian's own tools (dpkg-deb,
# dpkg-shlibdeps) from a built binary:
#
#   packaging/deb.sh ARCH BINARY [OUTDIR]
#
# ARCH is a Debian architecture (amd64, arm64); BINARY the scope binary built for it by
# packaging/build.sh. The package holds:
#   /usr/bin/scope                                  the binary
#   /usr/lib/scope/onnxruntime/libonnxruntime.so.1  ONNX Runtime for ARCH (onnxruntime-node tarball)
#   /usr/lib/scope/onnx/*.onnx                      MediaPipe's models, converted by `scope convert`
#   /usr/lib/scope/models/demo/{slr,slt}/           the demo model bundle (synthetic signing only)
# /usr/lib/scope is laid out like the source tree's cache (.cache/onnxruntime, .cache/onnx)
# and models/demo, so SCOPE_CACHE=/usr/lib/scope serves every command.
#   /etc/scope/scope.yaml                           the configuration (a conffile)
#   /lib/systemd/system/scope.service               the daemon's unit
#   /usr/share/doc/scope/                           README, copyright, licences of what is linked in
# Depends come from dpkg-shlibdeps on the binary and libonnxruntime.so.1 (Debian's
# runtime libraries, never -dev packages), plus adduser.
#
# SCOPE_CACHE: where `make setup` and packaging/setup-arm64.sh put ONNX Runtime and the
# MediaPipe models. VERSION overrides packaging/version.sh.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:?usage: packaging/deb.sh ARCH BINARY [OUTDIR]}
bin=${2:?usage: packaging/deb.sh ARCH BINARY [OUTDIR]}
outdir=${3:-$repo/dist}
cache=${SCOPE_CACHE:-$repo/.cache}
version=${VERSION:-$("$repo/packaging/version.sh")}
die() { printf 'packaging/deb.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*"; }

case "$arch" in
  amd64) ortlib=$cache/onnxruntime/libonnxruntime.so.1 ortarch=x64 triplet=x86_64-linux-gnu machine=x86-64 ;;
  arm64) ortlib=$cache/onnxruntime/arm64/libonnxruntime.so.1 ortarch=arm64 triplet=aarch64-linux-gnu machine=aarch64 ;;
  *) die "no packaging for architecture $arch (amd64 and arm64)" ;;
esac
[ "$(dpkg --print-architecture)" = amd64 ] || die "packages are built on amd64 (the arm64 one is cross-built)"
[ -x "$bin" ] || die "$bin: no such binary; build it with packaging/build.sh $arch"
file -b "$bin" | grep -q "$machine" || die "$bin is not a $arch binary: $(file -b "$bin")"
[ -f "$ortlib" ] || die "$ortlib is missing: run 'make setup'$([ "$arch" = arm64 ] && echo " and packaging/setup-arm64.sh")"
file -b -L "$ortlib" | grep -q "$machine" || die "$ortlib is not a $arch library: $(file -b -L "$ortlib")"
onnx=$cache/packaging/onnx
[ -f "$onnx/.complete" ] || die "$onnx holds no converted models: run packaging/convert-models.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
step "staging scope $version ($arch) in $root"

install -D -m 0755 "$bin" "$root/usr/bin/scope"
install -D -m 0644 "$ortlib" "$root/usr/lib/scope/onnxruntime/libonnxruntime.so.1"
install -d -m 0755 "$root/usr/lib/scope/onnx"
install -m 0644 "$onnx"/*.onnx "$root/usr/lib/scope/onnx/"
for part in slr slt; do
  install -d -m 0755 "$root/usr/lib/scope/models/demo/$part"
  install -m 0644 "$repo/models/demo/$part"/* "$root/usr/lib/scope/models/demo/$part/"
done
install -D -m 0644 "$repo/packaging/deb/scope.yaml" "$root/etc/scope/scope.yaml"
# The unit is the daemon's own hardened one (`scope service unit`, daemon/service/unit.go),
# so that the package and `scope service install` never drift apart. The text does not
# depend on the architecture: for arm64 it comes from the amd64 binary that
# `make package` built, which runs here.
unitgen=$bin
[ "$arch" = amd64 ] || unitgen=$repo/bin/amd64/scope
[ -x "$unitgen" ] || die "$unitgen is missing: 'make package' builds it (it writes the arm64 package's unit too)"
install -d -m 0755 "$root/lib/systemd/system"
"$unitgen" service unit --binary /usr/bin/scope --config /etc/scope/scope.yaml |
  sed '1,2c # SCOPE daemon, installed by the scope package (the unit of `scope service unit`).\
# Local changes: `systemctl edit scope` (a drop-in in /etc/systemd/system/scope.service.d/).' \
  >"$root/lib/systemd/system/scope.service"
grep -q '^ExecStart=/usr/bin/scope serve --config /etc/scope/scope.yaml$' "$root/lib/systemd/system/scope.service" ||
  die "scope service unit wrote no ExecStart for /usr/bin/scope"
chmod 0644 "$root/lib/systemd/system/scope.service"

doc=$root/usr/share/doc/scope
install -d -m 0755 "$doc"
install -m 0644 "$repo/packaging/README.md" "$doc/README.md"
install -m 0644 "$repo/packaging/deb/copyright" "$doc/copyright"
# The licence of every Go module linked into the binary (its build info lists them),
# llama.cpp's and ggml's inside the ollama module included.
GOFLAGS=-mod=mod go version -m "$bin" | awk '$1 == "dep" {print $2, $3}' | while read -r mod ver; do
  dir=$(cd "$repo" && go list -m -f '{{.Dir}}' "$mod" 2>/dev/null) || continue
  [ -n "$dir" ] || continue
  for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE*; do
    [ -f "$f" ] && install -D -m 0644 "$f" "$doc/licenses/$mod/$(basename "$f")"
  done
  if [ "$mod" = github.com/ollama/ollama ]; then
    install -D -m 0644 "$dir/llama/llama.cpp/LICENSE" "$doc/licenses/llama.cpp/LICENSE"
    install -D -m 0644 "$dir/ml/backend/ggml/ggml/LICENSE" "$doc/licenses/ggml/LICENSE"
  fi
done
{
  printf 'scope (%s) stable; urgency=medium\n\n' "$version"
  printf '  * Built from %s.\n\n' "$(cd "$repo" && git log -1 --format='%h (%s)' 2>/dev/null || echo 'a source tree without git')"
  printf ' -- SCOPE developers <scope@localhost>  %s\n' "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(cd "$repo" && git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n >"$doc/changelog.Debian.gz"

# Runtime dependencies: dpkg-shlibdeps maps each NEEDED library of the binary and of
# libonnxruntime.so.1 (which scope loads with dlopen) to its Debian package and the
# version its symbols need.
# For arm64 the libraries and the dpkg database are the sysroot's (packaging/sysroot-arm64.sh:
# SYSROOT.dpkg lists its files with the sysroot prefix).
shlibopts=(-l"/usr/lib/$triplet")
if [ "$arch" = arm64 ]; then
  sysroot=$(bash "$repo/packaging/sysroot-arm64.sh" | tail -n1)
  shlibopts=(--admindir="$sysroot.dpkg" -l"$sysroot/usr/lib/$triplet" -l"$sysroot/lib/$triplet"
    -l"$sysroot/usr/lib/$triplet/blas" -l"$sysroot/usr/lib/$triplet/lapack")
fi
install -d "$work/shlibs/debian"
printf 'Source: scope\n\nPackage: scope\nArchitecture: any\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && DEB_HOST_ARCH=$arch DEB_HOST_MULTIARCH=$triplet DEB_HOST_GNU_TYPE=$triplet \
  dpkg-shlibdeps -O "${shlibopts[@]}" "$root/usr/bin/scope" "$root/usr/lib/scope/onnxruntime/libonnxruntime.so.1" 2>"$work/shlibdeps.err") \
  || { cat "$work/shlibdeps.err" >&2; die "dpkg-shlibdeps failed for $arch"; }
depends=${depends#shlibs:Depends=}
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies"
case "$depends" in *-dev*) die "a -dev package in Depends: $depends" ;; esac
depends="adduser, $depends"

install -d -m 0755 "$root/DEBIAN"
# ONNX Runtime's version as its npm package names it (the tarball scripts/setup.sh pinned).
ortver=$(tar -xzf "$cache/npm/onnxruntime-node-1.30.0.tgz" -O package/package.json | sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' | head -n1)
[ -n "$ortver" ] || die "no version in $cache/npm/onnxruntime-node-1.30.0.tgz's package.json"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
control=$(<"$repo/packaging/deb/control.in")
control=${control//@VERSION@/$version}
control=${control//@ARCH@/$arch}
control=${control//@INSTALLED_SIZE@/$size}
control=${control//@DEPENDS@/$depends}
control=${control//@ORT_VERSION@/$ortver}
control=${control//@ORT_ARCH@/linux\/$ortarch}
printf '%s\n' "$control" >"$root/DEBIAN/control"
echo /etc/scope/scope.yaml >"$root/DEBIAN/conffiles"
for s in preinst postinst prerm postrm; do
  install -m 0755 "$repo/packaging/deb/$s" "$root/DEBIAN/$s"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

mkdir -p "$outdir"
out=$outdir/scope_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
step "$out: $(du -h "$out" | cut -f1) ($(dpkg-deb -f "$out" Installed-Size) KiB installed)"
echo "    Depends: $depends"
