#!/usr/bin/env python3
"""Compiles every C snippet of the Markdown documentation against the built library.

check_snippets.py CC SRCROOT BUILDROOT LIBNEOCORTEX.a DOC...

Each DOC is a Markdown file, or a directory whose *.md files are all read
(README.md and docs/ of the source tree).  Each ```c block that includes
<neocortex.h> is a translation unit: it must compile with
-std=c11 -Wall -Wextra -Werror -pedantic; a block that defines main() is
also linked and run, and must exit 0.  Prints TAP, naming each snippet by
its file and line.
"""
import os
import re
import subprocess
import sys
import tempfile

cc, src, build, lib = sys.argv[1:5]
docs = []
for arg in sys.argv[5:]:
    if os.path.isdir(arg):
        docs += sorted(os.path.join(arg, f) for f in os.listdir(arg) if f.endswith(".md"))
    else:
        docs.append(arg)
if not docs:
    sys.exit("check_snippets.py: no Markdown files given")
blocks = []
for doc in docs:
    text = open(doc, encoding="utf-8").read()
    for m in re.finditer(r"```c\n(.*?)```", text, re.S):
        if "#include <neocortex.h>" in m.group(1):
            line = text.count("\n", 0, m.start()) + 1
            blocks.append((f"{os.path.relpath(doc, src)}:{line}", m.group(1)))
incs = ["-I" + os.path.join(src, "include"), "-I" + os.path.join(src, "gen"),
        "-I" + os.path.join(build, "include")]
flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-D_DEFAULT_SOURCE"]
print(f"1..{len(blocks)}")
failed = 0
with tempfile.TemporaryDirectory(prefix="ncreadme") as tmp:
    for i, (where, code) in enumerate(blocks, 1):
        first = next((l for l in code.splitlines() if l.strip() and not l.startswith("#")), "").strip()
        name = f"snippet {where} ({first[:50]})"
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
