#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The manual page neocortex(1) and `neocortex --help` say the same thing.

usage: check_man.py TOOL MANPAGE

TAP output.  Checks that
  1. the commands listed by `neocortex --help` are the man page's
     COMMANDS subsections (.SS), and the synopsis lines are the same;
  2. for every command, the options its `neocortex CMD --help` names are
     the options the man page's subsection defines (.TP tags);
  3. the global options (--help, --version) are in both;
  4. groff (and man -l, when man is installed) renders the page without
     a warning (skipped, with a message, when groff is not installed).
"""
import os
import re
import shutil
import subprocess
import sys

OPTION = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")
FONT = re.compile(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]")


def plain(roff_line):
    """A roff text line as it reads: fonts dropped, escapes resolved."""
    s = FONT.sub("", roff_line)
    s = s.replace("\\-", "-").replace("\\(aq", "'").replace("\\ ", " ")
    s = s.replace("\\&", "")
    return s


def macro_text(line):
    """Text of a .B/.I/.BR/.BI line (arguments, quotes removed)."""
    parts = re.findall(r'"[^"]*"|\S+', line)[1:]
    return "".join(p.strip('"') for p in parts)


def read_man(path):
    """Synopsis lines; {command: set(options)}; set of global options."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    section, sub = None, None
    synopsis, commands, global_opts = [], {}, set()
    in_nf = False
    tag_next = False
    for line in lines:
        if line.startswith(".\\\""):
            continue
        if line.startswith(".SH"):
            section = macro_text(line).upper()
            sub = None
            continue
        if line.startswith(".SS") and section == "COMMANDS":
            sub = macro_text(line)
            commands[sub] = set()
            continue
        if section == "SYNOPSIS":
            if line.startswith(".nf"):
                in_nf = True
            elif line.startswith(".fi"):
                in_nf = False
            elif in_nf and not line.startswith("."):
                synopsis.append(" ".join(plain(line).split()))
            continue
        if line.startswith(".TP"):
            tag_next = True
            continue
        if tag_next:
            tag_next = False
            text = plain(macro_text(line) if line.startswith(".") else line)
            found = set(OPTION.findall(text))
            if section == "COMMANDS" and sub is not None:
                commands[sub] |= found
            elif section == "OPTIONS":
                global_opts |= found
    return synopsis, commands, global_opts


def run(tool, *args):
    p = subprocess.run([tool, *args], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise SystemExit(f"Bail out! {tool} {' '.join(args)}: exit {p.returncode}\n{p.stderr}")
    return p.stdout


def read_help(tool):
    """Synopsis lines and command names from `neocortex --help`."""
    out = run(tool, "--help")
    synopsis, names = [], []
    in_commands = False
    for line in out.splitlines():
        if line == "commands:":
            in_commands = True
            continue
        if in_commands:
            if not line.startswith("  "):
                in_commands = False
                continue
            if not line.startswith("   "):  # a synopsis (descriptions are indented deeper)
                syn = " ".join(line.split())
                synopsis.append("neocortex " + syn)
                names.append(syn.split()[0])
    return out, synopsis, names


def command_options(tool, name):
    """Options named by `neocortex NAME --help` (its usage line and text; --help itself aside)."""
    out = run(tool, name, "--help")
    body = [ln for ln in out.splitlines() if not ln.startswith("See neocortex --help")]
    return set(OPTION.findall("\n".join(body))) - {"--help"}


def main():
    tool, manpage = sys.argv[1], sys.argv[2]
    print("1..4")
    msyn, mcmds, mglobal = read_man(manpage)
    hout, hsyn, hnames = read_help(tool)

    problems = []
    if sorted(hnames) != sorted(mcmds):
        problems.append(f"commands: --help has {sorted(hnames)}, the man page {sorted(mcmds)}")
    for s in hsyn:
        if s not in msyn:
            problems.append(f"synopsis in --help but not in the man page: {s!r}")
    for s in msyn:
        if s.split()[1].startswith("-"):
            continue  # neocortex --help / --version: checked with the global options
        if s not in hsyn:
            problems.append(f"synopsis in the man page but not in --help: {s!r}")
    print(("not ok" if problems else "ok") + " 1 - the same commands and synopses")
    for p in problems:
        print("# " + p)

    problems = []
    for name in hnames:
        have = command_options(tool, name)
        want = mcmds.get(name, set())
        if have != want:
            problems.append(f"{name}: --help names {sorted(have)}, the man page defines {sorted(want)}")
    print(("not ok" if problems else "ok") + " 2 - every command's options")
    for p in problems:
        print("# " + p)

    problems = []
    for opt in ("--help", "--version"):
        if opt not in mglobal:
            problems.append(f"the man page's OPTIONS lack {opt}")
        if opt not in hout:
            problems.append(f"neocortex --help does not mention {opt}")
    print(("not ok" if problems else "ok") + " 3 - the global options")
    for p in problems:
        print("# " + p)

    groff = shutil.which("groff")
    if not groff:
        print("ok 4 # SKIP groff is not installed: the page was not rendered")
        return
    renders = [[groff, "-man", "-Tutf8", "-ww", "-z", "-rCHECKSTYLE=3", manpage]]
    man = shutil.which("man")
    if man:  # as a user reads it: man -l, which runs groff through its own preprocessors
        renders.append([man, "--warnings", "-l", manpage])
    env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80")
    problems = []
    for cmd in renders:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
        if p.returncode != 0 or p.stderr.strip():
            problems.append(" ".join(cmd) + ":")
            problems += (p.stderr or f"exit {p.returncode}").splitlines()
    what = " and ".join(os.path.basename(c[0]) for c in renders)
    print(("not ok" if problems else "ok") + f" 4 - {what} render it without warnings")
    for ln in problems:
        print("# " + ln)


if __name__ == "__main__":
    main()
