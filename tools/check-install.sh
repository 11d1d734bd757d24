#!/usr/bin/env bash
# tools/check-install.sh: `meson install` of a build into a temporary
# DESTDIR, then checks the install the way a user of the package meets it:
#   - every public header (include/neocortex/*.h, gen/neocortex/*.h, the
#     umbrella neocortex.h and the generated neocortex/version.h) is there,
#     identical to the source;
#   - the neocortex tool is installed and runs, with its manual page;
#   - a program built only with `pkg-config --cflags --libs neocortex`
#     (PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR into the DESTDIR) compiles
#     with -Werror -pedantic, links the installed shared library, and runs;
#     and again against the static library with `pkg-config --static`;
#   - tests/consumer/project (a Meson project) finds the install with
#     dependency('neocortex') through pkg-config, and links and runs it
#     shared and (static: true) static.
#
# usage: check-install.sh SOURCE_DIR BUILD_DIR
# Honours $CC.  Exit 0 = pass, 77 = skip, else fail.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
cc=${CC:-cc}
command -v pkg-config >/dev/null || { echo "pkg-config not found: skip"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nc-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
fail() { echo "FAIL: $*"; exit 1; }

DESTDIR=$dest meson install -C "$build" --no-rebuild >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "meson install"; }

# Where meson put things: prefix + includedir/libdir/bindir (relative or absolute).
eval "$(meson introspect "$build" --buildoptions | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
for k in ("prefix", "includedir", "libdir", "bindir"):
    print("%s=%s" % (k, opts[k]))')"
under() { case $1 in /*) echo "$dest$1" ;; *) echo "$dest$prefix/$1" ;; esac; }
inc=$(under "$includedir")
lib=$(under "$libdir")
bin=$(under "$bindir")

# Headers.
[ -f "$inc/neocortex.h" ] || fail "neocortex.h not installed in $inc"
[ -f "$inc/neocortex/version.h" ] || fail "generated neocortex/version.h not installed"
cmp -s "$src/include/neocortex.h" "$inc/neocortex.h" || fail "installed neocortex.h differs from the source"
nh=0
for h in "$src"/include/neocortex/*.h "$src"/gen/neocortex/*.h; do
  [ -e "$h" ] || continue
  i=$inc/neocortex/${h##*/}
  [ -f "$i" ] || fail "${h#"$src"/} is not installed (expected $i)"
  cmp -s "$h" "$i" || fail "installed ${h##*/} differs from ${h#"$src"/}"
  nh=$((nh + 1))
done
echo "headers: neocortex.h, neocortex/version.h and $nh more installed"

# The tool.
[ -x "$bin/neocortex" ] || fail "the neocortex tool is not installed in $bin"
"$bin/neocortex" --version || fail "installed tool does not run"
mandir=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "mandir"][0])')
man1=$(under "$mandir")/man1
cmp -s "$src/tools/inspect/neocortex.1" "$man1/neocortex.1" || fail "neocortex.1 is not installed in $man1"

# pkg-config, from the DESTDIR only.
pc=$(find "$dest" -name neocortex.pc | head -n 1)
[ -n "$pc" ] || fail "neocortex.pc not installed"
export PKG_CONFIG_PATH=${pc%/*}
export PKG_CONFIG_LIBDIR=${pc%/*}
export PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags neocortex)
libs=$(pkg-config --libs neocortex)
slibs=$(pkg-config --static --libs neocortex)
echo "pkg-config --cflags: $cflags"
echo "pkg-config --libs:   $libs"
case "$cflags $libs" in *"$src"*|*"$build"*) fail "pkg-config points into the source or build tree" ;; esac

# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror -pedantic $cflags "$src/tests/consumer/installed.c" -o "$tmp/shared" $libs ||
  fail "a program does not build against the installed headers and shared library"
# (ldd's output is captured first: grep -q stopping early would SIGPIPE ldd and, under pipefail, fail the check)
linked=$(LD_LIBRARY_PATH=$lib ldd "$tmp/shared")
grep -q "$dest.*libneocortex" <<<"$linked" ||
  fail "the program did not link the installed libneocortex"
LD_LIBRARY_PATH=$lib "$tmp/shared" || fail "the program built against the install failed"

if [ -f "$lib/libneocortex.a" ]; then
  # shellcheck disable=SC2086
  $cc -std=c11 -Wall -Wextra -Werror -pedantic $cflags "$src/tests/consumer/installed.c" -o "$tmp/static" \
    -Wl,-Bstatic -lneocortex -Wl,-Bdynamic ${slibs/-lneocortex/} ||
    fail "a program does not link the installed static library with pkg-config --static"
  "$tmp/static" || fail "the statically linked program failed"
fi

# A Meson project that finds the install with dependency('neocortex')
# (pkg-config only, no fallback): tests/consumer/project, shared and static.
if command -v meson >/dev/null && command -v ninja >/dev/null; then
  # The consumer checks the lock backends this build was configured with.
  locks=$(awk '$2 == "CORTEX_HAVE_FUTEX" && $3 == 1 {printf "futex+"}
               $2 == "CORTEX_HAVE_SEMAPHORE" && $3 == 1 {printf "semaphore"}' "$build/cortex_config.h")
  locks=${locks%+}
  dflt=$(awk '$2 == "CORTEX_DEFAULT_LOCK_NAME" {gsub(/"/, "", $3); print $3}' "$build/cortex_config.h")
  for link in shared static; do
    case $link in
      shared) compgen -G "$lib/libneocortex.so*" >/dev/null || continue ;;
      static) [ -f "$lib/libneocortex.a" ] || continue ;;
    esac
    d=$tmp/meson-$link
    cp -R "$src/tests/consumer/project" "$d"
    rm -rf "$d/subprojects"
    (cd "$d" && CC=$cc meson setup build --wrap-mode=nofallback -Dinstalled=true -Dlinkage=$link) \
      >"$d.log" 2>&1 && ninja -C "$d/build" >>"$d.log" 2>&1 ||
      { tail -n 30 "$d.log"; fail "a Meson project does not build against the installed $link library"; }
    linked=$(LD_LIBRARY_PATH=$lib ldd "$d/build/consumer")
    if [ $link = shared ]; then
      grep -q "$dest.*libneocortex" <<<"$linked" || fail "the Meson project did not link the installed libneocortex.so"
    elif grep -q libneocortex <<<"$linked"; then
      fail "the Meson project asked for static: true but links libneocortex dynamically"
    fi
    LD_LIBRARY_PATH=$lib "$d/build/consumer" "$locks" "$dflt" >"$d.run" 2>&1 ||
      { cat "$d.run"; fail "the Meson project built against the install ($link) failed"; }
    echo "meson dependency('neocortex') from the install, $link: ok"
  done
fi
echo "install: ok"
