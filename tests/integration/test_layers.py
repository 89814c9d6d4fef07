"""The layout of DESIGN.md ("The pieces"), held to: no file includes a header
of a layer it does not link, the layers' links form no cycle, cfo-worker
carries neither libcurl nor OpenSSL, and no function of the product code is
longer than a reader can take in at once."""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

CHECK = os.path.join(cfotest.SRC, "scripts", "check-layers.py")
RULES = os.path.join(os.path.dirname(cfotest.BIN), "layers.txt")
PRODUCT = ["common", "sys", "proto", "storage", "worker", "coordinator", "fuzz_tests", "cmd"]
MAX_FUNCTION_LINES = 120


def check(src, *rules):
    return run([sys.executable, CHECK, src, *rules])


def function_lengths(path):
    """(name, lines) of each function defined in a C file, counted from the
    line that names it to its closing brace (both at the start of a line, as
    clang-format writes them)."""
    lines = open(path, errors="replace").read().split("\n")
    found, i = [], 0
    while i < len(lines):
        if lines[i].startswith("{"):
            head = i - 1
            while head > 0 and not re.match(r"^[A-Za-z_].*\(", lines[head]):
                head -= 1
            end = i + 1
            while end < len(lines) and not lines[end].startswith("}"):
                end += 1
            m = re.search(r"(\w+)\s*\(", lines[head])
            found.append((m.group(1) if m else lines[head], end - head + 1))
            i = end
        i += 1
    return found


class Layers(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def copy_tree(self):
        dest = os.path.join(self.tmp.path, "src")
        for folder in PRODUCT:
            shutil.copytree(os.path.join(cfotest.SRC, folder), os.path.join(dest, folder))
        return dest

    def test_the_tree_keeps_its_layers(self):
        p = check(cfotest.SRC, "@" + RULES)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("no upward include, no cycle", p.stdout)

    def test_an_upward_include_is_refused(self):
        src = self.copy_tree()
        path = os.path.join(src, "sys", "cfo_git.c")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace('#include "cfo_git.h"', '#include "cfo_git.h"\n#include "cfo_sched.h"', 1))
        p = check(src, "@" + RULES)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("sys/cfo_git.c includes cfo_sched.h from coordinator/", p.stdout)

    def test_a_program_includes_only_what_it_links(self):
        src = self.copy_tree()
        path = os.path.join(src, "cmd", "main_worker.c")
        with open(path, "a") as f:
            f.write('#include "cfo_storage.h"\n')
        p = check(src, "@" + RULES)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("cmd/main_worker.c includes cfo_storage.h from storage/", p.stdout)

    def test_a_cycle_is_refused(self):
        with open(RULES) as f:
            rules = [line.strip() for line in f if line.strip()]
        rules = [r + ",coordinator" if r.startswith("storage=") else r for r in rules]
        p = check(cfotest.SRC, *rules)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("cycle", p.stdout)

    def test_the_worker_links_no_curl_nor_openssl(self):
        out = subprocess.run(["ldd", binary("cfo-worker")], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        libs = [line.split()[0] for line in out.splitlines() if line.strip()]
        self.assertTrue(libs)
        for lib in libs:
            self.assertFalse(re.match(r"lib(curl|ssl|crypto)\.so", lib), lib)
        # cfo-fuzz stores corpora (storage/), so it does carry them.
        out = subprocess.run(["ldd", binary("cfo-fuzz")], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        self.assertIn("libcurl", out)

    def test_no_function_is_too_long_to_read(self):
        long_ones = []
        for folder in PRODUCT:
            for root, _, files in os.walk(os.path.join(cfotest.SRC, folder)):
                for name in files:
                    if name.endswith(".c"):
                        path = os.path.join(root, name)
                        long_ones += ["%s: %s, %d lines" % (os.path.relpath(path, cfotest.SRC),
                                                            fn, n)
                                      for fn, n in function_lengths(path)
                                      if n > MAX_FUNCTION_LINES]
        self.assertEqual(long_ones, [])


if __name__ == "__main__":
    cfotest.main()
