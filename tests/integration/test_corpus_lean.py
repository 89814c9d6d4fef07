"""Stored corpora stay lean: runs of one libFuzzer target against one store
never pull back what the engine discarded (the store holds the engine's
final corpus plus what other runs added), and a store grown past
prune_factor times its last minimized size is merged by the next task."""

import hashlib
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from test_engines import FuzzRun, files  # noqa: E402

# Branches on counts and nesting give libFuzzer many features to reach with
# ever shorter inputs, so it replaces (and deletes) inputs it wrote earlier.
TARGET_C = r"""
#include <stddef.h>
#include <stdint.h>
static volatile unsigned sink;
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    int depth = 0, digits = 0, words = 0, commas = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = d[i];
        if (c == '[') {
            depth++;
        } else if (c == ']') {
            if (depth > 0)
                depth--;
        } else if (c >= '0' && c <= '9') {
            digits++;
        } else if (c >= 'a' && c <= 'z') {
            words++;
        } else if (c == ',') {
            commas++;
            if (depth == 1)
                sink += 1;
            else if (depth == 2)
                sink += 2;
            else if (depth >= 3)
                sink += 3;
        }
    }
    for (int i = 0; i < depth && i < 16; i++)
        sink += (unsigned)i;
    for (int i = 0; i < digits && i < 16; i++)
        sink += (unsigned)i * 2;
    for (int i = 0; i < words && i < 16; i++)
        sink += (unsigned)i * 3;
    for (int i = 0; i < commas && i < 16; i++)
        sink += (unsigned)i * 5;
    return 0;
}
"""

BUILD_SH = """#!/bin/sh
set -e
mkdir -p out/libfuzzer
clang -g -O1 -fsanitize=fuzzer lean.c -o out/libfuzzer/lean
"""

CONFIG = """
[fuzzer "LEAN"]
kind = libfuzzer
build = ./build.sh
targets_dir = out/libfuzzer
fuzz_time = %(time)s
sync_interval = 1s
corpus = %(store)s
prune_factor = %(factor)d
"""

FUZZ_TIME = "8s"


def sha1_of(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


class LeanCorpus(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {"lean.c": TARGET_C, "build.sh": (BUILD_SH, 0o755)})
        self.store = os.path.join(self.tmp.path, "store")
        self.corpus = os.path.join(self.store, "corpus", "LEAN", "lean")

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, factor):
        path = os.path.join(self.tmp.path, "cfo-%d.ini" % factor)
        with open(path, "w") as f:
            f.write(CONFIG % {"time": FUZZ_TIME, "store": self.store, "factor": factor})
        return path

    def fuzz(self, cfg):
        r = FuzzRun(cfg, "LEAN", "lean", self.repo, keep_work=True).wait()
        self.assertEqual(r.rc, 0, r.describe())
        final = os.path.join(r.work(), "corpus")
        r.final = set(files(final))
        for n in r.final:  # libFuzzer names its inputs by content, as storage does
            self.assertEqual(sha1_of(os.path.join(final, n)), n)
        m = re.search(r"(\d+) pulled from other runs", r.out)
        self.assertIsNotNone(m, r.describe())
        r.pulled = int(m.group(1))
        shutil.rmtree(r.work(), ignore_errors=True)
        return r

    def test_runs_pull_nothing_the_engine_discarded(self):
        cfg = self.config(0)
        first = self.fuzz(cfg)
        # libFuzzer's last status line makes the summary, whatever its
        # output ended with.
        self.assertRegex(first.result["summary"],
                         r"cov [1-9]\d*, ft [1-9]\d*, corpus [1-9]\d*, \d+ exec/s")
        # Alone against the store: nothing comes from another run, and the
        # store is exactly what the engine kept.
        self.assertEqual(first.pulled, 0, first.describe())
        after_first = set(files(self.corpus))
        self.assertEqual(after_first, first.final, first.describe())
        second = self.fuzz(cfg)
        self.assertEqual(second.pulled, 0, second.describe())
        stored = set(files(self.corpus))
        # The second run's corpus is stored; anything else is what the first
        # run added and the second never had to keep.
        self.assertLessEqual(second.final, stored, second.describe())
        self.assertLessEqual(stored - second.final, after_first, second.describe())

    def test_a_store_grown_past_the_factor_is_pruned_by_the_next_run(self):
        cfg = self.config(2)
        first = self.fuzz(cfg)
        base = len(files(self.corpus))
        self.assertGreater(base, 0)
        self.assertNotIn("merging", first.out)
        # Other runs' inputs that add nothing: more than twice the base.
        for i in range(2 * base + 1):
            data = b"[[1,a]]" + b"x" * (i + 1)
            name = hashlib.sha1(data).hexdigest()
            with open(os.path.join(self.corpus, name), "wb") as f:
                f.write(data)
        grown = len(files(self.corpus))
        second = self.fuzz(cfg)
        m = re.search(r"corpus: (\d+) inputs minimized to (\d+)", second.out)
        self.assertIsNotNone(m, second.describe())
        stored = files(self.corpus)
        self.assertEqual(int(m.group(2)), len(stored))
        self.assertLess(len(stored), grown)
        for n in stored:
            self.assertEqual(sha1_of(os.path.join(self.corpus, n)), n)
        # The size it left is the new base: the next run does not merge again.
        third = self.fuzz(cfg)
        self.assertNotIn("merging", third.out, third.describe())


if __name__ == "__main__":
    cfotest.main()
