#!/usr/bin/env bash
# tools/check-platform-calls.sh [SOURCE_ROOT]: fails if a platform-specific
# system call, kernel header or kernel path appears in lib/ or tools/inspect/
# outside lib/os/ (comments do not count).  Each platform has one file there
# (linux.c, darwin.c, freebsd.c; absent.c for what a non-Linux system lacks)
# with the portable fallbacks in posix.c; everything else calls lib/os/os.h.
set -euo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root"
cc=${CC:-cc}

# Calls, headers and paths that differ between Linux, macOS and the BSDs.
pattern='\bsyscall[[:space:]]*\(|\bSYS_[a-z]|<linux/|<sys/syscall\.h>|<sys/sysctl\.h>|<libproc\.h>|<sys/umtx\.h>'
pattern+='|\bmembarrier[[:space:]]*\(|\bioctl[[:space:]]*\(|SIOCOUTQ|\brecvmmsg[[:space:]]*\(|\baccept4[[:space:]]*\('
pattern+='|\bmemfd_create[[:space:]]*\(|F_ADD_SEALS|F_GET_SEALS|\bshm_open[[:space:]]*\(|\bfchmod[[:space:]]*\('
pattern+='|\bposix_fallocate[[:space:]]*\(|\bgetrandom[[:space:]]*\(|\bgetentropy[[:space:]]*\(|\bsysctl[[:space:]]*\('
pattern+='|\bproc_pidinfo[[:space:]]*\(|\b_umtx_op[[:space:]]*\(|\bsemtimedop[[:space:]]*\(|\beventfd[[:space:]]*\('
pattern+='|\bpidfd_[a-z_]*[[:space:]]*\(|\bepoll_[a-z_0-9]*[[:space:]]*\(|<sys/epoll\.h>|\bprctl[[:space:]]*\(|\bsem_perm\.__key|"/proc|"/dev/shm'

found=0
while IFS= read -r f; do
  # -fpreprocessed: strip comments only, expand nothing.
  hits=$("$cc" -fpreprocessed -dD -E -P -x c "$f" 2>/dev/null | grep -nE "$pattern" || true)
  if [ -n "$hits" ]; then
    echo "$hits" | sed "s|^|$f: |"
    found=1
  fi
done < <(find lib tools/inspect -name '*.[ch]' ! -path 'lib/os/*' | sort)

if [ "$found" -ne 0 ]; then
  echo "platform calls outside lib/os (move them behind lib/os/os.h, with their fallback)" >&2
  exit 1
fi
echo "no platform call outside lib/os"
