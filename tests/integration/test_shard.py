"""--shard K/N: three runners that cannot reach each other divide a 300-task
run (299 exec targets and the canary) and merge into one dataset, run one
after another and all at once. Every task is recorded exactly once, the
canary once, and the shares, balanced by the durations the dataset's history
gives rather than by count, take wall times within 1.5x of each other."""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402

NTARGETS = 299
SHARDS = 3

CONFIG = """
[fuzzer "CANARY"]
kind = canary

[fuzzer "SLEEPY"]
kind = exec
needs_working_dir = false
discover = ./list.sh
run = ./sleep.sh {target}
"""

# Targets named by how long they sleep: 25 long ones generated first (a
# division by count in generation order would give them all to one runner),
# the rest short. Sleeps make each share about 9 s of wall time, so what a
# loaded machine adds to a run's start is small beside it.
def durations():
    out = {}
    for i in range(NTARGETS):
        seconds = 3.0 if i < 25 else (0.05 if i % 3 else 0.3)
        out["t%03d-%.2f" % (i, seconds)] = seconds
    return out


class Shards(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        self.targets = durations()
        listing = "".join(t + "\n" for t in self.targets)
        old = cfotest.make_repo(self.repo, {
            "cfo.ini": CONFIG,
            "targets.txt": listing,
            "list.sh": ("#!/bin/sh\ncat targets.txt\n", 0o755),
            "sleep.sh": ("#!/bin/sh\nexec sleep \"${1#*-}\"\n", 0o755),
        })
        cfotest.write_files(self.repo, {"README": "a newer commit\n"})
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "newer")
        self.head = git(self.repo, "rev-parse", "HEAD")
        # The history: each target's duration on the previous commit.
        records = [{
            "commit": old, "fuzzer": "SLEEPY", "ok": True, "count": 1, "findings": 0,
            "branch": "main", "target": t, "duration": s,
            "command": "cfo-fuzz SLEEPY " + t, "status": "pass",
            "time": "2026-11-01T10:00:00Z", "run": "history", "worker": "w", "attempt": 1,
        } for t, s in self.targets.items()]
        self.history = {"version": 1, "window": 32, "records": records}

    def tearDown(self):
        self.tmp.cleanup()

    def fresh_dataset(self, name):
        path = os.path.join(self.tmp.path, name)
        with open(path, "w") as f:
            json.dump(self.history, f)
        return path

    def argv(self, k, dataset):
        return [binary("cfo"), "--repo", self.repo, "--dataset", "file://" + dataset,
                "--shard", "%d/%d" % (k, SHARDS), "--upload", "--concurrency", "4",
                "--quiet", "--report", os.path.join(self.tmp.path, "report-%d.json" % k)]

    def check(self, dataset, walls, outputs):
        with open(dataset) as f:
            doc = json.load(f)
        mine = [r for r in doc["records"] if r["commit"] == self.head]
        keys = [(r["fuzzer"], r["target"]) for r in mine]
        self.assertEqual(len(keys), len(set(keys)), "a task was recorded twice")
        want = {("SLEEPY", t) for t in self.targets}
        canary = [k for k in keys if k[0] == "CANARY"]
        self.assertEqual(len(canary), 1, keys)
        self.assertEqual(set(keys) - set(canary), want)
        self.assertEqual(len(keys), NTARGETS + 1)
        counts = []
        for k in range(1, SHARDS + 1):
            with open(os.path.join(self.tmp.path, "report-%d.json" % k)) as f:
                counts.append(len(json.load(f)["tasks"]))
        self.assertEqual(sum(counts), NTARGETS + 1)
        # Balanced by time: the long targets spread, so the counts differ.
        self.assertGreaterEqual(max(counts) - min(counts), 5, counts)
        print("shard tasks %s, wall times %s" % (counts, ["%.1fs" % w for w in walls]),
              file=sys.stderr)
        self.assertLessEqual(max(walls), 1.5 * min(walls), (walls, counts, outputs))

    def test_one_after_another(self):
        dataset = self.fresh_dataset("seq.json")
        walls, outputs = [], []
        for k in range(1, SHARDS + 1):
            start = time.monotonic()
            p = run(self.argv(k, dataset), timeout=600)
            walls.append(time.monotonic() - start)
            outputs.append(p.stderr[-2000:])
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("shard %d/%d" % (k, SHARDS), p.stderr)
        self.check(dataset, walls, outputs)

    def test_at_once(self):
        dataset = self.fresh_dataset("concurrent.json")
        procs = []
        for k in range(1, SHARDS + 1):
            procs.append((time.monotonic(), subprocess.Popen(
                self.argv(k, dataset), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)))
        walls, outputs = [], []
        for start, p in procs:
            out, err = p.communicate(timeout=600)
            walls.append(time.monotonic() - start)
            outputs.append(err[-2000:])
            self.assertEqual(p.returncode, 0, out + err)
        self.check(dataset, walls, outputs)

    def test_dry_run_shares_are_disjoint_and_whole(self):
        seen = []
        for k in range(1, SHARDS + 1):
            p = run([binary("cfo"), "--repo", self.repo, "--dry-run", "--shard",
                     "%d/%d" % (k, SHARDS)], check=0)
            seen += p.stdout.splitlines()
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(len(seen), NTARGETS + 1)

    def test_bad_shard_is_a_usage_error(self):
        for spec in ("0/3", "4/3", "3", "x/y"):
            p = run([binary("cfo"), "--repo", self.repo, "--dry-run", "--shard", spec])
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("--shard", p.stderr)
        env = {"CIRCLE_NODE_INDEX": "", "CIRCLE_NODE_TOTAL": ""}
        p = run([binary("cfo"), "--repo", self.repo, "--dry-run", "--shard", "auto"], env=env)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("CIRCLE_NODE_INDEX", p.stderr)

    def test_auto_reads_circleci(self):
        env = {"CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": "3"}
        p = run([binary("cfo"), "--repo", self.repo, "--dry-run", "--shard", "auto"], env=env,
                check=0)
        q = run([binary("cfo"), "--repo", self.repo, "--dry-run", "--shard", "1/3"], check=0)
        self.assertEqual(p.stdout, q.stdout)
        self.assertIn("CANARY", p.stdout)


if __name__ == "__main__":
    cfotest.main()
