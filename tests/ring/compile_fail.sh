#!/bin/sh
# compile_fail.sh CC SRCROOT BUILDROOT: misuse of SPSC_RING_DECLARE must not
# compile, and must say why.  Prints TAP.
cc=$1; src=$2; build=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncring.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
inc="-I$src/include -I$src/gen -I$build/include"
n=0; failed=0
check() { # check NAME EXPECTED-TEXT CODE
  n=$((n + 1))
  printf '#include <neocortex.h>\n%s\n' "$3" > "$tmp/t$n.c"
  if $cc -std=c11 -Wall -Werror -fsyntax-only $inc "$tmp/t$n.c" > "$tmp/t$n.log" 2>&1; then
    echo "not ok $n - $1 compiled"; failed=1
  elif grep -q "$2" "$tmp/t$n.log"; then
    echo "ok $n - $1"
  else
    echo "not ok $n - $1: no '$2' in"; sed 's/^/# /' "$tmp/t$n.log" | head -n 8; failed=1
  fi
}
echo "1..4"
check "capacity 48 is refused" "capacity 48 is not a power of two" \
  'SPSC_RING_DECLARE_STATIC(ev, int, 48);'
check "capacity 0 is refused" "capacity 0 is not a power of two" \
  'SPSC_RING_DECLARE_STATIC(ev, int, 0);'
check "instances are distinct types" "incompatible pointer\|incompatible-pointer\|incompatible type" \
  'SPSC_RING_DECLARE(a_ring, int); SPSC_RING_DECLARE(b_ring, int);
   int f(b_ring *b); int f(b_ring *b) { return a_ring_push(b, 1); }'
check "a wrong element type is refused" "incompatible\|passing" \
  'SPSC_RING_DECLARE(a_ring, int); struct s { int x; };
   int f(a_ring *r); int f(a_ring *r) { struct s v = {1}; return a_ring_push(r, v); }'
exit $failed
