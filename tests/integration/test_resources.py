"""Resource tracking per task: CPU time and peak resident memory reach the
records, and a task that grows past its fuzzer's memory_limit ends as `oom`
while its worker goes on to the next task."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402
from test_distributed import Cluster  # noqa: E402

# a-hog touches memory 8 MiB at a time until it is stopped (or reaches 4 GiB
# and says so); the other targets burn a little CPU and pass.
RUN_SH = """#!/bin/sh
if [ "$1" = a-hog ]; then
  exec python3 -c '
keep = []
for _ in range(512):
    keep.append(b"x" * (8 << 20))
print("hog survived")
'
fi
python3 -c 'print(sum(range(2000000)))'
"""

LIST_SH = """#!/bin/sh
echo a-hog
echo b-small
echo c-small
"""

CONFIG = """
[fuzzer "MEM"]
kind = exec
discover = ./fz/list.sh
run = ./fz/run.sh {target}
memory_limit = 64M
"""


def by_target(records):
    return {r["target"]: r for r in records}


class Resources(unittest.TestCase):
    def test_oom_task_is_recorded_and_the_worker_goes_on(self):
        c = Cluster()
        try:
            cfotest.write_files(c.repo, {"fz/run.sh": (RUN_SH, 0o755),
                                         "fz/list.sh": (LIST_SH, 0o755),
                                         "cfo.ini": CONFIG})
            cfotest.git(c.repo, "add", "-A")
            cfotest.git(c.repo, "commit", "-qm", "memory hog")
            coord = c.coordinator()
            w = c.worker("w1", "--slots", "1")
            # The hog is a critical fuzzer's failure: exit 1, not a harness error.
            self.assertEqual(c.wait(coord), 1, c.log("coordinator"))
            self.assertEqual(c.wait(w, 30), 0, c.log("w1"))
            recs = by_target(c.records())
            self.assertEqual(sorted(recs), ["a-hog", "b-small", "c-small"])
            hog = recs["a-hog"]
            self.assertEqual(hog["status"], "oom")
            self.assertFalse(hog["ok"])
            self.assertEqual(hog["findings"], 1)
            self.assertGreater(hog["max_rss_kb"], 64 * 1024)
            self.assertIn("cpu", hog)
            for t in ("b-small", "c-small"):
                self.assertEqual(recs[t]["status"], "pass", recs[t])
                self.assertEqual(recs[t]["worker"], "w1")
                self.assertGreater(recs[t]["max_rss_kb"], 0)
                self.assertLess(recs[t]["max_rss_kb"], 64 * 1024)
                self.assertGreater(recs[t]["cpu"], 0)
            with open(os.path.join(c.tmp.path, "coordinator.json")) as f:
                report = json.load(f)
            self.assertIn("oom", json.dumps(report))
            self.assertNotIn("hog survived", c.log("w1"))
        finally:
            c.close()

    def test_single_host_records_cpu_and_memory(self):
        tmp = cfotest.TempDir()
        try:
            repo = os.path.join(tmp.path, "repo")
            cfotest.make_repo(repo, {"fz/run.sh": (RUN_SH, 0o755),
                                     "fz/list.sh": ("#!/bin/sh\necho b-small\n", 0o755),
                                     "cfo.ini": CONFIG})
            data = os.path.join(tmp.path, "data.json")
            res = run([binary("cfo"), "--repo", repo, "--dataset", "file://" + data,
                       "--upload", "--concurrency", "1"], cwd=tmp.path)
            self.assertEqual(res.returncode, 0, res.stderr)
            with open(data) as f:
                recs = json.load(f)["records"]
            self.assertEqual(len(recs), 1)
            self.assertGreater(recs[0]["cpu"], 0)
            self.assertGreater(recs[0]["max_rss_kb"], 1000)
        finally:
            tmp.cleanup()

    def test_bad_memory_limit_is_a_config_error(self):
        tmp = cfotest.TempDir()
        try:
            repo = os.path.join(tmp.path, "repo")
            cfotest.make_repo(repo, {"fz/run.sh": (RUN_SH, 0o755),
                                     "fz/list.sh": (LIST_SH, 0o755),
                                     "cfo.ini": CONFIG.replace("64M", "lots")})
            res = run([binary("cfo"), "--repo", repo, "--dry-run"], cwd=tmp.path)
            self.assertEqual(res.returncode, 2)
            self.assertIn("memory_limit", res.stderr)
            self.assertIn("invalid size 'lots'", res.stderr)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(cfotest.main())
