"""Chaos: real processes on loopback, faults injected at random and at the
narrowest windows, and each case checks the final dataset record by record
against the task set: every task recorded exactly once (or reported
cancelled/error with a reason), no record merged twice, the dataset valid
JSON. Each case prints a summary line with its figures."""

import json
import os
import random
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cfotest  # noqa: E402
from cfotest import binary, run, wait_for  # noqa: E402
from test_distributed import Cluster  # noqa: E402
from gcs_fixture import FakeGCS  # noqa: E402

SEED = int(os.environ.get("CFO_CHAOS_SEED", "20261121"))


def started(c):
    return sum(1 for n in os.listdir(c.marks) if n.startswith("start."))


def expected(n):
    return [("SEQ", "t%d" % i) for i in range(1, n + 1)] + [("OTHER", "default")]


def check_once(test, records, tasks):
    """Every task exactly once; returns the records by task."""
    keys = [(r["fuzzer"], r["target"]) for r in records]
    dups = {k for k in keys if keys.count(k) > 1}
    test.assertEqual(dups, set(), "recorded twice")
    test.assertEqual(sorted(keys), sorted(tasks))
    return {(r["fuzzer"], r["target"]): r for r in records}


def summary(case, **figures):
    # On its own line, whatever unittest has written on the current one.
    print("\nchaos %s: %s" % (case, ", ".join("%s=%s" % kv for kv in figures.items())),
          flush=True)


class Chaos(unittest.TestCase):
    def setUp(self):
        self.rng = random.Random(SEED)
        self.c = None

    def tearDown(self):
        if self.c is not None:
            self.c.close()

    def test_workers_killed_at_random_points_of_a_200_task_run(self):
        self.c = c = Cluster({"NTASKS": "200", "TASK_SLEEP": "0.05"})
        coord = c.coordinator("--state-dir", os.path.join(c.tmp.path, "state"))
        workers = {"w%d" % i: c.worker("w%d" % i, "--slots", "2") for i in range(3)}
        kills = 0
        for k in range(10):
            threshold = 15 * (k + 1) + self.rng.randrange(10)
            wait_for(lambda: started(c) >= threshold or coord.poll() is not None, 120,
                     "%d tasks to start" % threshold)
            if coord.poll() is not None:
                break
            name = self.rng.choice(sorted(workers))
            os.kill(workers.pop(name).pid, signal.SIGKILL)
            kills += 1
            fresh = "r%d" % k
            workers[fresh] = c.worker(fresh, "--slots", "2")
        self.assertEqual(c.wait(coord, 300), 0, c.log("coordinator")[-3000:])
        recs = check_once(self, c.records(), expected(200))
        retried = sum(1 for r in recs.values() if r["attempt"] > 1)
        self.assertTrue(all(r["ok"] for r in recs.values()))
        self.assertGreaterEqual(kills, 5)
        summary("worker-kill", tasks=len(recs), workers_killed=kills, retried_tasks=retried,
                recorded_once="yes")

    def test_coordinator_killed_and_resumed_from_its_state_dir(self):
        self.c = c = Cluster({"NTASKS": "120", "TASK_SLEEP": "0.05"})
        state = os.path.join(c.tmp.path, "state")
        workers = [c.worker("w%d" % i, "--slots", "2") for i in range(2)]
        restarts = 0
        # Crash right between commit and ACK, at several points, then once at
        # an arbitrary moment with SIGKILL; each time start again from the
        # same state dir.
        for n, after in enumerate((1, 17, 45)):
            coord = c.coordinator("--state-dir", state, name="coord%d" % n,
                                  env={"CFO_TEST_CRASH_AFTER_COMMITS": str(after)})
            code = c.wait(coord, 120)
            if code == 0:
                break
            self.assertEqual(code, 137, c.log("coord%d" % n))
            restarts += 1
        coord = c.coordinator("--state-dir", state, name="coord-kill")
        threshold = started(c) + 10
        wait_for(lambda: started(c) >= threshold or coord.poll() is not None, 120, "progress")
        if coord.poll() is None:
            os.kill(coord.pid, signal.SIGKILL)
            coord.wait()
            restarts += 1
        final = c.coordinator("--state-dir", state, name="final")
        self.assertEqual(c.wait(final, 300), 0, c.log("final")[-3000:])
        self.assertIn("resuming run", c.log("final"))
        recs = check_once(self, c.records(), expected(120))
        self.assertEqual(len({r["run"] for r in recs.values()}), 1)  # one run, resumed
        for w in workers:
            self.assertEqual(c.wait(w, 60), 0)
        summary("coordinator-kill", tasks=len(recs), restarts=restarts, runs=1,
                recorded_once="yes")

    def test_partitions_shorter_and_longer_than_the_liveness_limit(self):
        self.c = c = Cluster({"NTASKS": "60", "TASK_SLEEP": "0.1"})
        coord = c.coordinator()
        victim = c.worker("victim", "--slots", "1")
        c.worker("steady", "--slots", "1")
        wait_for(lambda: started(c) >= 10, 60, "10 tasks")
        os.kill(victim.pid, signal.SIGSTOP)
        time.sleep(0.2)  # the fault itself: shorter than 3 heartbeats of 300 ms
        os.kill(victim.pid, signal.SIGCONT)
        wait_for(lambda: started(c) >= 25, 60, "25 tasks")
        os.kill(victim.pid, signal.SIGSTOP)
        wait_for(lambda: "worker victim went silent" in c.log("coordinator"), 30,
                 "the long partition to be noticed")
        os.kill(victim.pid, signal.SIGCONT)
        self.assertEqual(c.wait(coord, 120), 0, c.log("coordinator")[-3000:])
        log = c.log("coordinator")
        self.assertEqual(log.count("worker victim went silent"), 1)  # the short one did not count
        recs = check_once(self, c.records(), expected(60))
        summary("partition", tasks=len(recs), short_ms=200, long="past liveness",
                declared_dead=1, recorded_once="yes")

    def test_poison_task_that_kills_every_worker(self):
        self.c = c = Cluster({"NTASKS": "20", "WITH_POISON": "1"})
        coord = c.coordinator()
        for i in range(5):
            c.worker("w%d" % i, "--slots", "1")
        self.assertEqual(c.wait(coord, 120), 1, c.log("coordinator")[-3000:])
        recs = check_once(self, c.records(), expected(20) + [("SEQ", "a-poison")])
        poison = recs[("SEQ", "a-poison")]
        self.assertEqual((poison["status"], poison["attempt"]), ("error", 4))
        with open(os.path.join(c.tmp.path, "coordinator.json")) as f:
            report = json.load(f)
        why = [t["summary"] for t in report["tasks"] if t["record"]["target"] == "a-poison"]
        self.assertIn("died", why[0])
        summary("poison", tasks=len(recs), workers_killed=4, poison_status="error",
                recorded_once="yes")


class Stops(unittest.TestCase):
    def setUp(self):
        self.c = None

    def tearDown(self):
        if self.c is not None:
            self.c.close()

    def test_sigterm_cancels_everywhere_uploads_what_was_committed(self):
        self.c = c = Cluster({"NTASKS": "6", "WITH_VICTIM": "1", "VICTIM_SLEEP": "600"})
        state = os.path.join(c.tmp.path, "state")
        coord = c.coordinator("--state-dir", state)
        c.worker("a", "--slots", "2")
        _, task_pid = c.mark()
        # The victim holds one slot; let the other finish a few tasks first.
        wait_for(lambda: started(c) >= 5, 60, "tasks to run")
        coord.send_signal(signal.SIGTERM)
        self.assertEqual(c.wait(coord, 60), 3, c.log("coordinator")[-2000:])

        def victim_gone():
            try:
                with open("/proc/%d/stat" % task_pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True
        # The victim's process group was killed on its worker...
        wait_for(victim_gone, 30, "the victim's process to die")
        # ...and what was committed is in the dataset, the victim not.
        recs = c.records()
        self.assertGreater(len(recs), 0)
        self.assertNotIn("a-victim", [r["target"] for r in recs])
        self.assertEqual(len({(r["fuzzer"], r["target"]) for r in recs}), len(recs))
        summary("sigterm", committed_uploaded=len(recs), victim="cancelled")

    def test_second_signal_exits_at_once_with_the_journal_intact(self):
        self.c = c = Cluster({"NTASKS": "4", "WITH_VICTIM": "1", "VICTIM_SLEEP": "600"})
        state = os.path.join(c.tmp.path, "state")
        coord = c.coordinator("--state-dir", state, "--grace", "30s")
        a = c.worker("a", "--slots", "2")
        _, victim_pid = c.mark()
        wait_for(lambda: started(c) >= 4, 60, "tasks to run")
        coord.send_signal(signal.SIGTERM)
        wait_for(lambda: "cancelling" in c.log("coordinator"), 30, "the graceful stop")
        coord.send_signal(signal.SIGTERM)
        self.assertEqual(c.wait(coord, 30), 128 + signal.SIGTERM)
        # Its worker would offer the victim back to the resumed run (and the
        # run would wait for it): this machine is gone too.
        os.kill(a.pid, signal.SIGKILL)
        os.killpg(victim_pid, signal.SIGKILL)
        # Started again, the run resumes from the journal and finishes.
        os.rmdir(os.path.join(c.marks, "a-victim.lock"))
        os.unlink(os.path.join(c.marks, "a-victim"))
        c.env["VICTIM_SLEEP"] = "0"
        again = c.coordinator("--state-dir", state, name="again")
        c.worker("b", "--slots", "2")
        self.assertEqual(c.wait(again, 120), 0, c.log("again")[-2000:])
        self.assertIn("resuming run", c.log("again"))
        recs = check_once(self, c.records(), expected(4) + [("SEQ", "a-victim")])
        summary("second-signal", exit=128 + signal.SIGTERM, resumed="yes", tasks=len(recs))

    def test_unwritable_log_dir_and_full_disk_are_clear_errors(self):
        self.c = c = Cluster({"NTASKS": "40"})
        logs = os.path.join(c.tmp.path, "logs")
        with open(logs, "w") as f:
            f.write("a file, not a directory")
        p = run([binary("cfo"), "--repo", c.repo, "--save-logs", os.path.join(logs, "x"),
                 "--workdir", os.path.join(c.tmp.path, "w")], cwd=c.tmp.path, env=c.env)
        self.assertEqual(p.returncode, 3)
        self.assertIn("cannot keep logs", p.stderr)
        if os.geteuid() != 0:
            print("skipped the full-disk part: mounting a tmpfs needs root")
            return
        # A journal on a 64 KiB filesystem fills up mid-run.
        small = os.path.join(c.tmp.path, "small")
        os.makedirs(small)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small],
                                 stderr=subprocess.PIPE)
        if mounted.returncode != 0:
            print("skipped the full-disk part: cannot mount a tmpfs here")
            return
        try:
            with open(os.path.join(small, "filler"), "wb") as f:
                try:
                    f.write(b"x" * (60 * 1024))
                except OSError:
                    pass
            p = run([binary("cfo"), "--repo", c.repo, "--state-dir", os.path.join(small, "st"),
                     "--upload", "--dataset", "file://" + c.data, "--workdir",
                     os.path.join(c.tmp.path, "w2"), "--quiet"], cwd=c.tmp.path,
                    env=dict(c.env, TASK_SLEEP="0"), timeout=120)
            self.assertEqual(p.returncode, 3, p.stderr[-2000:])
            self.assertRegex(p.stderr, r"journal .*(No space left|cannot)")
        finally:
            subprocess.run(["umount", "-l", small])
        summary("disk", unwritable_logs="exit 3", full_journal="exit 3")


class StorageFaults(unittest.TestCase):
    """Upload through the gs:// backend while the storage misbehaves."""

    def setUp(self):
        self.fx = FakeGCS(buckets=["bucket"])
        self.fx.start()
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {
            "cfo.ini": '[fuzzer "SEQ"]\nkind = exec\ndiscover = ./list.sh\nrun = ./run.sh {target}\n',
            "list.sh": ("#!/bin/sh\nseq 1 8\n", 0o755),
            "run.sh": ("#!/bin/sh\nexit 0\n", 0o755)})
        self.env = {"STORAGE_EMULATOR_HOST": self.fx.url, "CFO_GCS_RETRY_BASE_MS": "20",
                    "CFO_GCS_RETRY_MAX": "4", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}

    def tearDown(self):
        self.fx.stop()
        self.tmp.cleanup()

    def cfo(self, *args):
        return run([binary("cfo"), "--repo", self.repo, "--dataset", "gs://bucket/data.json",
                    "--upload", "--state-dir", os.path.join(self.tmp.path, "state"),
                    "--workdir", os.path.join(self.tmp.path, "work"), "--quiet", *args],
                   cwd=self.tmp.path, env=self.env, timeout=300)

    def records(self):
        return json.loads(self.fx.get_object("bucket", "data.json")[0])["records"]

    def test_503s_then_412_races_then_storage_down(self):
        # A few 503s are retried; the upload lands.
        self.fx.add_fault(match="upload", status=503, count=2)
        p = self.cfo()
        self.assertEqual(p.returncode, 0, p.stderr)
        recs = check_once(self, self.records(), [("SEQ", str(i)) for i in range(1, 9)])

        # Another writer wins the race: the merge is redone, both kept.
        other = {"version": 1, "window": 32, "records": [dict(recs[("SEQ", "1")], run="other-run",
                                                               fuzzer="ELSE")]}
        self.fx.race_next_upload(json.dumps(other).encode())
        p = self.cfo("--force")
        self.assertEqual(p.returncode, 0, p.stderr)
        after = self.records()
        self.assertEqual(len([r for r in after if r["fuzzer"] == "ELSE"]), 1)
        # SEQ (an exec fuzzer) supersedes: the newer run's record per target.
        seq = check_once(self, [r for r in after if r["fuzzer"] == "SEQ"],
                         [("SEQ", str(i)) for i in range(1, 9)])
        second_run = {r["run"] for r in seq.values()}
        self.assertEqual(len(second_run), 1)
        self.assertNotEqual(second_run, {r["run"] for r in recs.values()})

        # Storage down at upload time: exit 3, object untouched, journal kept...
        before = self.fx.get_object("bucket", "data.json")
        self.fx.add_fault(match="upload", status=503, count=10000)
        p = self.cfo("--force")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("--resume-upload-only", p.stderr)
        self.assertEqual(self.fx.get_object("bucket", "data.json"), before)
        # ...and once it is back, what was committed is uploaded, once.
        self.fx.clear_faults()
        p = self.cfo("--resume-upload-only")
        self.assertEqual(p.returncode, 0, p.stderr)
        final = self.records()
        seq = check_once(self, [r for r in final if r["fuzzer"] == "SEQ"],
                         [("SEQ", str(i)) for i in range(1, 9)])
        third_run = {r["run"] for r in seq.values()}
        self.assertEqual(len(third_run), 1)
        self.assertNotEqual(third_run, second_run)  # the resumed upload's own records
        p = self.cfo("--resume-upload-only")  # nothing left to do: says so
        self.assertEqual(p.returncode, 2)
        summary("storage", retried_503=2, races=1, down_then_resumed="yes",
                records=len(final), recorded_once="yes")


if __name__ == "__main__":
    cfotest.main()
