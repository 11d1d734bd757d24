#!/usr/bin/env bash
# tests/headers/check-headers.sh: every public header compiles on its own,
# twice in one translation unit (include guards), in C11 and in C++ with
# -Wall -Wextra -Werror -pedantic; a header that declares CORTEX_API
# functions wraps them in CORTEX_BEGIN_DECLS / CORTEX_END_DECLS.
# Prints TAP (one test per header and language).
#
# usage: check-headers.sh -I DIR... -- HEADER|DIR...
#   a DIR stands for every *.h in it (so a header that the build forgot to
#   list is still checked).
#   $HEADERS_CC / $HEADERS_CXX: the compilers (a command, may hold spaces);
#   no C++ compiler: the C++ checks are skipped.
set -u
incs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  case $1 in
    -I) incs+=("-I$2"); shift 2 ;;
    *) echo "usage: $0 -I DIR... -- HEADER..." >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] && shift
# Expand directories, drop duplicates (a header may be named twice).
headers=()
for a in "$@"; do
  if [ -d "$a" ]; then
    for h in "$a"/*.h; do [ -e "$h" ] && headers+=("$h"); done
  else
    [ -e "$a" ] && headers+=("$a")
  fi
done
mapfile -t headers < <(for h in "${headers[@]}"; do realpath "$h"; done | awk '!seen[$0]++')
cc=${HEADERS_CC:-cc}
cxx=${HEADERS_CXX:-}
flags=(-Wall -Wextra -Werror -pedantic -fsyntax-only)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nc-headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# neocortex/foo.h for include/neocortex/foo.h, neocortex.h for the umbrella.
spelling() {
  case $1 in
    */neocortex/*) echo "neocortex/${1##*/neocortex/}" ;;
    *) basename "$1" ;;
  esac
}

n=0
out=()
fail=0
check() { # check NAME COMMAND...
  local name=$1; shift
  n=$((n + 1))
  if "$@" >"$tmp/log" 2>&1; then
    out+=("ok $n - $name")
  else
    out+=("not ok $n - $name")
    while IFS= read -r line; do out+=("# $line"); done <"$tmp/log"
    fail=1
  fi
}
skip() { n=$((n + 1)); out+=("ok $n - $1 # SKIP $2"); }

for h in "${headers[@]}"; do
  inc=$(spelling "$h")
  tu=$tmp/tu
  printf '#include <%s>\n#include <%s>\ntypedef int nc_header_check_t;\n' "$inc" "$inc" >"$tu.c"
  cp "$tu.c" "$tu.cpp"
  # shellcheck disable=SC2086
  check "$inc in C11" $cc -std=c11 "${flags[@]}" "${incs[@]}" -x c "$tu.c"
  if [ -n "$cxx" ]; then
    # shellcheck disable=SC2086
    check "$inc in C++" $cxx -std=c++17 "${flags[@]}" "${incs[@]}" -x c++ "$tu.cpp"
  else
    skip "$inc in C++" "no C++ compiler"
  fi
  if grep -q 'CORTEX_API' "$h" && [ "${h##*/}" != export.h ]; then
    check "$inc has extern \"C\" guards" bash -c \
      'grep -q "^CORTEX_BEGIN_DECLS" "$1" && grep -q "^CORTEX_END_DECLS" "$1"' _ "$h"
  fi
done
echo "1..$n"
printf '%s\n' "${out[@]}"
exit $fail
