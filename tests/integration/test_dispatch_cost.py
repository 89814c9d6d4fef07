"""No helper process per task: a run of 200 tasks starts git a fixed number
of times (to find the repository, resolve its branch, make its worktree),
not once per task, whether or not its fuzzer needs a worktree."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

NTASKS = 200

CONFIG = """
[fuzzer "IN_PLACE"]
kind = exec
needs_working_dir = false
discover = ./list.sh
run = true

[fuzzer "IN_WORKTREE"]
kind = exec
needs_working_dir = true
discover = ./list.sh
run = true
"""

# A git that logs each call before it runs the real one.
COUNTING_GIT = """#!/bin/sh
echo "$*" >> "%(log)s"
exec %(git)s "$@"
"""


class DispatchCost(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {
            "cfo.ini": CONFIG,
            "list.sh": ("#!/bin/sh\nseq -f 't%%g' 1 %d\n" % NTASKS, 0o755),
        })
        self.bin = os.path.join(self.tmp.path, "bin")
        self.log = os.path.join(self.tmp.path, "git.log")
        os.makedirs(self.bin)
        real = run(["sh", "-c", "command -v git"], check=0).stdout.strip()
        with open(os.path.join(self.bin, "git"), "w") as f:
            f.write(COUNTING_GIT % {"log": self.log, "git": real})
        os.chmod(os.path.join(self.bin, "git"), 0o755)

    def tearDown(self):
        self.tmp.cleanup()

    def git_calls(self, fuzzer):
        if os.path.exists(self.log):
            os.unlink(self.log)
        env = {"PATH": self.bin + ":" + os.environ["PATH"]}
        p = run([binary("cfo"), "--repo", self.repo, "--quiet", "--fuzzer", fuzzer,
                 "--concurrency", "2"], env=env, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("%d tasks" % NTASKS, p.stderr)
        with open(self.log) as f:
            return f.read().splitlines()

    def test_in_place(self):
        calls = self.git_calls("IN_PLACE")
        self.assertLessEqual(len(calls), 10, calls)

    def test_in_a_worktree(self):
        calls = self.git_calls("IN_WORKTREE")
        self.assertLessEqual(len(calls), 12, calls)
        self.assertEqual(sum(1 for c in calls if c.startswith("worktree add")), 1, calls)


if __name__ == "__main__":
    cfotest.main()
