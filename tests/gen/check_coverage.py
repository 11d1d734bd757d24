#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every public function that can fail is walked by the last-error test.

usage: check_coverage.py TEST_SOURCE HEADER...

A function declared CORTEX_API in the headers that returns int, ssize_t or
a pointer must appear in TEST_SOURCE inside a FAILS(...) / NULLS(...) case,
or be named in its NEVER_FAILS comment with the reason.  Prints TAP.
"""
import re
import sys


def public_functions(paths):
    decl = re.compile(r"CORTEX_API\s+(?:CORTEX_NODISCARD\s+)?([^;(]*?)\b(cortex_\w+)\s*\(", re.S)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in decl.finditer(text):
            ret, name = m.group(1).strip(), m.group(2)
            if name.startswith(("cortex_ring__", "cortex_cell__")):
                continue  # internal wake hooks of the inline paths
            yield name, ret


def main():
    test, headers = sys.argv[1], sys.argv[2:]
    with open(test, encoding="utf-8") as f:
        src = f.read()
    never = re.search(r"NEVER_FAILS(.*?)\*/", src, re.S)
    exempt = set(re.findall(r"cortex_\w+", never.group(1))) if never else set()
    walked = set()
    for m in re.finditer(r"\b(?:FAILS|NULLS)\((.*?)\);\n", src, re.S):
        walked.update(re.findall(r"\b(cortex_\w+)\s*\(", m.group(1)))
    cases = []
    for name, ret in sorted(set(public_functions(headers))):
        can_fail = ret in ("int", "ssize_t") or ret.endswith("*")
        if not can_fail:
            continue
        cases.append((name, name in walked or name in exempt))
    print(f"1..{len(cases)}")
    bad = 0
    for i, (name, ok) in enumerate(cases, 1):
        if ok:
            print(f"ok {i} - {name}")
        else:
            bad += 1
            print(f"not ok {i} - {name} is neither walked (FAILS/NULLS) nor in NEVER_FAILS")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
