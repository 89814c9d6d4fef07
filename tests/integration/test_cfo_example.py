"""End to end over the bundled example repository with the real terraform:
drift found exactly where the example plants it, exit 1; once a new commit
fixes it, SUPERSEDE leaves no failing record for that module while CANARY's
failures accumulate, one more per run."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402


class ExampleEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = cfotest.TempDir()
        cls.repo = os.path.join(cls.tmp.path, "example")
        run([os.path.join(cfotest.SRC, "examples", "make-example-repo.sh"), cls.repo],
            check=0, timeout=600)
        cls.data = os.path.join(cls.tmp.path, "data.json")
        cls.env = {"TF_PLUGIN_CACHE_DIR": os.path.join(cls.tmp.path, "plugins")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def cfo(self, *args):
        return run([binary("cfo"), "--repo", self.repo, "--dataset", "file://" + self.data,
                    "--workdir", os.path.join(self.tmp.path, "work"), "--concurrency", "2",
                    *args], cwd=self.tmp.path, env=self.env, timeout=900)

    def records(self):
        with open(self.data) as f:
            return json.load(f)["records"]

    def test_drift_found_then_superseded_while_canary_accumulates(self):
        modules = run([binary("cfo-fuzz"), "INFRA_DRIFT", "--discover"], cwd=self.repo,
                      check=0).stdout.split()
        self.assertGreaterEqual(len(modules), 3)
        self.assertFalse([m for m in modules if "modules/" in m])

        dry = self.cfo("--dry-run")
        self.assertEqual(dry.returncode, 0, dry.stderr)
        tasks = [line.split("\t") for line in dry.stdout.strip().split("\n")]
        drift_tasks = [t for t in tasks if t[0] == "INFRA_DRIFT"]
        self.assertEqual(len(drift_tasks), 3 * len(modules))
        self.assertEqual(sorted({t[1] for t in drift_tasks}), ["main", "plan", "staging"])
        self.assertEqual(len([t for t in tasks if t[0] == "CANARY"]), 1)

        first = self.cfo("--upload")
        self.assertEqual(first.returncode, 1, first.stdout + first.stderr)
        recs = self.records()
        failing = [r for r in recs if r["fuzzer"] == "INFRA_DRIFT" and not r["ok"]]
        self.assertEqual(len(failing), 1, failing)
        drifted = failing[0]
        self.assertEqual(drifted["branch"], "staging")
        self.assertEqual(drifted["status"], "fail")
        self.assertGreaterEqual(drifted["findings"], 1)
        self.assertEqual(drifted["command"], "cfo-fuzz INFRA_DRIFT " + drifted["target"])
        passing = [r for r in recs if r["fuzzer"] == "INFRA_DRIFT" and r["ok"]]
        self.assertEqual(len(passing), 3 * len(modules) - 1)
        self.assertTrue(all(r["count"] >= 1 for r in passing))
        canary = [r for r in recs if r["fuzzer"] == "CANARY"]
        self.assertEqual([r["ok"] for r in canary], [False])

        # Drift happens outside git: every module is planned again on every
        # run, an unchanged commit or not (skip_passed is off by default).
        again = self.cfo("--dry-run")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(len(again.stdout.strip().split("\n")), len(tasks))
        self.assertNotIn("already passed", again.stderr)

        # Fix the drift in a new commit on staging: the code matches what is deployed again.
        git(self.repo, "checkout", "-q", "staging")
        git(self.repo, "revert", "--no-edit", "HEAD")
        git(self.repo, "checkout", "-q", "main")

        second = self.cfo("--upload")
        self.assertEqual(second.returncode, 0, second.stdout + second.stderr)
        self.assertNotIn("already passed", second.stderr)
        recs = self.records()
        still_failing = [r for r in recs if r["fuzzer"] == "INFRA_DRIFT" and not r["ok"]]
        self.assertEqual(still_failing, [])
        healed = [r for r in recs if r["fuzzer"] == "INFRA_DRIFT" and
                  r["target"] == drifted["target"] and r["branch"] == "staging"]
        self.assertTrue(healed and all(r["ok"] for r in healed))
        self.assertNotEqual(healed[-1]["commit"], drifted["commit"])
        canary = [r for r in recs if r["fuzzer"] == "CANARY"]
        self.assertEqual([r["ok"] for r in canary], [False, False])


if __name__ == "__main__":
    cfotest.main()
