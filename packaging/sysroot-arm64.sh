#!/usr/bin/env bash
# Builds, once, the arm64 Debian 12 sysroot that the arm64 cross-build links against and
# that dpkg-shlibdeps and qemu read the arm64 libraries from:
#
#   packaging/sysroot-arm64.sh      prints the sysroot's path on its last line
#
# Why a folder and not multiarch: libopencv-*-dev:arm64 (and even the runtime
# libopencv-imgcodecs406:arm64, through libgdal32, which is not Multi-Arch: same) make apt
# REMOVE the amd64 libopencv-dev that every amd64 build here needs.
#
# mmdebstrap --variant=extract only unpacks the packages (no arm64 maintainer script runs,
# so neither root chroot nor binfmt is needed), from the same apt sources as this machine
# (read from /etc/apt). Then, because no maintainer script ran:
#   - absolute symlinks (libz.so -> /lib/...) are made relative, so the linker's --sysroot
#     and qemu -L never follow them onto this machine's own files;
#   - the alternatives that libblas3/liblapack3 register in postinst are made by hand;
#   - a dpkg database of the sysroot (status, file lists, shlibs and symbols files, paths
#     prefixed with the sysroot) is written to SYSROOT.dpkg, so that
#     dpkg-shlibdeps --admindir=SYSROOT.dpkg maps each arm64 library to its Debian package.
#
# SCOPE_SYSROOT_ARM64  where (default ${XDG_CACHE_HOME:-~/.cache}/scope/sysroot-arm64-bookworm)
# About 1.1 GB; the first build downloads about 300 MB (2-3 minutes here).
set -euo pipefail

sysroot=${SCOPE_SYSROOT_ARM64:-${XDG_CACHE_HOME:-$HOME/.cache}/scope/sysroot-arm64-bookworm}
db=$sysroot.dpkg
# The -dev packages the cgo build needs (gocv's wrappers: OpenCV 4.6; llama.cpp and the
# rest: the C and C++ runtimes). Changing this list rebuilds the sysroot.
pkgs="libc6-dev,libstdc++-12-dev,libopencv-dev"
want="bookworm arm64 $pkgs v1"
step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'packaging/sysroot-arm64.sh: %s\n' "$*" >&2; exit 1; }

if [ -f "$sysroot/.scope-sysroot" ] && [ "$(cat "$sysroot/.scope-sysroot")" = "$want" ] && [ -f "$db/status" ] && [ -f "$db/info/format" ]; then
  step "arm64 sysroot present: $sysroot"
  echo "$sysroot"
  exit 0
fi
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install mmdebstrap (packaging/setup-arm64.sh installs it)"
sources=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed '/^#/d'; grep -hv '^#' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
[ -n "$sources" ] || die "no apt sources in /etc/apt to fetch Debian's arm64 packages from"

tmp=$sysroot.tmp
rm -rf "$tmp" "$db.tmp"
mkdir -p "$(dirname "$sysroot")"
step "mmdebstrap: Debian 12 arm64 with $pkgs into $tmp (extract only, nothing arm64 runs)"
# Deb822 stanzas need a blank line between them; one-line entries pass through.
printf '%s\n' "$sources" | sed 's/^Types:/\nTypes:/' |
  nice -n 10 mmdebstrap --quiet --architectures=arm64 --variant=extract --include="$pkgs" \
    --skip=cleanup/apt/cache bookworm "$tmp" - ||
  die "mmdebstrap failed (it needs Debian's arm64 packages from the apt sources in /etc/apt)"

step "making absolute symlinks relative"
while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$tmp$target")" "$link"
done < <(find "$tmp" -type l -lname '/*' -print0)

step "alternatives that postinst would register (libblas.so.3, liblapack.so.3)"
for alt in blas/libblas.so.3 lapack/liblapack.so.3; do
  d=$tmp/usr/lib/aarch64-linux-gnu
  [ -e "$d/$alt" ] && ln -sfn "$alt" "$d/$(basename "$alt")"
done

step "dpkg database of the sysroot for dpkg-shlibdeps ($db)"
mkdir -p "$db.tmp/info" "$db.tmp/updates"
echo arm64 >"$db.tmp/arch"
# Format 1: multiarch file names (pkg:arm64.list); without it dpkg reads none of them.
echo 1 >"$db.tmp/info/format"
ctl=$(mktemp -d)
for deb in "$tmp"/var/cache/apt/archives/*.deb; do
  pkg=$(dpkg-deb -f "$deb" Package)
  name=$pkg
  [ "$(dpkg-deb -f "$deb" Multi-Arch)" = same ] && name="$pkg:$(dpkg-deb -f "$deb" Architecture)"
  dpkg-deb -f "$deb" | sed '1a Status: install ok installed' >>"$db.tmp/status"
  echo >>"$db.tmp/status"
  rm -rf "$ctl/c" && dpkg-deb -e "$deb" "$ctl/c"
  for f in shlibs symbols; do
    [ -f "$ctl/c/$f" ] && cp "$ctl/c/$f" "$db.tmp/info/$name.$f"
  done
  dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e "s|^\./|$sysroot/|" -e 's|/$||' >"$db.tmp/info/$name.list"
done
rm -rf "$ctl"
rm -f "$tmp"/var/cache/apt/archives/*.deb
[ -s "$db.tmp/status" ] || die "no packages recorded in $db.tmp"

echo "$want" >"$tmp/.scope-sysroot"
rm -rf "$sysroot" "$db"
mv "$tmp" "$sysroot"
mv "$db.tmp" "$db"
step "arm64 sysroot ready: $sysroot ($(du -sh "$sysroot" | cut -f1))"
echo "$sysroot"
