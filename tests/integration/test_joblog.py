"""Per-task events a CI can follow: --joblog FILE writes one line per
finished task in GNU parallel's joblog columns, and --log-format json writes
one JSON object when each task starts and when it ends."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

CONFIG = """
[fuzzer "QUICK"]
kind = exec
needs_working_dir = false
discover = ./list.sh
run = ./task.sh {target}
"""

HEADER = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"


class Joblog(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {
            "cfo.ini": CONFIG,
            "list.sh": ("#!/bin/sh\necho ok-1\necho ok-2\necho bad\n", 0o755),
            "task.sh": ("#!/bin/sh\ncase \"$1\" in bad) exit 1;; esac\nexit 0\n", 0o755),
        })

    def tearDown(self):
        self.tmp.cleanup()

    def test_joblog_has_parallels_columns(self):
        log = os.path.join(self.tmp.path, "jobs.tsv")
        p = run([binary("cfo"), "--repo", self.repo, "--quiet", "--joblog", log])
        self.assertEqual(p.returncode, 1, p.stderr)
        with open(log) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], HEADER)
        rows = [line.split("\t") for line in lines[1:]]
        self.assertEqual(len(rows), 3)
        self.assertEqual(sorted(int(r[0]) for r in rows), [1, 2, 3])
        for r in rows:
            self.assertEqual(len(r), 9, r)
            self.assertGreater(float(r[2]), 1.7e9)  # epoch seconds
            self.assertGreaterEqual(float(r[3]), 0)
            self.assertEqual(r[7], "0")
        exits = {r[8].split()[-1]: int(r[6]) for r in rows}
        self.assertEqual(exits, {"ok-1": 0, "ok-2": 0, "bad": 1})

    def test_json_events_for_each_task(self):
        p = run([binary("cfo"), "--repo", self.repo, "--log-format", "json"])
        events = []
        for line in p.stderr.splitlines():
            obj = json.loads(line)
            if obj.get("event") in ("task_start", "task_end"):
                events.append(obj)
        starts = [e for e in events if e["event"] == "task_start"]
        ends = [e for e in events if e["event"] == "task_end"]
        self.assertEqual(sorted(e["target"] for e in starts), ["bad", "ok-1", "ok-2"])
        self.assertEqual({e["target"]: e["status"] for e in ends},
                         {"bad": "fail", "ok-1": "pass", "ok-2": "pass"})
        for e in starts + ends:
            self.assertEqual(e["fuzzer"], "QUICK")
            self.assertEqual(e["attempt"], 1)


if __name__ == "__main__":
    cfotest.main()
