#!/usr/bin/env bash
# tools/deps.sh [demo|test|bench]: makes sure what neocortex needs is installed.
# Installs missing Debian packages with apt-get when run as root (or with
# sudo available); otherwise says exactly what to install and exits 1.
set -euo pipefail

want=${1:-test}
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkgconf() { pkg-config --exists "$1" 2>/dev/null; }

have_cmd meson || need+=(meson)
have_cmd ninja || need+=(ninja-build)
have_cmd pkg-config || need+=(pkg-config)
have_cmd cc || need+=(gcc)
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
if [ "$want" = test ] || [ "$want" = bench ]; then
  have_pkgconf criterion || need+=(libcriterion-dev)
  have_cmd clang || need+=(clang)
  # clang's sanitizer and libFuzzer runtimes
  ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || need+=(libclang-rt-dev)
  have_cmd setpriv || need+=(util-linux)
  have_cmd g++ || need+=(g++)
  have_cmd doxygen || need+=(doxygen)
  # The i386 stage: gcc -m32 and qemu-i386 (this kernel may not run i386 binaries itself).
  if [ "$(uname -m)" = x86_64 ]; then
    echo 'int main(void) { return 0; }' | gcc -m32 -x c - -o /dev/null >/dev/null 2>&1 || need+=(gcc-multilib)
    have_cmd qemu-i386 || need+=(qemu-user)
  fi
  have_cmd musl-gcc || need+=(musl-tools)   # the musl stage of tools/test.sh
fi
if [ "$want" = bench ]; then
  [ -e /usr/include/ck_ring.h ] || need+=(libck-dev)
  [ -e /usr/include/boost/lockfree/spsc_queue.hpp ] || need+=(libboost-dev)
fi

# Optional for the bench: iceoryx 2.0 (bench-iceoryx); installed when apt
# can, else its rows are skipped with a message (tools/bench.sh iceoryx).
if [ "$want" = bench ] && { ! have_cmd iox-roudi || [ ! -e /usr/include/iceoryx/v2.0.3/iceoryx_binding_c/runtime.h ]; }; then
  iox_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iceoryx libiceoryx-binding-c-dev >/dev/null 2>&1; }
  if [ "$(id -u)" -eq 0 ] && have_cmd apt-get && { iox_install || { apt-get update -qq >/dev/null 2>&1 && iox_install; }; }; then
    echo "neocortex: installed iceoryx libiceoryx-binding-c-dev (bench-iceoryx)"
  else
    echo "neocortex: iceoryx not installed (apt-get install iceoryx libiceoryx-binding-c-dev): its bench rows will be skipped"
  fi
fi

[ ${#need[@]} -eq 0 ] && exit 0

# clang's runtime package is versioned on Debian 12.
pkgs=()
for p in "${need[@]}"; do
  if [ "$p" = libclang-rt-dev ]; then
    v=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)
    pkgs+=("libclang-rt-${v:-14}-dev")
  else
    pkgs+=("$p")
  fi
done

echo "neocortex: missing packages: ${pkgs[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif have_cmd sudo && sudo -n true 2>/dev/null; then
  sudo="sudo"
else
  echo "neocortex: run as root, or install them first:  apt-get install ${pkgs[*]}" >&2
  exit 1
fi
if ! have_cmd apt-get; then
  echo "neocortex: no apt-get here; install the equivalents of: ${pkgs[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "neocortex: installed ${pkgs[*]}"
