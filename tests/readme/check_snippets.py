#!/usr/bin/env python3
"""Compiles every C snippet of a Markdown file against the built library.

check_snippets.py CC README SRCROOT BUILDROOT LIBNEOCORTEX.a

Each ```c block that includes <neocortex.h> is a translation unit: it must
compile with -std=c11 -Wall -Wextra -Werror -pedantic; a block that defines
main() is also linked and run, and must exit 0.  Prints TAP.
"""
import os
import re
import subprocess
import sys
import tempfile

cc, readme, src, build, lib = sys.argv[1:6]
text = open(readme, encoding="utf-8").read()
blocks = [b for b in re.findall(r"```c\n(.*?)```", text, re.S) if "#include <neocortex.h>" in b]
incs = ["-I" + os.path.join(src, "include"), "-I" + os.path.join(src, "gen"),
        "-I" + os.path.join(build, "include")]
flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-D_DEFAULT_SOURCE"]
print(f"1..{len(blocks)}")
failed = 0
with tempfile.TemporaryDirectory(prefix="ncreadme") as tmp:
    for i, code in enumerate(blocks, 1):
        first = next((l for l in code.splitlines() if l.strip() and not l.startswith("#")), "").strip()
        name = f"snippet {i} ({first[:50]})"
        path = os.path.join(tmp, f"s{i}.c")
        with open(path, "w") as f:
            f.write(code)
        has_main = re.search(r"\bint\s+main\s*\(", code) is not None
        if has_main:
            cmd = [cc, *flags, *incs, path, lib, "-lpthread", "-lrt", "-o", path[:-2]]
        else:
            cmd = [cc, *flags, *incs, "-c", path, "-o", path[:-2] + ".o"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            failed += 1
            print(f"not ok {i} - {name} does not compile")
            print("# " + "\n# ".join((r.stdout + r.stderr).splitlines()[:30]))
            continue
        if has_main:
            r = subprocess.run([path[:-2]], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                failed += 1
                print(f"not ok {i} - {name} exited {r.returncode}")
                print("# " + "\n# ".join((r.stdout + r.stderr).splitlines()[:30]))
                continue
        print(f"ok {i} - {name}" + (" compiled and ran" if has_main else " compiled"))
sys.exit(1 if failed else 0)
