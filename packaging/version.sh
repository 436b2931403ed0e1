#!/usr/bin/env bash
# Prints the Debian version of the package built from this tree: the release in
# internal/release/release.go, plus "+git<commits>.<revision>" unless HEAD is tagged v<release>.
# The commit count makes successive builds of main sort in order, as dpkg compares them.
set -euo pipefail
cd "$(dirname "$0")/.."
release=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' internal/release/release.go)
[ -n "$release" ] || { echo "packaging/version.sh: no 'const Version' in internal/release/release.go" >&2; exit 1; }
if ! git rev-parse -q --verify HEAD >/dev/null 2>&1; then
  echo "$release"; exit 0
fi
if [ "$(git tag --points-at HEAD | grep -cx "v$release")" = 1 ] && git diff --quiet HEAD; then
  echo "$release"; exit 0
fi
v="$release+git$(git rev-list --count HEAD).$(git rev-parse --short=7 HEAD)"
git diff --quiet HEAD || v+=".dirty"
echo "$v"
