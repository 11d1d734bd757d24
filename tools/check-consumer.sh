#!/usr/bin/env bash
# tools/check-consumer.sh: builds tests/consumer/project, a separate Meson
# project that gets neocortex through subprojects/neocortex.wrap
# (dependency('neocortex') resolved by the wrap's [provide]), and runs it.
# Works on a copy in a temporary directory: the source tree is not touched.
#
# usage: check-consumer.sh [NEOCORTEX_SOURCE_DIR]
# Honours $CC.  Exit 0 = pass, 77 = skip (no meson/ninja), else fail.
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
command -v meson >/dev/null && command -v ninja >/dev/null || { echo "meson/ninja not found: skip"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nc-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cp -R "$src/tests/consumer/project" "$tmp/consumer"
rm -rf "$tmp/consumer/subprojects/neocortex"
ln -s "$src" "$tmp/consumer/subprojects/neocortex"

cd "$tmp/consumer"
# Never download anything (the wrap only names the directory), and take the
# subproject even if a neocortex is installed on this host.
meson setup build --wrap-mode=nodownload --force-fallback-for=neocortex
ninja -C build
# neocortex must have come in as a subproject (through the wrap), with its tests off.
grep -q '"name": "neocortex"' <<<"$(meson introspect build --projectinfo)" ||
  { echo "neocortex is not a subproject of the consumer"; exit 1; }
grep -Eq "^ +tests +: False" build/meson-logs/meson-log.txt ||
  { echo "neocortex built its tests as a subproject"; exit 1; }
./build/consumer
