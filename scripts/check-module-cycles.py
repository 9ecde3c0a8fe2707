#!/usr/bin/env python3
"""Fail if a module of the pretix-race crate imports one that imports it back.

ARCHITECTURE.md promises that imports point one way (front ends -> after_win /
handoff / notify -> engine -> core). This reads each top-level module's
non-test code for `use crate::x` and `crate::x::` paths and reports every
pair that refers to each other. Doc comments and `#[cfg(test)]` modules do
not count.

    python3 scripts/check-module-cycles.py [native-host/src]
"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "native-host", "src")
deps = {}
for path in glob.glob(os.path.join(root, "**", "*.rs"), recursive=True):
    rel = os.path.relpath(path, root)
    top = rel[:-3].split(os.sep)[0]
    if top in ("lib", "main"):
        continue
    code = open(path, encoding="utf-8").read().split("#[cfg(test)]")[0]
    code = re.sub(r"//.*", "", code)
    used = set(re.findall(r"\bcrate::([a-z_]+)", code))
    deps.setdefault(top, set()).update(u for u in used if u != top)

cycles = sorted({tuple(sorted((a, b))) for a in deps for b in deps[a] if a in deps.get(b, ())})
for a, b in cycles:
    print(f"module cycle: {a} <-> {b}")
print(f"{len(deps)} modules, {len(cycles)} cycles")
sys.exit(1 if cycles else 0)
