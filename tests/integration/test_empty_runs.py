"""A run with nothing to do finishes at once, with the right exit status, on
one host and with a coordinator: every target skipped, a fuzzer that matches
no target, and a resumed journal whose tasks were all committed before the
upload failed."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

# A run with nothing to do takes well under a second; this bounds a hang.
BOUND = 60

CONFIG = """
[fuzzer "CANARY"]
kind = canary
merge = accumulate
critical = false

[fuzzer "EXEC"]
kind = exec
run = true
skip_passed = true
critical = true

[fuzzer "NOTHING"]
kind = exec
discover = true
run = true
"""


class EmptyRuns(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {"cfo.ini": CONFIG})
        self.data = os.path.join(self.tmp.path, "data.json")

    def tearDown(self):
        self.tmp.cleanup()

    def cfo(self, *args, dataset=None):
        start = time.monotonic()
        p = run([binary("cfo"), "--repo", self.repo, "--dataset", "file://" + (dataset or self.data),
                 "--quiet", *args], timeout=BOUND)
        return p, time.monotonic() - start

    def records(self):
        with open(self.data) as f:
            return json.load(f)["records"]

    def test_everything_skipped(self):
        p, _ = self.cfo("--upload", "--fuzzer", "EXEC")
        self.assertEqual(p.returncode, 0, p.stderr)
        p, _ = self.cfo("--upload", "--fuzzer", "EXEC")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("0 tasks", p.stderr)
        self.assertNotIn("went silent", p.stderr)
        self.assertEqual(len(self.records()), 1)

    def test_a_fuzzer_without_targets(self):
        p, _ = self.cfo("--fuzzer", "NOTHING")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("0 tasks", p.stderr)

    def test_resumed_with_everything_committed(self):
        state = os.path.join(self.tmp.path, "state")
        # The upload fails after every task was committed: nothing can be
        # written under /proc.
        p, _ = self.cfo("--upload", "--state-dir", state, dataset="/proc/cfo-test/data.json")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("upload failed", p.stderr)
        p, _ = self.cfo("--upload", "--state-dir", state)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("2 of 2 tasks already committed", p.stderr)
        self.assertNotIn("went silent", p.stderr)
        self.assertEqual(sorted(r["fuzzer"] for r in self.records()), ["CANARY", "EXEC"])

    def test_coordinator_resumed_with_everything_committed(self):
        state = os.path.join(self.tmp.path, "state")
        p, _ = self.cfo("--upload", "--state-dir", state, dataset="/proc/cfo-test/data.json")
        self.assertEqual(p.returncode, 3, p.stderr)
        port = cfotest.free_port()
        p = run([binary("cfo-coordinator"), "--repo", self.repo, "--dataset", "file://" + self.data,
                 "--bind", "tcp://127.0.0.1:%d" % port, "--upload", "--state-dir", state,
                 "--wait-workers", "30s", "--quiet"], timeout=BOUND)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(r["fuzzer"] for r in self.records()), ["CANARY", "EXEC"])


if __name__ == "__main__":
    cfotest.main()
