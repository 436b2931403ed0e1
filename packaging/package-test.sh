#!/usr/bin/env bash
# make package-test: installs the amd64 package into a throwaway Debian 12 root and
# checks what a kiosk's admin relies on:
#
#   1. install an older package: system user, state folder, config owner and mode,
#      service enabled, files in place; `scope version` and `scope run` work as the
#      service's user with nothing but Debian 12 and the package's Depends installed;
#   2. upgrade to the new package: the admin's config edit and the conversation store
#      survive, the new default config is left beside it as scope.yaml.dpkg-dist;
#   3. remove: program files and unit go, config and conversations stay, reinstalling
#      finds the conversations again;
#   4. purge: config, conversations and statoverride go; the system user stays.
#
#   packaging/package-test.sh dist/scope_<version>_amd64.deb
#
# The root is Debian 12 minbase plus the package's Depends, made once by mmdebstrap
# from this machine's own apt sources and kept in $SCOPE_CACHE/packaging/ (a few
# minutes the first time, then a copy of it for each run). The "older"
# package is the new one with a lower version and a different default config, so the
# upgrade meets a changed conffile as a real one would.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
deb=$(realpath "${1:?usage: packaging/package-test.sh dist/scope_<version>_amd64.deb}")
cache=${SCOPE_CACHE:-$repo/.cache}
die() { printf 'package-test: %s\n' "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*"; }

[ "$(id -u)" = 0 ] || die "needs root (chroot, mount, dpkg in the root)"
[ "$(dpkg-deb -f "$deb" Architecture)" = amd64 ] || die "$deb: want the amd64 package (this machine runs it natively)"
version=$(dpkg-deb -f "$deb" Version)

if ! command -v mmdebstrap >/dev/null; then
  step "apt: installing mmdebstrap"
  apt-get update -q >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >/dev/null || die "apt-get install mmdebstrap failed"
fi

# --- the Debian 12 root: minbase + the package's Depends, without version ranges ---
depnames=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u | paste -sd, -)
key=$(printf '%s' "$depnames" | sha256sum | cut -c1-12)
base=$cache/packaging/bookworm-minbase-$key
if [ ! -f "$base/.complete" ]; then
  step "mmdebstrap: Debian 12 minbase + $depnames (once; kept in $base)"
  mkdir -p "$cache/packaging"
  sources=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)
  if [ -n "$sources" ]; then src=("$sources"); else src=(/etc/apt/sources.list); fi
  # The host's sources decide the mirror (no host name in here).
  grep -q . "${src[0]}" || die "no apt sources on this machine"
  rm -rf "$base.partial"
  nice mmdebstrap --quiet --variant=minbase --include="$depnames" bookworm "$base.partial" - <"${src[0]}" \
    || die "mmdebstrap failed"
  rm -rf "$base"
  mv "$base.partial" "$base"
  touch "$base/.complete"
fi

work=$(mktemp -d /tmp/scope-package-test.XXXXXX)
root=$work/root
cleanup() {
  for m in proc sys; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
  rm -rf "$work"
}
trap cleanup EXIT
cp -a "$base" "$root"
rm -f "$root/.complete"
mount -t proc proc "$root/proc"
mount --rbind -o ro /sys "$root/sys" 2>/dev/null || true

# The older package: same contents, a lower version, a different default config.
old=$work/old
dpkg-deb -R "$deb" "$old"
oldversion="${version}~old"
sed -i "s/^Version: .*/Version: $oldversion/" "$old/DEBIAN/control"
sed -i '1i # (default config of the older package)' "$old/etc/scope/scope.yaml"
(cd "$old" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$old/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$old" "$root/tmp/scope-old.deb" >/dev/null
cp "$deb" "$root/tmp/scope-new.deb"

pass=0 fail=0
ok() { pass=$((pass + 1)); printf 'PASS %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf 'FAIL %s\n' "$*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
# As the daemon runs: user scope, state in /var/lib/scope, the packaged config.
as_scope() { in_root setpriv --reuid=scope --regid=scope --init-groups env HOME=/var/lib/scope SCOPE_DATA_DIR=/var/lib/scope "$@"; }
has() { [ -e "$root$1" ]; }
rstat() { chroot "$root" stat -c "$1" "$2" 2>/dev/null; } # owner names as the root knows them
hasnot() { [ ! -e "$root$1" ] && [ ! -L "$root$1" ]; }
status() { in_root dpkg-query -W -f='${db:Status-Abbrev}${Version}' scope 2>/dev/null | tr -s ' '; }

# --- 1. install the older package ---------------------------------------------------
step "install scope $oldversion into a fresh Debian 12 root ($root)"
if in_root dpkg -i /tmp/scope-old.deb >"$work/install.log" 2>&1; then ok "dpkg -i (Depends met by Debian 12 + the declared packages)"; else bad "dpkg -i"; cat "$work/install.log"; fi
check "installed: status ii $oldversion" test "$(status)" = "ii $oldversion"
check "system user scope exists, a system uid" sh -c "uid=\$(chroot '$root' id -u scope) && [ \"\$uid\" -lt 1000 ]"
check "user scope is in the video group (cameras)" sh -c "chroot '$root' id -nG scope | grep -qw video"
check "/var/lib/scope: scope:scope 0700" test "$(rstat '%U:%G %a' /var/lib/scope)" = "scope:scope 700"
check "/etc/scope/scope.yaml: root:scope 0640 (may hold the API token)" test "$(rstat '%U:%G %a' /etc/scope/scope.yaml)" = "root:scope 640"
check "/etc/scope/scope.yaml is a conffile" sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' scope | grep -q /etc/scope/scope.yaml"
check "unit installed and enabled (multi-user.target.wants)" sh -c "[ -f '$root/lib/systemd/system/scope.service' ] && [ -L '$root/etc/systemd/system/multi-user.target.wants/scope.service' ]"
for f in /usr/bin/scope /usr/lib/scope/onnxruntime/libonnxruntime.so.1 /usr/lib/scope/onnx/pose_landmark_lite.onnx \
         /usr/lib/scope/models/demo/slr/manifest.json /usr/lib/scope/models/demo/slt/slt-q4_0.gguf /usr/share/doc/scope/copyright; do
  check "file $f" has "$f"
done
check "no missing shared library (ldd /usr/bin/scope)" sh -c "! chroot '$root' ldd /usr/bin/scope | grep -q 'not found'"

as_scope scope version --config /etc/scope/scope.yaml >"$work/version.out" 2>&1 || true
sed 's/^/    /' "$work/version.out"
check "scope version: ONNX Runtime 1.30.0 loaded from /usr/lib/scope" grep -q "ONNX Runtime.*1\.30\.0" "$work/version.out"
check "scope version: OpenCV 4.6 from Debian" grep -q "OpenCV.*4\.6" "$work/version.out"
check "scope version: llama.cpp" grep -q "llama.cpp" "$work/version.out"

as_scope scope run --config /etc/scope/scope.yaml --dialogues 1 --seed 3 >"$work/run.out" 2>&1 && runrc=0 || runrc=$?
tail -n 8 "$work/run.out" | sed 's/^/    /'
check "scope run (demo, synthetic signing) exits 0" test "$runrc" = 0
check "scope run translated sentences" grep -q "shown" "$work/run.out"
check "the conversation store is in /var/lib/scope, 0600" test "$(rstat '%U %a' /var/lib/scope/dialogue.db)" = "scope 600"
as_scope scope conversations list --config /etc/scope/scope.yaml >"$work/conv-before.out" 2>&1 || true
nconv=$(grep -c . "$work/conv-before.out" || true)
check "scope conversations list shows the demo's conversations" test "$nconv" -ge 1

# The admin's edit.
printf '\n# edited by the admin\nlog:\n  level: debug\n' >>"$root/etc/scope/scope.yaml"
sum_conf=$(sha256sum <"$root/etc/scope/scope.yaml")
sum_db=$(sha256sum <"$root/var/lib/scope/dialogue.db")

# --- 2. upgrade -------------------------------------------------------------------------
step "upgrade to scope $version"
if in_root dpkg -i --force-confold /tmp/scope-new.deb >"$work/upgrade.log" 2>&1; then ok "dpkg -i (upgrade)"; else bad "dpkg -i (upgrade)"; cat "$work/upgrade.log"; fi
check "upgraded: status ii $version" test "$(status)" = "ii $version"
check "the admin's config is kept" test "$(sha256sum <"$root/etc/scope/scope.yaml")" = "$sum_conf"
check "the new default config is beside it (scope.yaml.dpkg-dist)" has /etc/scope/scope.yaml.dpkg-dist
check "config owner and mode kept (root:scope 0640)" test "$(rstat '%U:%G %a' /etc/scope/scope.yaml)" = "root:scope 640"
check "the conversation store is untouched" test "$(sha256sum <"$root/var/lib/scope/dialogue.db")" = "$sum_db"
as_scope scope conversations list --config /etc/scope/scope.yaml >"$work/conv-after.out" 2>&1 || true
check "the same conversations are listed after the upgrade" cmp -s "$work/conv-before.out" "$work/conv-after.out"
as_scope scope config print --config /etc/scope/scope.yaml >"$work/config.out" 2>&1 || true
check "the upgraded binary reads the kept config (log.level debug)" grep -q "level: debug" "$work/config.out"
check "the unit is still enabled" test -L "$root/etc/systemd/system/multi-user.target.wants/scope.service"

# Opening the store (the listing above) may write to it: the sum to keep is today's.
sum_db=$(sha256sum <"$root/var/lib/scope/dialogue.db")

# --- 3. remove --------------------------------------------------------------------------
step "dpkg -r scope"
if in_root dpkg -r scope >"$work/remove.log" 2>&1; then ok "dpkg -r"; else bad "dpkg -r"; cat "$work/remove.log"; fi
check "removed: status rc (config files remain)" test "$(status)" = "rc $version"
for f in /usr/bin/scope /usr/lib/scope /lib/systemd/system/scope.service; do check "gone: $f" hasnot "$f"; done
check "kept: /etc/scope/scope.yaml with the admin's edit" test "$(sha256sum <"$root/etc/scope/scope.yaml" 2>/dev/null)" = "$sum_conf"
check "kept: /var/lib/scope/dialogue.db" test "$(sha256sum <"$root/var/lib/scope/dialogue.db" 2>/dev/null)" = "$sum_db"
if in_root dpkg -i --force-confold /tmp/scope-new.deb >"$work/reinstall.log" 2>&1; then ok "reinstall after remove"; else bad "reinstall after remove"; cat "$work/reinstall.log"; fi
as_scope scope conversations list --config /etc/scope/scope.yaml >"$work/conv-re.out" 2>&1 || true
check "the reinstalled package finds the conversations" cmp -s "$work/conv-before.out" "$work/conv-re.out"
check "the reinstalled unit is enabled again" test -L "$root/etc/systemd/system/multi-user.target.wants/scope.service"

# --- 4. purge ---------------------------------------------------------------------------
step "dpkg -P scope"
if in_root dpkg -P scope >"$work/purge.log" 2>&1; then ok "dpkg -P"; else bad "dpkg -P"; cat "$work/purge.log"; fi
check "purged: not known to dpkg" sh -c "! chroot '$root' dpkg-query -W scope"
for f in /etc/scope /var/lib/scope /usr/lib/scope /usr/bin/scope /etc/systemd/system/multi-user.target.wants/scope.service /etc/systemd/system/scope.service; do
  check "gone: $f" hasnot "$f"
done
check "no statoverride left" sh -c "! chroot '$root' dpkg-statoverride --list /etc/scope/scope.yaml"
check "the system user stays (Debian convention)" chroot "$root" id scope

echo
echo "package-test ($version, amd64): $pass passed, $fail failed"
[ "$fail" = 0 ]
