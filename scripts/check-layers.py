#!/usr/bin/env python3
"""Checks the layers of DESIGN.md ("The pieces") against the sources.

Usage: check-layers.py SOURCE_DIR RULE...   (@FILE: the rules in FILE, one a line)

Each RULE is what CMakeLists.txt declares, "FOLDER=LAYER,LAYER" for a
folder library or "cmd/main_NAME.c=LAYER,..." for a program: what it links
and so may include. The check fails (exit 1, one line per finding) when a
file includes a header of a layer it does not link (directly or through
another layer), when a header's name is
found in two folders (an include would be ambiguous), or when the layers'
links form a cycle.
"""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def parse_rules(args):
    rules = {}
    expanded = []
    for arg in args:
        if arg.startswith("@"):
            with open(arg[1:]) as f:
                expanded += [line.strip() for line in f if line.strip()]
        else:
            expanded.append(arg)
    for arg in expanded:
        name, _, deps = arg.partition("=")
        rules[name] = [d for d in deps.split(",") if d]
    return rules


def headers_by_folder(src, folders):
    owner, problems = {}, []
    for folder in folders:
        for name in sorted(os.listdir(os.path.join(src, folder))):
            if not name.endswith(".h"):
                continue
            if name in owner:
                problems.append("%s is in both %s/ and %s/" % (name, owner[name], folder))
            owner[name] = folder
    return owner, problems


def closure(rules, names):
    """The layers names link, directly or through each other."""
    seen, todo = set(), list(names)
    while todo:
        layer = todo.pop()
        if layer not in seen:
            seen.add(layer)
            todo.extend(rules.get(layer, []))
    return seen


def include_problems(src, rules, folders, owner):
    problems = []
    for folder in folders:
        for name in sorted(os.listdir(os.path.join(src, folder))):
            if not name.endswith((".c", ".h")):
                continue
            rel = "%s/%s" % (folder, name)
            allowed = closure(rules, rules.get(rel, rules.get(folder, [])))
            allowed.add(folder)
            with open(os.path.join(src, rel), errors="replace") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                layer = owner.get(os.path.basename(inc))
                if layer is not None and layer not in allowed:
                    problems.append("%s includes %s from %s/, a layer it does not link (it "
                                    "links: %s)" % (rel, inc, layer,
                                                    ", ".join(sorted(allowed - {folder})) or
                                                    "nothing of ours"))
    return problems


def cycle(rules, folders):
    """A cycle among the folder libraries, as a list of names, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for dep in rules.get(node, []):
            if state.get(dep) == "open":
                return path + [node, dep]
            if dep not in state:
                found = visit(dep, path + [node])
                if found:
                    return found
        state[node] = "done"
        return None

    for folder in folders:
        if folder not in state:
            found = visit(folder, [])
            if found:
                return found
    return None


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src, rules = sys.argv[1], parse_rules(sys.argv[2:])
    folders = [f for f in rules if "/" not in f]
    if "cmd" not in folders and os.path.isdir(os.path.join(src, "cmd")):
        folders.append("cmd")
    unknown = sorted({d for deps in rules.values() for d in deps} - set(folders))
    problems = ["a rule names %s, which is not a layer" % u for u in unknown]
    owner, dup = headers_by_folder(src, folders)
    problems += dup
    problems += include_problems(src, rules, folders, owner)
    loop = cycle(rules, folders)
    if loop:
        problems.append("the layers' links form a cycle: %s" % " -> ".join(loop))
    for p in problems:
        print("check-layers: %s" % p)
    if not problems:
        print("check-layers: %d layers, no upward include, no cycle" % len(folders))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
