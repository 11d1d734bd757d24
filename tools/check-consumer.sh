#!/usr/bin/env bash
# tools/check-consumer.sh: builds tests/consumer/project, a separate Meson
# project whose own code uses neocortex, in every way the docs describe, and
# runs it each time.  Each variant is a fresh copy in a temporary directory
# (the source tree is not touched), configured offline (--wrap-mode=nodownload):
#
#   default         subprojects/neocortex -> the source tree, a [wrap-file]
#                   with `directory` and [provide]; dependency('neocortex');
#                   parent c_std=c11; default_library=both (links the .so)
#   static-c99      no wrap file at all, only the subprojects/neocortex
#                   checkout; subproject('neocortex', default_options:
#                   ['default_library=static']); parent c_std=c99
#   shared-gnu11    -Dneocortex:default_library=shared; parent c_std=gnu11
#   futex-only      -Dneocortex:semaphore=disabled (default lock futex)
#   semaphore-only  -Dneocortex:futex=disabled -Dneocortex:default_lock=semaphore
#                   -Dneocortex:default_library=static
#   release         `meson dist` of this git checkout (from a build dir set up
#                   with -Dtests=disabled, so dist's own check configures,
#                   builds and installs the unpacked tarball without the
#                   suites), used through a [wrap-file] with source_filename +
#                   source_hash, the tarball in subprojects/packagecache
#                   (skipped outside a git checkout: meson dist needs one)
#
# Each variant checks that neocortex came in as a subproject with its tests
# off, that the library's feature check (posix_fallocate; memfd_create and
# getrandom are found through <sys/syscall.h> in lib/os/linux.c) gave the same answers as a probe compiled here with the
# library's own `#define _GNU_SOURCE` (a parent's -std=c11 must not flip
# them), that the program links the library the way asked (shared or
# static), and runs the program: the lock backends and default lock it was
# configured with, -ENOSPC for a segment larger than /dev/shm, and a region,
# cell, ring and slab shared with forked children.
#
# usage: check-consumer.sh [NEOCORTEX_SOURCE_DIR] [VARIANT...]
# Honours $CC.  Exit 0 = pass, 77 = skip (no meson/ninja), else fail.
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
shift || true
only=" $* "
cc=${CC:-cc}
command -v meson >/dev/null && command -v ninja >/dev/null || { echo "meson/ninja not found: skip"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nc-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=()

# What the library's checks must find, asked of the compiler directly.
probe() { # probe HEADER CALL -> 1 if a _GNU_SOURCE program calling it links
  printf '#define _GNU_SOURCE\n#include <%s>\nint main(void) { return (int)(%s); }\n' "$1" "$2" >"$tmp/probe.c"
  # shellcheck disable=SC2086
  if $cc "$tmp/probe.c" -o "$tmp/probe" 2>/dev/null; then echo 1; else echo 0; fi
}
want_features="CORTEX_HAVE_POSIX_FALLOCATE $(probe fcntl.h 'posix_fallocate(0, 0, 0)')"
echo "expected features: $(tr "\n" " " <<<"$want_features")"

# variant NAME SOURCE(checkout|nowrap|TARBALL) LINK(shared|static) LOCKS DEFAULT_LOCK SETUP_ARGS...
variant() {
  local name=$1 source=$2 link=$3 locks=$4 dflt=$5 t0=$SECONDS
  shift 5
  case $only in "  ") ;; *" $name "*) ;; *) return 0 ;; esac
  echo "=== $name: meson setup $*"
  local dir=$tmp/$name
  cp -R "$src/tests/consumer/project" "$dir"
  rm -rf "$dir/subprojects/neocortex"
  case $source in
    checkout) ln -s "$src" "$dir/subprojects/neocortex" ;;
    nowrap) ln -s "$src" "$dir/subprojects/neocortex"; rm "$dir/subprojects/neocortex.wrap" ;;
    *) release_wrap "$source" "$dir/subprojects" ;;
  esac
  if ! (cd "$dir" && meson setup build --wrap-mode=nodownload --force-fallback-for=neocortex "$@") \
      >"$dir/setup.log" 2>&1; then
    tail -n 30 "$dir/setup.log"; failed+=("$name(setup)"); return 0
  fi
  if ! ninja -C "$dir/build" >"$dir/build.log" 2>&1; then
    grep -E "error|warning|FAILED" "$dir/build.log" | head -n 30; failed+=("$name(build)"); return 0
  fi
  local bad=0
  # neocortex came in as a subproject, with its tests off.
  grep -q '"name": "neocortex"' <<<"$(meson introspect "$dir/build" --projectinfo)" ||
    { echo "$name: neocortex is not a subproject of the consumer"; bad=1; }
  grep -Eq "^ +tests +: NO" "$dir/setup.log" ||
    { echo "$name: neocortex built its tests as a subproject"; bad=1; }
  # The feature checks found what the library's sources can use.
  local config got
  config=$(find "$dir/build/subprojects" -name cortex_config.h | head -n 1)
  got=$(awk '/CORTEX_HAVE_POSIX_FALLOCATE/ {print $2, $3}' "$config" | sort)
  [ "$got" = "$(sort <<<"$want_features")" ] ||
    { echo "$name: feature checks differ from the probe:"; echo "$got"; bad=1; }
  # Linked the way asked.
  local linked
  linked=$(ldd "$dir/build/consumer" || true)
  if [ "$link" = shared ]; then
    grep -q "libneocortex\.so" <<<"$linked" || { echo "$name: not linked against libneocortex.so"; bad=1; }
  else
    ! grep -q "libneocortex" <<<"$linked" || { echo "$name: linked libneocortex dynamically"; bad=1; }
  fi
  "$dir/build/consumer" "$locks" "$dflt" || { echo "$name: the consumer program failed"; bad=1; }
  [ $bad = 0 ] || failed+=("$name")
  echo "=== $name: $((SECONDS - t0)) s"
  rm -rf "$dir"
}

# release_wrap TARBALL SUBPROJECTS_DIR: the wrap a release user writes, with
# the tarball already in packagecache (so nothing is downloaded).
release_wrap() {
  local tarball=$1 sub=$2 file base hash
  file=${tarball##*/}
  base=${file%.tar.xz}
  hash=$(sha256sum "$tarball" | cut -d' ' -f1)
  mkdir -p "$sub/packagecache"
  cp "$tarball" "$sub/packagecache/"
  rm -f "$sub/neocortex.wrap"
  cat >"$sub/neocortex.wrap" <<EOF
[wrap-file]
directory = $base
source_url = https://releases.invalid/neocortex/$file
source_filename = $file
source_hash = $hash

[provide]
dependency_names = neocortex
EOF
}

variant default checkout shared futex+semaphore futex
variant static-c99 nowrap static futex+semaphore futex -Dlinkage=static -Dc_std=c99 -Dwarning_level=2
variant shared-gnu11 checkout shared futex+semaphore futex -Dneocortex:default_library=shared -Dc_std=gnu11
variant futex-only checkout shared futex futex -Dneocortex:semaphore=disabled -Dneocortex:default_lock=futex
variant semaphore-only checkout static semaphore semaphore -Dneocortex:default_library=static \
  -Dneocortex:futex=disabled -Dneocortex:default_lock=semaphore

# A release tarball made by `meson dist` from this checkout (its last commit).
case $only in "  "|*" release "*)
  if git -C "$src" rev-parse --show-toplevel 2>/dev/null | grep -qx "$src"; then
    t0=$SECONDS
    dirty=()  # meson >= 0.62 refuses a dirty tree without it; older ones only warn
    meson dist --help 2>/dev/null | grep -q -- --allow-dirty && dirty=(--allow-dirty)
    meson setup "$tmp/dist" "$src" -Dtests=disabled -Dexamples=disabled -Dbench=disabled -Ddocs=disabled \
      >"$tmp/dist.log" 2>&1 &&
      meson dist -C "$tmp/dist" "${dirty[@]}" --formats xztar >>"$tmp/dist.log" 2>&1 ||
      { tail -n 30 "$tmp/dist.log"; failed+=("release(dist)"); }
    grep -q "uncommitted changes" "$tmp/dist.log" && echo "note: the tarball holds the last commit, not the uncommitted changes"
    tarball=$(find "$tmp/dist/meson-dist" -name '*.tar.xz' 2>/dev/null | head -n 1)
    echo "meson dist: $((SECONDS - t0)) s, ${tarball##*/}"
    if [ -n "$tarball" ]; then
      variant release "$tarball" shared futex+semaphore futex
      # The same wrap with a wrong source_hash must be refused.
      mkdir -p "$tmp/badhash"
      cp -R "$src/tests/consumer/project/." "$tmp/badhash"
      release_wrap "$tarball" "$tmp/badhash/subprojects"
      sed -i 's/^source_hash = ./source_hash = x/' "$tmp/badhash/subprojects/neocortex.wrap"
      if (cd "$tmp/badhash" && meson setup build --wrap-mode=nodownload) >"$tmp/badhash.log" 2>&1 ||
          ! grep -q "Incorrect hash" "$tmp/badhash.log"; then
        tail -n 20 "$tmp/badhash.log"; echo "release: a tarball with the wrong hash was not refused"
        failed+=("release(hash)")
      else
        echo "release: a wrong source_hash is refused"
      fi
    fi
  else
    echo "release: skipped ($src is not the top of a git checkout; meson dist needs one)"
  fi
esac

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED consumer variants: ${failed[*]}"
  exit 1
fi
echo "consumer: all variants passed"
