"""cfo-coordinator and cfo-worker as real processes on loopback: every task's
record exactly once, whatever happens to the workers or the coordinator."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run, wait_for  # noqa: E402

HB = "300ms"  # heartbeat: a peer silent for 900 ms is dead

# A task script: the first run of target "a-victim" (sorted first) marks itself (its worker's
# pid and its own) and sleeps; every other run, and a later attempt, is quick.
RUN_SH = """#!/bin/sh
t="$1"
mark="$MARKS/$t"
: > "$MARKS/start.$t.$$"
if [ "$t" = a-poison ]; then
  kill -9 "$PPID"  # takes its worker down with it, every time
  exit 0
fi
if [ "$t" = a-victim ] && mkdir "$mark.lock" 2>/dev/null; then
  if [ -n "$VICTIM_DAEMON" ]; then
    # A daemon that clears its environment and leaves the task's group.
    env -i /bin/sh -c "setsid /bin/sh -c 'exec sleep $VICTIM_DAEMON' </dev/null >/dev/null 2>&1 &"
  fi
  echo "$PPID $$" > "$mark.tmp" && mv "$mark.tmp" "$mark"
  sleep "${VICTIM_SLEEP:-60}"
  exit 0
fi
sleep "${TASK_SLEEP:-0.1}"
echo "ran $t"
"""

LIST_SH = """#!/bin/sh
i=1
while [ $i -le "${NTASKS:-12}" ]; do echo "t$i"; i=$((i+1)); done
[ -n "$WITH_VICTIM" ] && echo a-victim
[ -n "$WITH_POISON" ] && echo a-poison
exit 0
"""

CONFIG = """
[fuzzer "SEQ"]
kind = exec
discover = ./fz/list.sh
run = ./fz/run.sh {target}

[fuzzer "OTHER"]
kind = exec
run = ./fz/run.sh other
"""


free_port = cfotest.free_port


def group_alive(pgid):
    """Pids of the process group pgid that have not ended."""
    alive = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(name))
    return alive


def pid_alive(pid):
    """Whether pid is a process that has not ended (a zombie has)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class Cluster:
    """One scratch repository, a coordinator and workers as child processes."""

    def __init__(self, env=None):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {"fz/run.sh": (RUN_SH, 0o755),
                                      "fz/list.sh": (LIST_SH, 0o755),
                                      "cfo.ini": CONFIG})
        self.marks = os.path.join(self.tmp.path, "marks")
        os.makedirs(self.marks)
        self.data = os.path.join(self.tmp.path, "data.json")
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.env = dict(os.environ, MARKS=self.marks, **(env or {}))
        self.procs = []

    def spawn(self, name, argv, env=None):
        log = open(os.path.join(self.tmp.path, name + ".log"), "w")
        p = subprocess.Popen(argv, cwd=self.tmp.path, env=dict(self.env, **(env or {})),
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        p.log_path = log.name
        self.procs.append(p)
        return p

    def coordinator(self, *args, name="coordinator", env=None):
        return self.spawn(name, [binary("cfo-coordinator"), "--repo", self.repo,
                                 "--bind", self.endpoint, "--heartbeat", HB,
                                 "--dataset", "file://" + self.data, "--upload",
                                 "--workdir", os.path.join(self.tmp.path, "cwork"),
                                 "--report", os.path.join(self.tmp.path, name + ".json"),
                                 "--wait-workers", "60s", "--grace", "300ms", *args], env=env)

    def worker(self, wid, *args, env=None):
        return self.spawn(wid, [binary("cfo-worker"), "--connect", self.endpoint, "--id", wid,
                                "--repo", self.repo, "--heartbeat", HB, "--grace", "300ms",
                                "--workdir", os.path.join(self.tmp.path, "w-" + wid), *args],
                          env=env)

    def log(self, name):
        with open(os.path.join(self.tmp.path, name + ".log")) as f:
            return f.read()

    def wait(self, p, timeout=120):
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit; its log:\n%s" % (
                p.args[0], open(p.log_path).read()[-3000:]))

    def records(self):
        with open(self.data) as f:
            return json.load(f)["records"]

    def mark(self, target="a-victim"):
        """(worker pid, task pid) written by the first run of target."""
        path = os.path.join(self.marks, target)

        def read():
            try:
                with open(path) as f:
                    return tuple(int(x) for x in f.read().split())
            except (OSError, ValueError):
                return None
        return wait_for(read, 60, "the first run of " + target)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        self.tmp.cleanup()


def once_each(test, records, expected_targets):
    keys = [(r["fuzzer"], r["target"]) for r in records]
    test.assertEqual(sorted(keys), sorted(expected_targets))
    test.assertEqual(len(keys), len(set(keys)), "a task was recorded twice")


SEQ = [("SEQ", "t%d" % i) for i in range(1, 13)]


class Distributed(unittest.TestCase):
    def setUp(self):
        self.c = None

    def tearDown(self):
        if self.c is not None:
            self.c.close()

    def test_three_workers_run_a_task_set_to_the_end(self):
        self.c = c = Cluster({"NTASKS": "30", "TASK_SLEEP": "0.2"})
        coord = c.coordinator()
        workers = [c.worker("w%d" % i, "--slots", "1") for i in range(3)]
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        for w in workers:
            self.assertEqual(c.wait(w, 30), 0)
        recs = c.records()
        once_each(self, recs, [("SEQ", "t%d" % i) for i in range(1, 31)] + [("OTHER", "default")])
        by_worker = {}
        for r in recs:
            by_worker[r["worker"]] = by_worker.get(r["worker"], 0) + 1
            self.assertTrue(r["ok"])
        self.assertEqual(sorted(by_worker), ["w0", "w1", "w2"])
        self.assertIn("worker w0 ran", c.log("coordinator"))

    def test_worker_killed_mid_task_its_task_runs_elsewhere_once(self):
        daemon = "61.%d" % (os.getpid() % 100000)
        self.c = c = Cluster({"WITH_VICTIM": "1", "VICTIM_DAEMON": daemon})
        coord = c.coordinator()
        a = c.worker("a", "--slots", "1")
        b = c.worker("b", "--slots", "1")
        worker_pid, task_pid = c.mark()
        wait_for(lambda: cfotest.processes_with("sleep " + daemon), 30, "the task's daemon")
        victim_worker = "a" if worker_pid == a.pid else "b"
        in_cgroups = "tasks run in cgroups of their own" in c.log(victim_worker)
        os.kill(worker_pid, signal.SIGKILL)
        # The task's leader goes with its worker (PR_SET_PDEATHSIG), the rest
        # of its process group with the worker's watchdog (which ends the
        # task's cgroup, or, without cgroups, its process group)...
        wait_for(lambda: not pid_alive(task_pid), 5, "the task leader to die with its worker")
        wait_for(lambda: not group_alive(task_pid), 5, "the task's processes to die with it")
        # ... and, where tasks get cgroups, the daemon that left the group.
        if in_cgroups:
            wait_for(lambda: not cfotest.processes_with("sleep " + daemon), 5,
                     "the task's daemon to die with its worker")
        else:
            print("no writable cgroup v2: the daemon outlives its killed worker", flush=True)
            for pid, _ in cfotest.processes_with("sleep " + daemon):
                os.kill(pid, signal.SIGKILL)
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        recs = c.records()
        once_each(self, recs, SEQ + [("SEQ", "a-victim"), ("OTHER", "default")])
        victim = [r for r in recs if r["target"] == "a-victim"][0]
        self.assertEqual(victim["attempt"], 2)
        self.assertNotEqual(victim["worker"], victim_worker)
        self.assertTrue(victim["ok"])
        # Noticed by its silence, or by its connection gone when a task
        # (one to wait behind its running one) was sent to it.
        self.assertRegex(c.log("coordinator"),
                         "worker %s (went silent|cannot be reached)" % victim_worker)

    def test_stopped_worker_late_result_is_discarded(self):
        self.c = c = Cluster({"WITH_VICTIM": "1", "VICTIM_SLEEP": "2", "NTASKS": "40",
                              "TASK_SLEEP": "0.3"})
        coord = c.coordinator()
        a = c.worker("a", "--slots", "1")
        b = c.worker("b", "--slots", "1")
        worker_pid, _ = c.mark()
        stopped = "a" if worker_pid == a.pid else "b"
        os.kill(worker_pid, signal.SIGSTOP)
        # Past the liveness limit the coordinator gives its task to the other.
        wait_for(lambda: "worker %s went silent" % stopped in c.log("coordinator"), 30,
                 "the coordinator to declare the stopped worker dead")
        os.kill(worker_pid, signal.SIGCONT)
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        recs = c.records()
        once_each(self, recs, [("SEQ", "t%d" % i) for i in range(1, 41)] +
                  [("SEQ", "a-victim"), ("OTHER", "default")])
        # Recorded once, from attempt 2: the late result of attempt 1 was
        # discarded. (Attempt 2 may well run on the continued worker itself.)
        victim = [r for r in recs if r["target"] == "a-victim"][0]
        self.assertEqual(victim["attempt"], 2)
        # The continued worker came back and re-offered its stale result.
        self.assertRegex(c.log("coordinator"), r"worker %s joined: .* [1-9]\d* results? re-offered"
                         % stopped)

    def test_coordinator_restarted_workers_reconnect(self):
        self.c = c = Cluster({"WITH_VICTIM": "1", "VICTIM_SLEEP": "60"})
        first = c.coordinator(name="first")
        w = [c.worker("a", "--slots", "2"), c.worker("b", "--slots", "2")]
        c.mark()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        # The a-victim's first run holds its marker: the new run's a-victim is quick.
        second = c.coordinator(name="second")
        self.assertEqual(c.wait(second), 0, c.log("second"))
        for p in w:
            self.assertEqual(c.wait(p, 30), 0)
        once_each(self, c.records(), SEQ + [("SEQ", "a-victim"), ("OTHER", "default")])
        # Each worker went on to serve the second run on its own.
        runs = re.findall(r"connected to \S+ \(run (\S+)\)", c.log("a"))
        self.assertGreaterEqual(len(set(runs)), 2, c.log("a"))

    def test_late_worker_gets_work(self):
        self.c = c = Cluster({"NTASKS": "16", "TASK_SLEEP": "0.4"})
        coord = c.coordinator()
        c.worker("early", "--slots", "1")
        wait_for(lambda: "worker early joined" in c.log("coordinator"), 30, "the first worker")
        c.worker("late", "--slots", "1")
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        workers = {r["worker"] for r in c.records()}
        self.assertEqual(workers, {"early", "late"})

    def test_worker_without_a_fuzzer_never_receives_its_tasks(self):
        self.c = c = Cluster({"NTASKS": "10"})
        only_seq = os.path.join(c.tmp.path, "only-seq.ini")
        with open(only_seq, "w") as f:
            f.write('[fuzzer "SEQ"]\nkind = exec\ndiscover = ./fz/list.sh\n'
                    'run = ./fz/run.sh {target}\n')
        coord = c.coordinator()
        c.worker("narrow", "--slots", "2", "--config", only_seq)
        c.worker("full", "--slots", "1")
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        recs = c.records()
        other = [r for r in recs if r["fuzzer"] == "OTHER"]
        self.assertEqual([r["worker"] for r in other], ["full"])

    def test_no_worker_is_a_harness_failure(self):
        self.c = c = Cluster()
        coord = c.spawn("coordinator", [binary("cfo-coordinator"), "--repo", c.repo,
                                        "--bind", c.endpoint, "--wait-workers", "1s",
                                        "--dataset", "file://" + c.data, "--upload",
                                        "--workdir", os.path.join(c.tmp.path, "cwork")])
        self.assertEqual(c.wait(coord, 60), 3)
        self.assertIn("no worker connected", c.log("coordinator"))
        # Nothing ran, so nothing was merged.
        self.assertEqual(c.records(), [])

    def test_worker_sigterm_cancels_and_leaves(self):
        self.c = c = Cluster({"WITH_VICTIM": "1", "NTASKS": "0"})
        coord = c.coordinator("--fuzzer", "SEQ")
        a = c.worker("a", "--slots", "1")
        c.mark()
        a.send_signal(signal.SIGTERM)
        self.assertEqual(c.wait(a, 30), 0)
        self.assertIn("stop requested", c.log("a"))
        # Its task was reported cancelled, re-run elsewhere once a worker comes.
        c.worker("b", "--slots", "1")
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        once_each(self, c.records(), [("SEQ", "a-victim")])

    def test_poison_task_is_given_up_after_four_dead_workers(self):
        self.c = c = Cluster({"WITH_POISON": "1", "NTASKS": "6"})
        coord = c.coordinator()
        for i in range(5):
            c.worker("w%d" % i, "--slots", "1")
        self.assertEqual(c.wait(coord), 1, c.log("coordinator"))
        recs = c.records()
        once_each(self, recs, [("SEQ", "t%d" % i) for i in range(1, 7)] +
                  [("SEQ", "a-poison"), ("OTHER", "default")])
        poison = [r for r in recs if r["target"] == "a-poison"][0]
        self.assertEqual(poison["status"], "error")
        self.assertEqual(poison["attempt"], 4)
        self.assertIn("giving up", c.log("coordinator"))

    def test_worker_fetches_a_commit_it_lacks(self):
        self.c = c = Cluster({"NTASKS": "3"})
        origin = os.path.join(c.tmp.path, "origin.git")
        cfotest.git(c.tmp.path, "clone", "-q", "--bare", c.repo, origin)
        clone = os.path.join(c.tmp.path, "clone")
        cfotest.git(c.tmp.path, "clone", "-q", origin, clone)
        # The coordinator's repository moves on; the worker's clone does not.
        with open(os.path.join(c.repo, "NEWS"), "w") as f:
            f.write("new\n")
        cfotest.git(c.repo, "add", "NEWS")
        cfotest.git(c.repo, "commit", "-qm", "news")
        cfotest.git(c.repo, "push", "-q", origin, "main")
        head = cfotest.git(c.repo, "rev-parse", "HEAD")
        coord = c.coordinator()
        c.spawn("w", [binary("cfo-worker"), "--connect", c.endpoint, "--id", "w",
                      "--repo", clone, "--heartbeat", HB,
                      "--workdir", os.path.join(c.tmp.path, "w-w")])
        self.assertEqual(c.wait(coord), 0, c.log("coordinator") + c.log("w"))
        recs = c.records()
        self.assertEqual(len(recs), 4)
        self.assertTrue(all(r["commit"] == head and r["ok"] for r in recs))

    def test_bad_usage(self):
        p = run([binary("cfo-worker")])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--connect ENDPOINT is required", p.stderr)
        p = run([binary("cfo-worker"), "--connect", "tcp://127.0.0.1:1", "--id", "bad id"])
        self.assertEqual(p.returncode, 2)
        p = run([binary("cfo-coordinator"), "--save-logs", "x"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("not one of cfo-coordinator's", p.stderr)
        p = run([binary("cfo"), "--bind", "tcp://127.0.0.1:1"])
        self.assertEqual(p.returncode, 2)
        for args, message in [(["--prefetch", "many"], "invalid number"),
                              (["--prefetch", "65"], "invalid number"),
                              (["--wait-workers", "0s"], "invalid duration"),
                              (["--allow-dir", "/tmp"], "go together")]:
            p = run([binary("cfo-coordinator"), *args])
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(message, p.stderr, args)
        for args, message in [(["--slots", "0"], "invalid number"),
                              (["--heartbeat", "2m"], "--heartbeat must be between"),
                              (["--server-key", "/nonexistent"], "go together")]:
            p = run([binary("cfo-worker"), "--connect", "tcp://127.0.0.1:1", *args])
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(message, p.stderr, args)
        for prog in ("cfo-worker", "cfo-coordinator"):
            p = run([binary(prog), "--help"], check=0)
            self.assertIn("usage: " + prog, p.stdout)


if __name__ == "__main__":
    cfotest.main()
