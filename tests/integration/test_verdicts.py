"""The exit status a CI job trusts: a critical task cut by the budget is
incomplete (4, or 0 with --allow-incomplete), a run stopped by a signal is
a harness failure (3) whatever its tasks said, and every run that started
writes its reports, a harness failure included."""

import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run, wait_for  # noqa: E402

CONFIG = """
[fuzzer "CANARY"]
kind = canary
merge = accumulate
critical = false

[fuzzer "SLEEPY"]
kind = exec
run = sleep 5
critical = true

[fuzzer "QUICK"]
kind = exec
run = true
critical = true

[fuzzer "BROKEN"]
kind = exec
run = false
critical = true

[fuzzer "HOLD"]
kind = exec
run = sleep 300.4242
critical = false
"""


class Verdicts(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {"cfo.ini": CONFIG})
        self.report = os.path.join(self.tmp.path, "report.json")
        self.junit = os.path.join(self.tmp.path, "junit.xml")

    def tearDown(self):
        self.tmp.cleanup()

    def argv(self, *args):
        return [binary("cfo"), "--repo", self.repo, "--quiet", "--grace", "200ms",
                "--dataset", "file://" + os.path.join(self.tmp.path, "data.json"),
                "--report", self.report, "--junit", self.junit, *args]

    def verdict(self):
        with open(self.report) as f:
            return json.load(f)

    def test_a_critical_task_cut_by_the_budget_is_incomplete(self):
        p = run(self.argv("--fuzzer", "SLEEPY", "--fuzzer", "QUICK", "--budget", "2s"))
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("incomplete: 1 critical task(s) did not run to their end", p.stdout)
        self.assertEqual(self.verdict()["exit_code"], 4)
        p = run(self.argv("--fuzzer", "SLEEPY", "--budget", "2s", "--allow-incomplete"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("allowed by --allow-incomplete", p.stdout)

    def test_an_output_that_cannot_be_written_is_refused_before_any_task(self):
        data = os.path.join(self.tmp.path, "data.json")
        afile = os.path.join(self.tmp.path, "a-file")
        with open(afile, "w") as f:
            f.write("not a folder\n")
        for flag, path, why in (
                ("--sarif", os.path.join(self.tmp.path, "no", "such", "x.sarif"), "no folder"),
                ("--junit", os.path.join(afile, "junit.xml"), "is not a folder"),
                ("--report", self.tmp.path, "is a folder, not a file")):
            p = run([binary("cfo"), "--repo", self.repo, "--quiet", "--upload", "--fuzzer",
                     "QUICK", "--dataset", "file://" + data, flag, path])
            self.assertEqual(p.returncode, 2, (flag, p.stderr))
            self.assertIn("%s: " % flag, p.stderr)
            self.assertIn(why, p.stderr)
            self.assertNotIn(" run ", p.stderr)  # no run started
            self.assertFalse(os.path.exists(data), flag)

    def test_a_failure_outranks_incomplete(self):
        p = run(self.argv("--fuzzer", "SLEEPY", "--fuzzer", "BROKEN", "--budget", "2s"))
        self.assertEqual(p.returncode, 1, p.stderr)

    def test_a_stopped_run_is_a_harness_failure_after_failures(self):
        proc = subprocess.Popen(self.argv("--fuzzer", "BROKEN", "--fuzzer", "HOLD",
                                          "--concurrency", "2"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # A token no other test's process carries: the signal must reach
            # cfo once its task runs, not before its handlers are in place.
            wait_for(lambda: cfotest.processes_with("sleep 300.4242"), 30,
                     "the held task to start")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 3, err)
        self.assertIn("stopped by a signal", out)
        self.assertEqual(self.verdict()["exit_code"], 3)
        self.assertTrue(os.path.exists(self.junit))

    def test_a_harness_failure_writes_its_reports(self):
        p = run(self.argv("--dataset", "file:///proc/cfo-test/data.json", "--upload",
                          "--fuzzer", "QUICK"))
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(self.verdict()["exit_code"], 3)
        self.assertIn("dataset could not be written", self.verdict()["verdict"])
        with open(self.junit) as f:
            junit = f.read()
        self.assertIn('<testcase classname="cfo" name="harness">', junit)
        self.assertIn("dataset could not be written", junit)

    def test_a_run_stopped_before_its_tasks_still_reports(self):
        # Discovery of an exec fuzzer that fails stops the run at planning.
        with open(os.path.join(self.repo, "cfo.ini"), "a") as f:
            f.write('\n[fuzzer "NODISC"]\nkind = exec\ndiscover = false\nrun = true\n')
        cfotest.git(self.repo, "commit", "-qam", "nodisc")
        p = run(self.argv("--fuzzer", "NODISC"))
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(self.verdict()["exit_code"], 3)
        self.assertIn("discovery of NODISC", self.verdict()["verdict"])
        self.assertTrue(os.path.exists(self.junit))

    def test_a_missing_tool_stops_the_run_before_any_task(self):
        with open(os.path.join(self.repo, "cfo.ini"), "a") as f:
            f.write('\n[fuzzer "DRIFT"]\nkind = infra_drift\nterraform = no-such-terraform\n'
                    'critical = true\n')
        cfotest.git(self.repo, "commit", "-qam", "drift")
        data = os.path.join(self.tmp.path, "data.json")
        p = run(self.argv("--upload"))
        self.assertEqual(p.returncode, 3, p.stderr)
        errors = [line for line in p.stderr.splitlines() if " error: " in line]
        self.assertEqual(len(errors), 1, p.stderr)
        self.assertIn("fuzzer DRIFT needs no-such-terraform, which is not on PATH", errors[0])
        self.assertIn("OpenTofu", errors[0])
        self.assertFalse(os.path.exists(data), "nothing is merged")
        self.assertEqual(self.verdict()["exit_code"], 3)
        self.assertEqual(self.verdict()["tasks"], [])
        self.assertTrue(os.path.exists(self.junit))

    def test_a_healthy_runs_reports_show_the_canary_as_a_passing_check(self):
        summary = os.path.join(self.tmp.path, "step.md")
        p = run(self.argv("--fuzzer", "CANARY", "--fuzzer", "QUICK"),
                env={"GITHUB_STEP_SUMMARY": summary})
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.junit) as f:
            junit = f.read()
        self.assertNotIn("<failure", junit)
        self.assertIn("failed as it must", junit)
        with open(summary) as f:
            md = f.read()
        self.assertNotIn("Not passed", md)
        self.assertIn("failed as it must", md)
        self.assertNotIn("Not passed", p.stdout)
        self.assertIn("Canary CANARY on main: failed as it must", p.stdout)

    def test_a_budget_cut_of_many_tasks_is_summarised(self):
        with open(os.path.join(self.repo, "cfo.ini"), "a") as f:
            f.write('\n[fuzzer "MANY"]\nkind = exec\nneeds_working_dir = false\n'
                    'discover = seq -f t%g 1 10000\nrun = sleep 1\n')
        cfotest.git(self.repo, "commit", "-qam", "many")
        p = run(self.argv("--fuzzer", "MANY", "--budget", "3s", "--concurrency", "2",
                          "--allow-incomplete"), timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Cancelled: ", p.stdout)
        self.assertLess(len(p.stdout.splitlines()), 50, p.stdout[-3000:])
        self.assertLess(os.path.getsize(self.junit), 5 << 20)
        with open(self.junit) as f:
            self.assertGreater(f.read().count("<skipped"), 9000)


if __name__ == "__main__":
    cfotest.main()
