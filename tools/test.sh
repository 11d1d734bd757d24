#!/usr/bin/env bash
# tools/test.sh: builds neocortex and runs the whole test suite, the way CI does.
#
#   bash tools/test.sh            everything below
#   bash tools/test.sh quick      only the plain gcc build and its suites
#
# Stages (each its own build directory under build-test/):
#   gcc      gcc, -Werror: unit, multiprocess, crash, stress, model, build suites
#            (build: README and docs/ snippets, headers alone in C and C++, install +
#            pkg-config, the subproject consumer in six ways (about a minute),
#            API docs without warnings)
#   asan     clang, AddressSanitizer + UBSan, -Werror: the same minus model/build
#   futex    only the futex lock backend compiled: unit, multiprocess, crash
#   sem      only the SysV semaphore backend compiled: unit, multiprocess, crash
#   tsan     clang, ThreadSanitizer: the threaded stress programs (suite tsan)
#   fuzz     clang, libFuzzer: each target a few seconds on its seed corpus
#   musl     musl-gcc, -Werror, static, no kernel headers: the library, then
#            tests/os/smoke.c (Criterion-free: Criterion is glibc-built) linked
#            against it and run: cells on both lock backends, a ring, a memfd
#            segment and a doorbell across fork; once more with every lib/os
#            fallback forced (-Dforce_fallback=...)
# and it fails if any SysV segment, semaphore or /dev/shm entry that was not
# there before is left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-all}
bash tools/deps.sh test

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
jobs=$(nproc 2>/dev/null || echo 2)
out=build-test
failed=()

snapshot() {
  { awk 'NR>1 {print "shm", $1, $2}' /proc/sysvipc/shm 2>/dev/null
    awk 'NR>1 {print "sem", $1, $2}' /proc/sysvipc/sem 2>/dev/null
    ls -1 /dev/shm 2>/dev/null | sed 's/^/shmfs /'; } | sort
}

stage() { # stage NAME SETUP_ARGS... -- TEST_ARGS...
  local name=$1; shift
  local setup=() tests=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do setup+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  tests=("$@")
  local dir=$out/$name t0=$SECONDS
  echo "=== $name: meson setup ${setup[*]}"
  local again=()
  [ -d "$dir/meson-private" ] && again=(--reconfigure)
  meson setup "${again[@]}" "$dir" "${setup[@]}" >"$out/$name.setup.log" 2>&1 ||
    { cat "$out/$name.setup.log"; failed+=("$name(setup)"); return 0; }
  if ! ninja -C "$dir" >"$out/$name.build.log" 2>&1; then
    grep -E "error|warning|FAILED" "$out/$name.build.log" | head -n 40
    failed+=("$name(build)"); return 0
  fi
  if ! meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$jobs" "${tests[@]}"; then
    failed+=("$name")
  fi
  echo "=== $name: $((SECONDS - t0)) s"
}

# musl_stage NAME SETUP_ARGS...: the library with musl-gcc, and the smoke program run against it.
musl_stage() {
  local name=$1; shift
  local dir=$out/$name t0=$SECONDS
  echo "=== $name: CC=musl-gcc meson setup $*"
  local again=()
  [ -d "$dir/meson-private" ] && again=(--reconfigure)
  CC=musl-gcc meson setup "${again[@]}" "$dir" -Dwerror=true -Dtests=disabled -Dbench=disabled -Dexamples=disabled \
    -Dmodel=disabled -Ddefault_library=static "$@" >"$out/$name.setup.log" 2>&1 ||
    { cat "$out/$name.setup.log"; failed+=("$name(setup)"); return 0; }
  if ! ninja -C "$dir" >"$out/$name.build.log" 2>&1 ||
     ! musl-gcc -std=gnu11 -Wall -Wextra -Werror -Iinclude -Igen -I"$dir" -I"$dir/include" tests/os/smoke.c "$dir/libneocortex.a" \
       -lpthread -static -o "$dir/os-smoke" >>"$out/$name.build.log" 2>&1; then
    grep -E "error|warning|FAILED" "$out/$name.build.log" | head -n 40
    failed+=("$name(build)"); return 0
  fi
  "$dir/os-smoke" || failed+=("$name")
  echo "=== $name: $((SECONDS - t0)) s"
}

mkdir -p "$out"
before=$(snapshot)

stage gcc -Dwerror=true -Dtests=enabled -Dbench=disabled -Dexamples=enabled -Ddocs=enabled --buildtype=debugoptimized -- \
  --no-suite tsan --no-suite fuzz
if [ "$mode" != quick ]; then
  CC=clang stage asan -Dwerror=true -Dtests=enabled -Dbench=disabled -Db_sanitize=address,undefined \
    -Db_lundef=false -Dmodel=disabled -- --no-suite model --no-suite build --no-suite tsan --no-suite fuzz
  stage futex -Dwerror=true -Dtests=enabled -Dbench=disabled -Dexamples=disabled -Dsemaphore=disabled \
    -Ddefault_lock=futex -Dmodel=disabled -- --suite unit --suite multiprocess --suite crash
  stage sem -Dwerror=true -Dtests=enabled -Dbench=disabled -Dexamples=disabled -Dfutex=disabled \
    -Ddefault_lock=semaphore -Dmodel=disabled -- --suite unit --suite multiprocess --suite crash
  CC=clang stage tsan -Dtests=enabled -Dbench=disabled -Dexamples=disabled -Db_sanitize=thread \
    -Db_lundef=false -Dmodel=disabled -- --suite tsan
  CC=clang stage fuzz -Dtests=enabled -Dbench=disabled -Dexamples=disabled -Dfuzz=enabled -Dmodel=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link -- --suite fuzz --verbose
  musl_stage musl
  musl_stage musl-fallback "-Dforce_fallback=futex,memfd,membarrier,proc_start,fallocate"
fi

after=$(snapshot)
left=$(comm -13 <(echo "$before") <(echo "$after") || true)
if [ -n "$left" ]; then
  echo "=== left behind in the system by the tests:"
  echo "$left"
  failed+=("leftovers")
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED stages: ${failed[*]}"
  exit 1
fi
echo "All test stages passed."
