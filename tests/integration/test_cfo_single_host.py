"""cfo on one host, with the real binaries: hostile fuzzers end as their
status says with nothing left behind, the budget cancels instead of failing,
exit codes follow DESIGN.md, bad input gets one clear line, reports parse."""

import json
import os
import shutil
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402

TOKEN = "7%06d" % (os.getpid() % 1000000)  # marks this test's sleepers in the process table

DAEMON_WATCH = """#!/bin/sh
# Gone, a zombie, or reaped between two looks: not alive (awk exits 2
# when the file vanished, 1 on a zombie).
alive() { awk '{exit ($3 == "Z" || $3 == "X")}' "/proc/$1/stat" 2>/dev/null; }
i=0
while [ ! -s "$DAEMON_PIDFILE" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
pid=$(cat "$DAEMON_PIDFILE")
i=0
while alive "$pid" && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
if alive "$pid"; then echo "daemon $pid outlived its task"; exit 1; fi
echo "daemon $pid ended with its task"
"""

# Each script is one hostile fuzzer; TOKEN in an argument lets the test find
# any process it leaves behind.
SCRIPTS = {
    "fz/ignore_term.sh": "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1 %s1; done\n",
    "fz/child_ignores.sh": "#!/bin/sh\n(trap '' TERM; exec sleep %s2) &\nsleep %s2\n",
    "fz/setsid_child.sh": "#!/bin/sh\nsetsid sleep %s3 &\nsleep %s3\n",
    "fz/setsid_daemon.sh": "#!/bin/sh\nsetsid sleep %s4 &\necho started a daemon\nexit 0\n",
    "fz/segv.sh": "#!/bin/sh\nkill -SEGV $$\n",
    "fz/sleeper.sh": "#!/bin/sh\nexec sleep %s5\n",
    "fz/verdict.sh": "#!/bin/sh\necho \"target $1\"\nexit \"$1\"\n",
    "fz/flood.sh": "#!/bin/sh\nhead -c 1073741824 /dev/zero\necho done\n",
    "fz/figures.sh": "#!/bin/sh\nprintf '{\"count\": 42, \"findings\": 0, \"summary\": \"checked 42\"}' >&\"$CFO_RESULT_FD\"\n",
    "fz/list.sh": "#!/bin/sh\nprintf '0\\n1\\n7\\n'\n",
    "fz/list_fails.sh": "#!/bin/sh\necho 'cannot list targets: boom' >&2\nexit 4\n",
    # A daemon that clears its environment, leaves the group and forks
    # twice; its pid goes to $DAEMON_PIDFILE.
    "fz/env_daemon.sh": "#!/bin/sh\nenv -i /bin/sh -c \"setsid /bin/sh -c 'sleep %s6 & "
                        "echo \\$! > $DAEMON_PIDFILE' </dev/null >/dev/null 2>&1 &\"\n"
                        "while [ ! -s \"$DAEMON_PIDFILE\" ]; do sleep 0.05; done\n",
    # Runs beside it and passes once that daemon is gone, while it still runs.
    "fz/daemon_watch.sh": DAEMON_WATCH,
}

HOSTILE_INI = """
[cfo]
task_timeout = 3s

[fuzzer "IGNORE_TERM"]
kind = exec
run = ./fz/ignore_term.sh {target}

[fuzzer "CHILD_IGNORES"]
kind = exec
run = ./fz/child_ignores.sh {target}

[fuzzer "SETSID_CHILD"]
kind = exec
run = ./fz/setsid_child.sh {target}

[fuzzer "SETSID_DAEMON"]
kind = exec
run = ./fz/setsid_daemon.sh {target}

[fuzzer "SEGV"]
kind = exec
run = ./fz/segv.sh {target}

[fuzzer "SLEEPER"]
kind = exec
task_timeout = 1s
run = ./fz/sleeper.sh {target}

[fuzzer "VERDICT"]
kind = exec
discover = ./fz/list.sh
run = ./fz/verdict.sh {target}

[fuzzer "FIGURES"]
kind = exec
run = ./fz/figures.sh

[fuzzer "FLOOD"]
kind = exec
run = ./fz/flood.sh

[fuzzer "ENV_DAEMON"]
kind = exec
run = ./fz/env_daemon.sh

[fuzzer "DAEMON_WATCH"]
kind = exec
task_timeout = 2m
run = ./fz/daemon_watch.sh
"""


def scripts():
    return {k: (v.replace("%s", TOKEN), 0o755) for k, v in SCRIPTS.items()}


def statuses(report):
    out = {}
    for t in report["tasks"]:
        r = t["record"]
        out[(r["fuzzer"], r["target"])] = (r["status"], t)
    return out


class SingleHost(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        self.sha = cfotest.make_repo(self.repo, dict(scripts(), **{"cfo.ini": HOSTILE_INI}))

    def tearDown(self):
        self.tmp.cleanup()

    def cfo(self, *args, check=None, timeout=300):
        return run([binary("cfo"), "--repo", self.repo, "--workdir",
                    os.path.join(self.tmp.path, "work"), "--dataset",
                    "file://" + os.path.join(self.tmp.path, "data.json"), *args],
                   cwd=self.tmp.path, check=check, timeout=timeout)

    def report(self, path):
        with open(path) as f:
            return json.load(f)

    def test_hostile_fuzzers_end_as_their_status_says_and_leave_nothing(self):
        rep = os.path.join(self.tmp.path, "report.json")
        junit = os.path.join(self.tmp.path, "junit.xml")
        start = time.monotonic()
        p = self.cfo("--concurrency", "4", "--grace", "500ms", "--report", rep, "--junit", junit,
                     "--save-logs", os.path.join(self.tmp.path, "logs"),
                     "--fuzzer", "IGNORE_TERM", "--fuzzer", "CHILD_IGNORES",
                     "--fuzzer", "SETSID_CHILD", "--fuzzer", "SETSID_DAEMON",
                     "--fuzzer", "SEGV", "--fuzzer", "SLEEPER", "--fuzzer", "VERDICT",
                     "--fuzzer", "FIGURES")
        elapsed = time.monotonic() - start
        self.assertEqual(p.returncode, 1, p.stderr)  # critical exec fuzzers failed
        st = statuses(self.report(rep))
        self.assertEqual(st[("IGNORE_TERM", "default")][0], "timeout")
        self.assertEqual(st[("CHILD_IGNORES", "default")][0], "timeout")
        self.assertEqual(st[("SETSID_CHILD", "default")][0], "timeout")
        self.assertEqual(st[("SETSID_DAEMON", "default")][0], "pass")
        self.assertEqual(st[("SLEEPER", "default")][0], "timeout")
        segv_status, segv = st[("SEGV", "default")]
        self.assertEqual(segv_status, "error")
        self.assertEqual(segv["signal"], 11)
        self.assertIn("signal 11", segv["summary"])
        self.assertEqual(st[("VERDICT", "0")][0], "pass")
        self.assertEqual(st[("VERDICT", "1")][0], "fail")
        self.assertEqual(st[("VERDICT", "7")][0], "error")
        fig = st[("FIGURES", "default")][1]["record"]
        self.assertEqual((fig["count"], fig["findings"]), (42, 0))
        self.assertEqual(st[("FIGURES", "default")][1]["summary"], "checked 42")
        # Stopped within timeout + grace (+ slack for a loaded machine), not hung.
        self.assertLess(elapsed, 60)
        # No process of any task is left, also those that called setsid.
        self.assertEqual(cfotest.processes_with(TOKEN), [])
        # Each record carries what reproduces it from the worktree root.
        rec = st[("VERDICT", "7")][1]["record"]
        self.assertEqual(rec["command"], "./fz/verdict.sh 7")
        self.assertEqual(rec["commit"], self.sha)
        self.assertEqual(rec["branch"], "main")
        # The log of a task holds its output; JUnit names failures and errors.
        with open(os.path.join(self.tmp.path, "logs", "VERDICT", "main", "7.log")) as f:
            self.assertIn("target 7", f.read())
        suites = {s.get("name"): s for s in ET.parse(junit).getroot()}
        self.assertEqual(suites["VERDICT"].get("tests"), "3")
        self.assertEqual(suites["VERDICT"].get("failures"), "1")
        self.assertEqual(suites["VERDICT"].get("errors"), "1")
        self.assertIn("Not passed:", p.stdout)

    def test_daemon_that_clears_its_environment_ends_with_its_task(self):
        rep = os.path.join(self.tmp.path, "report.json")
        env = {"DAEMON_PIDFILE": os.path.join(self.tmp.path, "daemon.pid")}
        p = run([binary("cfo"), "--repo", self.repo, "--workdir",
                 os.path.join(self.tmp.path, "work"), "--concurrency", "2", "--report", rep,
                 "--fuzzer", "ENV_DAEMON", "--fuzzer", "DAEMON_WATCH"],
                cwd=self.tmp.path, env=env, timeout=300)
        if "tasks run in cgroups of their own" not in p.stderr:
            # Beside another task, only a cgroup tells whose the daemon is.
            self.assertEqual(cfotest.processes_with(TOKEN + "6"), [])
            self.skipTest("no writable cgroup v2: " + p.stderr[:300])
        st = statuses(self.report(rep))
        self.assertEqual(st[("ENV_DAEMON", "default")][0], "pass")
        watch_status, watch = st[("DAEMON_WATCH", "default")]
        self.assertEqual(watch_status, "pass", watch["output_tail"])
        self.assertIn("ended with its task", watch["output_tail"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(cfotest.processes_with(TOKEN), [])

    def test_flood_of_output_neither_blocks_nor_exhausts_memory(self):
        rep = os.path.join(self.tmp.path, "report.json")
        p = self.cfo("--fuzzer", "FLOOD", "--report", rep, "--task-timeout", "5m", timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr)
        st = statuses(self.report(rep))
        status, task = st[("FLOOD", "default")]
        self.assertEqual(status, "pass")
        self.assertTrue(task["output_tail"].endswith("done\n"))
        self.assertLessEqual(len(task["output_tail"]), 16384)

    def test_budget_cancels_and_cancelled_tasks_are_never_merged(self):
        rep = os.path.join(self.tmp.path, "report.json")
        p = self.cfo("--fuzzer", "CHILD_IGNORES", "--fuzzer", "VERDICT", "--concurrency", "1",
                     "--budget", "2s", "--task-timeout", "1h", "--grace", "200ms",
                     "--upload", "--report", rep)
        report = self.report(rep)
        st = statuses(report)
        self.assertEqual(st[("CHILD_IGNORES", "default")][0], "cancelled")
        for target in "017":
            self.assertEqual(st[("VERDICT", target)][0], "cancelled")
        self.assertEqual(report["totals"]["cancelled"], 4)
        # Critical tasks were cut: the run proves nothing about them.
        self.assertEqual(p.returncode, 4, p.stderr)
        with open(os.path.join(self.tmp.path, "data.json")) as f:
            self.assertEqual(json.load(f)["records"], [])
        self.assertEqual(cfotest.processes_with(TOKEN), [])

    def test_dry_run_prints_tasks_and_runs_nothing(self):
        p = self.cfo("--dry-run", "--fuzzer", "VERDICT", "--fuzzer", "SLEEPER", check=0)
        lines = p.stdout.strip().split("\n")
        self.assertEqual(lines, ["SLEEPER\tmain\t%s\tdefault" % self.sha] +
                         ["VERDICT\tmain\t%s\t%s" % (self.sha, t) for t in "017"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp.path, "data.json")))
        self.assertEqual(cfotest.processes_with(TOKEN), [])

    def test_upload_writes_records_and_without_it_nothing_is_written(self):
        data = os.path.join(self.tmp.path, "data.json")
        self.cfo("--fuzzer", "VERDICT", check=1)
        self.assertFalse(os.path.exists(data))
        self.cfo("--fuzzer", "VERDICT", "--upload", check=1)
        with open(data) as f:
            doc = json.load(f)
        self.assertEqual(doc["version"], 2)
        recs = {r["target"]: r for r in doc["records"]}
        self.assertEqual(sorted(recs), ["0", "1", "7"])
        self.assertEqual([recs[t]["ok"] for t in "017"], [True, False, False])
        for r in doc["records"]:
            self.assertEqual(r["commit"], self.sha)
            self.assertEqual(r["attempt"], 1)
            self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
            self.assertTrue(r["run"])

    def test_github_step_summary_is_written_when_asked(self):
        summary = os.path.join(self.tmp.path, "summary.md")
        p = run([binary("cfo"), "--repo", self.repo, "--fuzzer", "VERDICT", "--workdir",
                 os.path.join(self.tmp.path, "work")], cwd=self.tmp.path,
                env={"GITHUB_STEP_SUMMARY": summary})
        self.assertEqual(p.returncode, 1)
        with open(summary) as f:
            md = f.read()
        self.assertIn("VERDICT", md)
        self.assertIn("./fz/verdict.sh 7", md)  # how to reproduce the error
        self.assertIn("|", md)  # the per-fuzzer table

    def test_bad_input_gets_one_clear_line_and_the_right_exit(self):
        cases = [
            (["--budget", "soon"], 2, "invalid duration"),
            (["--concurrency", "0"], 2, "invalid number"),
            (["--fuzzer", "NOPE"], 2, "unknown fuzzer 'NOPE'"),
            (["--bogus"], 2, "--bogus"),
            (["--dataset", "ftp://x/y"], 2, "ftp://x/y"),
            (["--log-format", "xml"], 2, "--log-format must be text or json"),
            (["--heartbeat", "1ms"], 2, "--heartbeat must be between"),
            (["--heartbeat", "soon"], 2, "invalid duration"),
            (["--grace", "-1s"], 2, "invalid duration"),
            (["--schedule", "lifo"], 2, "--schedule must be history or fifo"),
            (["--resume-upload-only", "--upload"], 2, "needs --state-dir and --upload"),
            (["--changed-since", "--dry-run"], 2, "invalid --changed-since"),
        ]
        for args, code, message in cases:
            p = self.cfo(*args)
            self.assertEqual(p.returncode, code, (args, p.stderr))
            self.assertIn(message, p.stderr, args)
        p = run([binary("cfo"), "--repo", self.tmp.path, "--dry-run"], cwd=self.tmp.path)
        self.assertEqual(p.returncode, 2)
        self.assertIn("is not a git repository", p.stderr)

    def test_unknown_branch_is_a_configuration_error(self):
        with open(os.path.join(self.repo, "cfo.ini"), "a") as f:
            f.write('\n[fuzzer "ELSEWHERE"]\nkind = exec\nbranches = main no-such-branch\n'
                    'run = ./fz/verdict.sh 0\n')
        p = self.cfo("--dry-run", "--fuzzer", "ELSEWHERE")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("branch 'no-such-branch' does not exist", p.stderr)

    def test_failing_discovery_is_a_harness_error(self):
        with open(os.path.join(self.repo, "cfo.ini"), "a") as f:
            f.write('\n[fuzzer "LISTLESS"]\nkind = exec\ndiscover = ./fz/list_fails.sh\n'
                    'run = ./fz/verdict.sh {target}\n')
        git(self.repo, "commit", "-qam", "add LISTLESS")
        p = self.cfo("--dry-run", "--fuzzer", "LISTLESS")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("discovery of LISTLESS on branch main failed", p.stderr)

    def test_malformed_config_names_the_line(self):
        with open(os.path.join(self.repo, "cfo.ini"), "w") as f:
            f.write('[cfo]\nbudget = 1h\n\n[fuzzer "X"]\nkind = exec\nrunn = ./x\nrun = ./y\n')
        p = self.cfo("--dry-run")
        self.assertEqual(p.returncode, 2)
        self.assertRegex(p.stderr, r"cfo\.ini:6: .*runn")

    def test_corrupt_dataset_is_never_overwritten(self):
        data = os.path.join(self.tmp.path, "data.json")
        with open(data, "w") as f:
            f.write('{"version": 1, "records": [{"commit": ')
        before = open(data).read()
        p = self.cfo("--fuzzer", "VERDICT", "--upload")
        self.assertEqual(p.returncode, 3)
        self.assertIn(data, p.stderr)
        self.assertEqual(open(data).read(), before)


class HistoryOrder(unittest.TestCase):
    """--schedule history: failing targets first, then new ones, then the
    longest expected first; a budget too small runs the first ones."""

    ORDER = ["f", "a", "b", "e", "d", "c"]

    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        sha = cfotest.make_repo(self.repo, {
            "cfo.ini": '[fuzzer "ORDERED"]\nkind = exec\nneeds_working_dir = false\n'
                       'discover = ./fz/list.sh\nrun = ./fz/slow.sh {target}\n',
            "fz/list.sh": ("#!/bin/sh\nprintf 'a\\nb\\nc\\nd\\ne\\nf\\n'\n", 0o755),
            "fz/slow.sh": ("#!/bin/sh\nsleep 1\n", 0o755)})
        # History: f failed last; e, d, c passed taking 9, 5, 1 s; a, b never ran.
        old = "1" * 40
        recs = []
        for target, ok, duration, t in [("f", True, 1, "10"), ("f", False, 1, "11"),
                                        ("e", True, 9, "10"), ("d", True, 5, "10"),
                                        ("c", True, 1, "10")]:
            recs.append({"commit": old, "fuzzer": "ORDERED", "ok": ok, "count": 1,
                         "branch": "main", "target": target, "duration": duration,
                         "command": "./fz/slow.sh " + target,
                         "time": "2026-11-20T%s:00:00Z" % t, "run": "run-" + t, "attempt": 1})
        with open(os.path.join(self.tmp.path, "old.json"), "w") as f:
            json.dump(recs, f)
        self.data = "file://" + os.path.join(self.tmp.path, "data.json")
        run([binary("cfo-dataset"), "merge", "--into", self.data,
             os.path.join(self.tmp.path, "old.json")], cwd=self.tmp.path, check=0)
        self.sha = sha

    def tearDown(self):
        self.tmp.cleanup()

    def cfo(self, *args):
        return run([binary("cfo"), "--repo", self.repo, "--dataset", self.data, "--workdir",
                    os.path.join(self.tmp.path, "w"), *args], cwd=self.tmp.path)

    def test_dry_run_shows_the_history_order(self):
        p = self.cfo("--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([ln.split("\t")[3] for ln in p.stdout.strip().split("\n")],
                         self.ORDER)
        p = self.cfo("--dry-run", "--schedule", "fifo")
        self.assertEqual([ln.split("\t")[3] for ln in p.stdout.strip().split("\n")],
                         sorted(self.ORDER))
        p = self.cfo("--dry-run", "--schedule", "random")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--schedule must be history or fifo", p.stderr)

    def test_budget_too_small_runs_the_first_ones_and_reports_the_rest(self):
        rep = os.path.join(self.tmp.path, "report.json")
        p = self.cfo("--concurrency", "1", "--budget", "2500ms", "--grace", "200ms",
                     "--report", rep)
        self.assertIn(p.returncode, (1, 4), p.stderr)
        with open(rep) as f:
            tasks = json.load(f)["tasks"]
        self.assertEqual([t["record"]["target"] for t in tasks], self.ORDER)
        ran = [t["record"]["status"] != "cancelled" for t in tasks]
        # The failing target ran first; what ran is a prefix of the order.
        self.assertTrue(ran[0], tasks[0])
        self.assertEqual(ran, sorted(ran, reverse=True))
        self.assertFalse(ran[-1])
        for t in tasks:
            if t["record"]["status"] == "cancelled":
                self.assertRegex(t["summary"], r"not started|deadline|budget")


class BudgetShares(unittest.TestCase):
    """budget_share caps a fuzzer's slot time while another still has work:
    BIG's tasks come first in task order and would fill the whole budget
    alone; with a 25% share, SMALL gets the rest."""

    def run_with(self, big_share):
        tmp = cfotest.TempDir()
        try:
            repo = os.path.join(tmp.path, "repo")
            share = "budget_share = %s\n" % big_share if big_share else ""
            cfotest.make_repo(repo, {
                "cfo.ini": '[fuzzer "BIG"]\nkind = exec\nneeds_working_dir = false\n'
                           'discover = ./fz/list.sh\nrun = ./fz/task.sh {target}\n' + share +
                           '[fuzzer "SMALL"]\nkind = exec\nneeds_working_dir = false\n'
                           'discover = ./fz/list.sh\nrun = ./fz/task.sh {target}\n',
                "fz/list.sh": ("#!/bin/sh\nfor i in $(seq 10 49); do echo t$i; done\n", 0o755),
                "fz/task.sh": ("#!/bin/sh\nsleep 0.2\n", 0o755)})
            rep = os.path.join(tmp.path, "report.json")
            p = run([binary("cfo"), "--repo", repo, "--dataset",
                     "file://" + os.path.join(tmp.path, "data.json"), "--schedule", "fifo",
                     "--concurrency", "1", "--budget", "4s", "--grace", "200ms",
                     "--report", rep], cwd=tmp.path)
            self.assertIn(p.returncode, (1, 4), p.stderr)
            with open(rep) as f:
                tasks = json.load(f)["tasks"]
            ran = {"BIG": [], "SMALL": []}
            for t in tasks:
                r = t["record"]
                if r["status"] != "cancelled":
                    ran[r["fuzzer"]].append(r["duration"])
            return ran
        finally:
            tmp.cleanup()

    def test_a_share_caps_a_fuzzer_that_would_take_everything(self):
        alone = self.run_with(None)
        self.assertGreater(len(alone["BIG"]), 0)
        self.assertEqual(alone["SMALL"], [], "without a share BIG fills the budget first")
        shared = self.run_with("25%")
        self.assertGreater(len(shared["SMALL"]), 0, shared)
        self.assertGreater(len(shared["BIG"]), 0, shared)
        # 25% of 4 s of one slot, plus what was already out when it was spent
        # (one running and one prefetched task).
        longest = max(shared["BIG"] + shared["SMALL"])
        self.assertLessEqual(sum(shared["BIG"]), 1.0 + 2 * longest + 0.2, shared)


class CanaryHarness(unittest.TestCase):
    """Exit 3 when the canary does not fail: a runner that passes everything."""

    def test_a_canary_that_passes_is_a_harness_failure(self):
        tmp = cfotest.TempDir()
        try:
            bindir = os.path.join(tmp.path, "bin")
            os.makedirs(bindir)
            # cfo finds cfo-fuzz beside its own executable, so a copy of cfo
            # beside a runner that always passes runs a canary that passes.
            shutil.copy(binary("cfo"), os.path.join(bindir, "cfo"))
            cfotest.write_files(bindir, {"cfo-fuzz": (
                "#!/bin/sh\nfor a; do last=$a; done\n"
                "if [ \"$last\" = --discover ]; then echo canary; fi\nexit 0\n", 0o755)})
            repo = os.path.join(tmp.path, "repo")
            cfotest.make_repo(repo, {"cfo.ini": '[fuzzer "CANARY"]\nkind = canary\n'})
            p = run([os.path.join(bindir, "cfo"), "--repo", repo, "--workdir",
                     os.path.join(tmp.path, "w")], cwd=tmp.path)
            self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
            self.assertIn("canary", p.stdout)
            # The real canary fails, and the run passes.
            p = run([binary("cfo"), "--repo", repo, "--workdir", os.path.join(tmp.path, "w")],
                    cwd=tmp.path)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("canary failed as it must", p.stdout)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    cfotest.main()
