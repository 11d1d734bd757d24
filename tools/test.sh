#!/usr/bin/env bash
# tools/test.sh: builds neocortex and runs the whole test suite, the way CI does.
#
#   bash tools/test.sh            everything below
#   bash tools/test.sh quick      only the plain gcc build and its suites
#   bash tools/test.sh i386       only the i386 stage (builds what it needs of gcc)
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
#   i386     gcc -m32, -Werror (library only: Criterion is not installable for
#            i386), plus tests/abi/abi_peer built for i386; then the gcc
#            stage's abi-peers test runs it under qemu-i386 against x86-64
#            peers (a cell, a slab, a ring of handles, a live role holder).
#            SKIP, with the reason, without gcc-multilib or qemu-user.
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
  if ! meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$jobs" "${tests[@]}" 2>&1 |
       tee "$out/$name.test.log"; then
    failed+=("$name")
    # For the summary at the end: which tests failed, and what Criterion said about them.
    { echo "--- $name:"
      grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|ERROR|TIMEOUT|UNEXPECTEDPASS) ' "$out/$name.test.log" | sed -E 's/ +/ /g' | awk '!seen[$0]++' || true
      # Criterion's TAP report of each failed test (its assertion messages), kept in meson's log.
      grep -E -A6 '^not ok|^Bail out' "$dir/meson-logs/testlog.txt" | head -n 40 || true
    } >>"$out/failures.txt"
  fi
  echo "=== $name: $((SECONDS - t0)) s"
}

# The i386 library, an i386 abi_peer, and the x86-64 tests/abi peers test against it.
stage_i386() {
  local dir=$out/i386 native=$out/gcc t0=$SECONDS
  local probe=$out/m32-probe
  if ! echo 'int main(void) { return 0; }' | gcc -m32 -x c - -o "$probe" >/dev/null 2>&1; then
    echo "=== i386: SKIP (gcc -m32 cannot link a program: install gcc-multilib)"; return 0
  fi
  echo "=== i386: meson setup -Dc_args=-m32 -Dwerror=true"
  local again=()
  [ -d "$dir/meson-private" ] && again=(--reconfigure)
  meson setup "${again[@]}" "$dir" -Dwerror=true -Dtests=disabled -Dbench=disabled -Dexamples=disabled \
    -Ddocs=disabled -Dc_args=-m32 -Dc_link_args=-m32 >"$out/i386.setup.log" 2>&1 ||
    { cat "$out/i386.setup.log"; failed+=("i386(setup)"); return 0; }
  if ! ninja -C "$dir" >"$out/i386.build.log" 2>&1; then
    grep -E "error|warning|FAILED" "$out/i386.build.log" | head -n 40
    failed+=("i386(build)"); return 0
  fi
  local inc=(-I"$dir" -I"$dir/include" -Iinclude -Igen -Ilib)
  if ! { gcc -m32 -std=c99 -pedantic -Wall -Wextra -Werror "${inc[@]}" -c tests/abi/abi_c99.c -o "$dir/abi_c99.o" &&
         gcc -m32 -std=gnu11 -Wall -Wextra -Werror "${inc[@]}" tests/abi/abi_peer.c "$dir/abi_c99.o" \
           "$dir/libneocortex.a" -static -pthread -lrt -o "$dir/abi_peer"; }; then
    failed+=("i386(peer)"); return 0
  fi
  # The library and the peer again with a 64-bit time_t (Debian armhf's default): timed futex waits must sleep.
  local t64=$out/i386-t64 t64flags="['-m32', '-D_TIME_BITS=64', '-D_FILE_OFFSET_BITS=64']"
  again=()
  [ -d "$t64/meson-private" ] && again=(--reconfigure)
  if ! meson setup "${again[@]}" "$t64" -Dwerror=true -Dtests=disabled -Dbench=disabled -Dexamples=disabled \
         -Ddocs=disabled -Dmodel=disabled -Ddefault_library=static -Dc_args="$t64flags" -Dc_link_args=-m32 \
         >"$out/i386-t64.setup.log" 2>&1; then
    cat "$out/i386-t64.setup.log"; failed+=("i386-t64(setup)"); return 0
  fi
  if ! { ninja -C "$t64" >"$out/i386-t64.build.log" 2>&1 &&
         gcc -m32 -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64 -std=c99 -pedantic -Wall -Wextra -Werror -I"$t64" \
           -I"$t64/include" -Iinclude -Igen -Ilib -c tests/abi/abi_c99.c -o "$t64/abi_c99.o" &&
         gcc -m32 -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64 -std=gnu11 -Wall -Wextra -Werror -I"$t64" -I"$t64/include" \
           -Iinclude -Igen -Ilib tests/abi/abi_peer.c "$t64/abi_c99.o" "$t64/libneocortex.a" -static -pthread -lrt \
           -o "$t64/abi_peer"; } >>"$out/i386-t64.build.log" 2>&1; then
    grep -E "error|warning|FAILED" "$out/i386-t64.build.log" | head -n 40
    failed+=("i386-t64(build)"); return 0
  fi
  if ! command -v qemu-i386 >/dev/null 2>&1; then
    echo "=== i386: built; cross-ABI test SKIP (qemu-i386 not installed: Debian package qemu-user)"; return 0
  fi
  if [ ! -d "$native/meson-private" ]; then
    meson setup "$native" -Dwerror=true -Dtests=enabled -Dbench=disabled >"$out/i386.native.log" 2>&1 ||
      { cat "$out/i386.native.log"; failed+=("i386(native setup)"); return 0; }
  fi
  ninja -C "$native" tests/abi/test-abi tests/abi/abi_peer >"$out/i386.native.log" 2>&1 ||
    { tail -n 40 "$out/i386.native.log"; failed+=("i386(native build)"); return 0; }
  if ! CORTEX_I386_PEER="$PWD/$dir/abi_peer" meson test -C "$native" --no-rebuild --print-errorlogs abi-peers; then
    failed+=("i386")
  fi
  # A 300 ms wait on an unchanged cell: -ETIMEDOUT after >= 250 ms, CPU under half of it (abi_peer timed-wait).
  local peer
  for peer in "$dir/abi_peer" "$t64/abi_peer"; do
    qemu-i386 "$peer" timed-wait "i386-$$" || failed+=("i386(timed wait: $peer)")
  done
  echo "=== i386: $((SECONDS - t0)) s"
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
rm -f "$out/failures.txt"
before=$(snapshot)

if [ "$mode" = i386 ]; then
  stage_i386
  mode=done
fi

[ "$mode" != done ] && stage gcc -Dwerror=true -Dtests=enabled -Dbench=disabled -Dexamples=enabled -Ddocs=enabled --buildtype=debugoptimized -- \
  --no-suite tsan --no-suite fuzz
if [ "$mode" != quick ] && [ "$mode" != done ]; then
  stage_i386
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
  [ -s "$out/failures.txt" ] && { echo "=== failed tests, by stage:"; cat "$out/failures.txt"; }
  echo "FAILED stages: ${failed[*]}"
  exit 1
fi
echo "All test stages passed."
