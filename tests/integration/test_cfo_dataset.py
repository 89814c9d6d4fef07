#!/usr/bin/env python3
"""test_cfo_dataset.py -- runs the real cfo-dataset: merge, show, stats, errors and exit codes."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.path.abspath(os.path.join(os.environ.get("CFO_BINARY_DIR", "build"), "bin",
                                   "cfo-dataset"))


def sha(n):
    return "%040x" % (0xC0FFEE0000 + n)


def rec(commit, fuzzer, target, hour, ok, branch="main", run="run-1", attempt=1, **extra):
    r = {
        "commit": sha(commit),
        "fuzzer": fuzzer,
        "ok": ok,
        "count": 3,
        "findings": 0 if ok else 2,
        "branch": branch,
        "target": target,
        "duration": 1.25,
        "command": "cfo-fuzz %s %s" % (fuzzer, target),
        "status": "pass" if ok else "fail",
        "time": "2026-11-21T%02d:00:00Z" % hour,
        "run": run,
        "worker": "w1",
        "attempt": attempt,
    }
    r.update(extra)
    return r


class DatasetTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cfo-dataset-")
        self.data = os.path.join(self.dir, "data.json")
        self.url = "file://" + self.data

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_tool(self, *args, cwd=None):
        return subprocess.run([BIN] + list(args), cwd=cwd or self.dir, capture_output=True,
                              text=True, timeout=60)

    def write_json(self, name, value):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(value, f)
        return path

    def read_bytes(self, path):
        with open(path, "rb") as f:
            return f.read()

    def merge(self, *files, into=None, extra=()):
        r = self.run_tool("merge", "--into", into or self.url, *extra, *files)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    # Two inputs: a bare array and a dataset document.
    def two_inputs(self):
        a = self.write_json("a.json", [
            # another target than the later pass, which would supersede it
            rec(1, "INFRA_DRIFT", "envs/net", 3, False),
            rec(2, "INFRA_DRIFT", "envs/dev", 5, True, branch="staging"),
            rec(2, "CANARY", "canary", 4, False),
        ])
        b = self.write_json("b.json", {"version": 1, "window": 32, "records": [
            rec(3, "INFRA_DRIFT", "envs/prod", 7, True, run="run-2"),
            rec(3, "CANARY", "canary", 6, False, run="run-2"),
        ]})
        return a, b

    def test_merge_two_files(self):
        a, b = self.two_inputs()
        r = self.merge(a, b)
        self.assertEqual(r.stdout.strip(),
                         "merged 5 new records into %s: 0 before, 5 after, 32 commits in window"
                         % self.url)
        doc = json.loads(self.read_bytes(self.data))
        self.assertEqual(doc["version"], 2)
        # the failing module is a finding, open since its one failure
        self.assertEqual([(f["id"], f["state"]) for f in doc["findings"]],
                         [("INFRA_DRIFT/envs/net", "open")])
        self.assertEqual(doc["strategies"]["INFRA_DRIFT"], "supersede")
        self.assertEqual(doc["window"], 32)
        recs = doc["records"]
        self.assertEqual([x["time"] for x in recs],
                         ["2026-11-21T%02d:00:00Z" % h for h in (3, 4, 5, 6, 7)])
        # every field of the input survives, in the contract's names
        want = rec(1, "INFRA_DRIFT", "envs/net", 3, False)
        self.assertEqual(recs[0], want)
        self.assertEqual(recs[2]["branch"], "staging")
        self.assertEqual(recs[4]["run"], "run-2")

    def test_window(self):
        a, b = self.two_inputs()
        r = self.merge(a, b, extra=("--window", "2"))
        self.assertTrue(r.stdout.strip().endswith("2 commits in window"), r.stdout)
        doc = json.loads(self.read_bytes(self.data))
        self.assertEqual(doc["window"], 2)
        # commit 1 is the least recent (its newest record is the oldest)
        self.assertEqual(sorted({x["commit"] for x in doc["records"]}), [sha(2), sha(3)])
        self.assertEqual(len(doc["records"]), 4)
        # the dataset's own window holds for the next merge
        c = self.write_json("c.json", [rec(4, "CANARY", "canary", 8, False)])
        r = self.merge(c)
        self.assertIn("4 before, 3 after, 2 commits in window", r.stdout)

    def test_merge_again_unchanged(self):
        a, b = self.two_inputs()
        self.merge(a, b)
        first = self.read_bytes(self.data)
        r = self.merge(b, a)
        self.assertIn("5 before, 5 after", r.stdout)
        self.assertEqual(self.read_bytes(self.data), first)
        # merging the dataset into itself changes nothing either
        self.merge(self.data)
        self.assertEqual(self.read_bytes(self.data), first)

    def test_config_strategy(self):
        # X is unknown to the built-in fuzzers: it accumulates, failures stay.
        old = rec(1, "X", "t", 1, False)
        new = rec(2, "X", "t", 2, True)
        inp = self.write_json("in.json", [old, new])
        self.merge(inp)
        self.assertEqual(len(json.loads(self.read_bytes(self.data))["records"]), 2)
        # ./cfo.ini declares X supersede: the newer pass removes the older failure
        with open(os.path.join(self.dir, "cfo.ini"), "w") as f:
            f.write('[fuzzer "X"]\nkind = canary\nmerge = supersede\n')
        os.unlink(self.data)
        self.merge(inp)
        recs = json.loads(self.read_bytes(self.data))["records"]
        self.assertEqual([x["ok"] for x in recs], [True])
        # --config names another file; a bad one is a configuration error
        bad = os.path.join(self.dir, "bad.ini")
        with open(bad, "w") as f:
            f.write("[cfo]\nwindow = wide\n")
        r = self.run_tool("merge", "--config", bad, "--into", self.url, inp)
        self.assertEqual(r.returncode, 2)
        self.assertIn(bad + ":2:", r.stderr)

    def show_rows(self, *args):
        r = self.run_tool("show", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["TIME", "FUZZER", "BRANCH", "TARGET", "COMMIT",
                                            "STATUS", "COUNT", "FINDINGS", "DURATION"])
        return lines[0], [line.split() for line in lines[1:]]

    def test_show(self):
        a, b = self.two_inputs()
        self.merge(a, b)
        header, rows = self.show_rows(self.url)
        self.assertEqual(len(rows), 5)
        self.assertEqual(rows[0], ["2026-11-21T03:00:00Z", "INFRA_DRIFT", "main", "envs/net",
                                   sha(1)[:12], "fail", "3", "2", "1.25s"])
        # columns line up: every row is as wide as its cells need
        r = self.run_tool("show", self.url)
        lines = r.stdout.splitlines()
        col = lines[0].index("COMMIT")
        for line in lines[1:]:
            self.assertEqual(line[col:col + 12], line.split()[4])
        # filters, also after the URL
        _, rows = self.show_rows(self.url, "--fuzzer", "CANARY")
        self.assertEqual([x[1] for x in rows], ["CANARY", "CANARY"])
        _, rows = self.show_rows("--branch", "staging", self.url)
        self.assertEqual([(x[1], x[3]) for x in rows], [("INFRA_DRIFT", "envs/dev")])
        _, rows = self.show_rows(self.data, "--fuzzer", "INFRA_DRIFT", "--branch", "main")
        self.assertEqual([(x[3], x[4]) for x in rows],
                         [("envs/net", sha(1)[:12]), ("envs/prod", sha(3)[:12])])
        _, rows = self.show_rows(self.data, "--target", "canary", "--fuzzer", "INFRA_DRIFT")
        self.assertEqual(rows, [])
        _, rows = self.show_rows(self.url, "--target", "nothing")
        self.assertEqual(rows, [])

    def test_stats(self):
        a, b = self.two_inputs()
        self.merge(a, b)
        r = self.run_tool("stats", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("window: 32 commits", lines)
        self.assertIn("commits in window: 3", lines)
        self.assertIn("records: 5", lines)
        table = [line.split() for line in lines[lines.index(
            next(x for x in lines if x.startswith("FUZZER"))):]]
        self.assertEqual(table[0], ["FUZZER", "RECORDS", "PASS", "FAIL", "TARGETS"])
        self.assertEqual(table[1:], [["CANARY", "2", "0", "2", "1"],
                                     ["INFRA_DRIFT", "3", "2", "1", "3"]])

    def test_corrupt_dataset(self):
        a, _ = self.two_inputs()
        for content in (b"garbage", b'{"version":1,"window":32,"records":[{"commit":'):
            with open(self.data, "wb") as f:
                f.write(content)
            before = os.stat(self.data)
            r = self.run_tool("merge", "--into", self.url, a)
            self.assertEqual(r.returncode, 3)
            self.assertIn("dataset %s is not valid" % self.data, r.stderr)
            self.assertEqual(self.read_bytes(self.data), content)
            self.assertEqual(os.stat(self.data).st_ino, before.st_ino)
            for cmd in ("show", "stats"):
                r = self.run_tool(cmd, self.url)
                self.assertEqual(r.returncode, 3)
                self.assertIn(self.data, r.stderr)

    def test_corrupt_input(self):
        a, b = self.two_inputs()
        self.merge(a)
        first = self.read_bytes(self.data)
        bad = os.path.join(self.dir, "bad.json")
        with open(bad, "w") as f:
            f.write('[{"commit": "%s", "fuzzer": "X", "ok": "yes"}]' % sha(9))
        # the good file comes first: still nothing is written
        r = self.run_tool("merge", "--into", self.url, b, bad)
        self.assertEqual(r.returncode, 3)
        self.assertIn(bad, r.stderr)
        self.assertEqual(self.read_bytes(self.data), first)
        r = self.run_tool("merge", "--into", self.url, os.path.join(self.dir, "missing.json"))
        self.assertEqual(r.returncode, 3)
        self.assertIn("missing.json", r.stderr)
        self.assertEqual(self.read_bytes(self.data), first)

    def test_missing_and_unsupported(self):
        r = self.run_tool("show", self.url)
        self.assertEqual(r.returncode, 3)
        self.assertIn("does not exist", r.stderr)
        r = self.run_tool("stats", "gs://bucket")
        self.assertIn("invalid dataset URL 'gs://bucket'", r.stderr)
        r = self.run_tool("show", "s3://bucket/data.json")
        self.assertEqual(r.returncode, 3)
        self.assertIn("s3://bucket/data.json", r.stderr)

    def test_usage(self):
        a, _ = self.two_inputs()
        cases = [
            (),
            ("frobnicate",),
            ("merge", a),
            ("merge", "--into", self.url),
            ("merge", "--into"),
            ("merge", "--into", self.url, "--window", "0", a),
            ("merge", "--into", self.url, "--window", "many", a),
            ("merge", "--into", self.url, "--fuzzer", "X", a),
            ("show",),
            ("show", self.url, "--nope"),
            ("show", self.url, "extra"),
            ("show", self.url, "-x"),
            ("stats",),
            ("stats", self.url, "--window", "3"),
        ]
        for args in cases:
            r = self.run_tool(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage: cfo-dataset", r.stderr, args)
        self.assertFalse(os.path.exists(self.data))
        for args in (("--help",), ("-h",), ("merge", "--help"), ("show", "--help")):
            r = self.run_tool(*args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("usage: cfo-dataset merge --into URL", r.stdout)
            for word in ("show", "stats", "--config", "--window", "--fuzzer", "--branch",
                         "--target", "exit status"):
                self.assertIn(word, r.stdout)

    def test_relative_url(self):
        a, _ = self.two_inputs()
        r = self.merge("a.json", into="file://.cfo/data.json")
        self.assertIn("into file://.cfo/data.json", r.stdout)
        path = os.path.join(self.dir, ".cfo", "data.json")
        self.assertEqual(len(json.loads(self.read_bytes(path))["records"]), 3)
        # and a plain relative path names the same file
        _, rows = self.show_rows(".cfo/data.json")
        self.assertEqual(len(rows), 3)


def main():
    if not os.access(BIN, os.X_OK):
        print("cfo-dataset not found at %s (set CFO_BINARY_DIR)" % BIN)
        print("0 passed, 1 failed")
        return 1
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(DatasetTest)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
