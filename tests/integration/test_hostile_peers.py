"""Hostile peers against the real binaries: a worker that lies in its HELLO or
its RESULT (spoken with this suite's own encoder, hostile_wire.py), a damaged
journal, a run killed at every phase. Whatever they do, the run completes,
every honest task is recorded exactly once, the dataset stays readable and
no process outlives its run."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run, wait_for  # noqa: E402
import hostile_wire as hw  # noqa: E402
import zmq  # noqa: E402

HB = "500ms"  # a peer silent for 1.5 s is dead

LIST_SH = """#!/bin/sh
i=1
while [ $i -le "${NTASKS:-8}" ]; do echo "t$i"; i=$((i+1)); done
"""

# Marks its start; with GATE set, target tN for N > GATE_AFTER (default 0)
# waits for that file before it ends.
RUN_SH = """#!/bin/sh
: > "$MARKS/start.$1.$$"
if [ -n "$GATE" ] && [ "${1#t}" -gt "${GATE_AFTER:-0}" ]; then
  while [ ! -e "$GATE" ]; do sleep 0.05; done
fi
sleep "${TASK_SLEEP:-0}"
echo "ran $1"
"""

# Case 7 of the hostile-peer list (the allow-dir deleted under a CURVE
# coordinator, then SIGHUP) is test_curve.py's
# test_deleting_the_allow_dir_revokes_everyone; it is not repeated here.


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def targets(n):
    return [("SEQ", "t%d" % i) for i in range(1, n + 1)]


def summary(case, **figures):
    print("\nhostile %s: %s" % (case, ", ".join("%s=%s" % kv for kv in figures.items())),
          flush=True)


class Scene:
    """A scratch repository with one exec fuzzer of n targets, and the
    processes started on it (killed at the end)."""

    def __init__(self, ntasks, **env):
        self.tmp = cfotest.TempDir(prefix="cfo-hostile-")
        self.n = ntasks
        # On every task's command line, so leftovers can be found.
        self.token = "hostile-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 10 ** 9)
        self.repo = self.path("repo")
        cfotest.make_repo(self.repo, {
            "fz/list.sh": (LIST_SH, 0o755),
            "fz/run.sh": (RUN_SH, 0o755),
            "cfo.ini": '[fuzzer "SEQ"]\nkind = exec\ndiscover = ./fz/list.sh\n'
                       'run = ./fz/run.sh {target} %s\n' % self.token})
        self.marks = self.path("marks")
        os.makedirs(self.marks)
        self.data = self.path("data.json")
        self.endpoint = "tcp://127.0.0.1:%d" % cfotest.free_port()
        self.env = dict(os.environ, MARKS=self.marks, NTASKS=str(ntasks), **env)
        # Under ASan, freed memory waits in a quarantine (256 MB by default)
        # before reuse: kept small, RSS shows what a process holds.
        self.env["ASAN_OPTIONS"] = ":".join(
            o for o in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=8") if o)
        self.procs = []
        self.ctx = None
        self.peers = []

    def path(self, *parts):
        return os.path.join(self.tmp.path, *parts)

    # ---- processes ----

    def spawn(self, name, argv, env=None):
        # Other builds relink the binaries now and then: wait for them.
        wait_for(lambda: os.access(argv[0], os.X_OK), 60, argv[0] + " to be built")
        log = open(self.path(name + ".log"), "w")
        p = subprocess.Popen(argv, cwd=self.tmp.path, env=dict(self.env, **(env or {})),
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        p.name = name
        self.procs.append(p)
        return p

    def coordinator(self, *args, name="coordinator"):
        return self.spawn(name, [binary("cfo-coordinator"), "--repo", self.repo,
                                 "--bind", self.endpoint, "--heartbeat", HB,
                                 "--dataset", "file://" + self.data, "--upload",
                                 "--workdir", self.path("cwork"),
                                 "--wait-workers", "60s", "--grace", "300ms", *args])

    def worker(self, wid, *args):
        return self.spawn(wid, [binary("cfo-worker"), "--connect", self.endpoint, "--id", wid,
                                "--repo", self.repo, "--heartbeat", HB, "--grace", "300ms",
                                "--workdir", self.path("w-" + wid), *args])

    def cfo_argv(self, state, data=None, workdir="work"):
        return [binary("cfo"), "--repo", self.repo, "--state-dir", state,
                "--dataset", data or "file://" + self.data, "--upload",
                "--workdir", self.path(workdir), "--concurrency", "2", "--grace", "300ms",
                "--schedule", "fifo", "--quiet"]

    def cfo(self, state, data=None, env=None, workdir="work"):
        """One single-host run to its end (bounded): CompletedProcess."""
        argv = self.cfo_argv(state, data, workdir)
        wait_for(lambda: os.access(argv[0], os.X_OK), 60, "cfo to be built")
        return run(argv, cwd=self.tmp.path, env=dict(self.env, **(env or {})), timeout=60)

    def log(self, name):
        with open(self.path(name + ".log"), errors="replace") as f:
            return f.read()

    def wait_log(self, name, text, timeout=60):
        wait_for(lambda: text in self.log(name), timeout, "%r in %s's log" % (text, name))

    def wait_log_count(self, name, text, count, timeout=60):
        wait_for(lambda: self.log(name).count(text) >= count, timeout,
                 "%d times %r in %s's log" % (count, text, name))

    def wait(self, p, timeout=120):
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit in %ds; its log:\n%s" % (
                p.name, timeout, self.log(p.name)[-3000:]))

    def started(self):
        return sum(1 for n in os.listdir(self.marks) if n.startswith("start."))

    def leftovers(self):
        return cfotest.processes_with(self.token)

    def no_leftovers(self, test):
        try:
            wait_for(lambda: not self.leftovers(), 15, "the tasks' processes to end")
        except AssertionError:
            test.fail("processes outlived their run: %r" % self.leftovers())

    # ---- hostile peers ----

    def peer(self):
        if self.ctx is None:
            self.ctx = zmq.Context()
        p = hw.Peer(self.ctx, self.endpoint)
        self.peers.append(p)
        return p

    # ---- the dataset ----

    def records(self, path=None):
        with open(path or self.data) as f:
            return json.load(f)["records"]

    def check_once(self, test, recs, tasks=None):
        """Every task exactly once; the records by target."""
        keys = [(r["fuzzer"], r["target"]) for r in recs]
        test.assertEqual(len(keys), len(set(keys)), "a task was recorded twice: %r" % keys)
        test.assertEqual(sorted(keys), sorted(tasks or targets(self.n)))
        return {r["target"]: r for r in recs}

    def check_readable(self, test, path=None):
        p = run([binary("cfo-dataset"), "show", "file://" + (path or self.data)], timeout=60)
        test.assertEqual(p.returncode, 0, "cfo-dataset show: " + p.stderr[-2000:])

    def close(self):
        for p in self.peers:
            p.close()
        if self.ctx is not None:
            self.ctx.term()
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        # Tasks of a run this test killed (they carry its token).
        for pid, _ in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.tmp.cleanup()


class HostileWorkers(unittest.TestCase):
    """A real coordinator on loopback, hostile peers speaking the protocol,
    an honest cfo-worker doing the work."""

    def setUp(self):
        self.s = None

    def tearDown(self):
        if self.s is not None:
            self.s.close()

    def finish(self, coord, honest, expect=0):
        """The run ends with expect, the honest worker leaves, nothing stays."""
        s = self.s
        self.assertEqual(s.wait(coord), expect, s.log("coordinator")[-4000:])
        self.assertEqual(s.wait(honest, 60), 0, s.log(honest.name)[-2000:])
        s.no_leftovers(self)

    def test_reoffered_results_at_absurd_attempts_are_not_believed(self):
        t0 = time.monotonic()
        self.s = s = Scene(10)
        coord = s.coordinator("--state-dir", s.path("state"))
        s.wait_log("coordinator", "serving workers on")
        rss_before = rss_kb(coord.pid)
        liars = []
        for k, attempt in enumerate((1000000, 500000)):
            p = s.peer()
            offered = [(t, attempt) for t in range(s.n)] + [(2 ** 64 - 1, attempt)]
            p.send(hw.hello("replayer", 1, ["SEQ"], offered))
            p.pump(lambda p: p.of(hw.WELCOME), 30, keepalive=True)
            s.wait_log_count("coordinator", "worker replayer joined", k + 1)
            # What it is told about its re-offers was sent before that line.
            p.pump(lambda p: len(p.of(hw.CANCEL, hw.ACK)) >= s.n, 3, keepalive=True)
            # On the wire: every re-offer of a task it was never given is
            # refused.
            self.assertEqual({m.ref() for m in p.of(hw.CANCEL)},
                             {(t, attempt) for t in range(s.n)}, p.got)
            # It leaves; a word after BYE is answered RESET once the session
            # is gone (and only then may its name be used again).
            p.send(hw.bye("done lying"))
            p.send(hw.heartbeat())
            self.assertTrue(p.pump(lambda p: p.of(hw.RESET), 30), p.got[-5:])
            liars.append(p)
        rss_after = rss_kb(coord.pid)
        if rss_before and rss_after:
            self.assertLess(rss_after, rss_before + 32 * 1024)
        honest = s.worker("honest", "--slots", "2")
        self.finish(coord, honest)
        recs = s.check_once(self, s.records())
        for r in recs.values():
            self.assertEqual(r["worker"], "honest", r)
            self.assertEqual(r["status"], "pass", r)
            self.assertLessEqual(r["attempt"], 3, r)
        s.check_readable(self)
        for p in liars:
            p.poll(0)
            for m in p.of(hw.TASK):
                self.assertLess(m.ref()[1], 10, "a task handed out at its claimed attempt")
        summary("replayed-attempts", tasks=len(recs), rss_kb="%s->%s" % (rss_before, rss_after),
                max_attempt=max(r["attempt"] for r in recs.values()),
                seconds="%.1f" % (time.monotonic() - t0))

    def test_hellos_that_ignore_their_credit_hold_no_more_than_it(self):
        t0 = time.monotonic()
        self.s = s = Scene(8)
        # No prefetch: a worker's credit is its one slot, exactly (by default
        # a slot of short tasks also has one waiting behind it).
        coord = s.coordinator("--prefetch", "0")
        s.wait_log("coordinator", "serving workers on")
        greedy = []
        for i in range(4):
            p = s.peer()
            # slots=1, and "results" pending for every task, at the very
            # attempt each is queued at.
            p.send(hw.hello("greedy-%d" % i, 1, ["SEQ"], [(t, 1) for t in range(s.n)]))
            s.wait_log("coordinator", "worker greedy-%d joined" % i)
            p.pump(lambda p: len(p.of(hw.CANCEL, hw.ACK)) >= s.n, 3)
            greedy.append(p)
        # From here on they say nothing (they only read what comes).
        honest = s.worker("honest", "--slots", "2")
        deadline = time.monotonic() + 120
        while coord.poll() is None and time.monotonic() < deadline:
            for p in greedy:
                p.poll(0.02)
        self.finish(coord, honest)
        given = set()
        for i, p in enumerate(greedy):
            tasks = p.of(hw.TASK)
            refused = {m.ref()[0] for m in p.of(hw.CANCEL, hw.ACK)}
            claimed = set(range(s.n)) - refused
            # Credit 1: what it was handed plus what it claimed back.
            self.assertLessEqual(len(tasks) + len(claimed), 1,
                                 "greedy-%d holds %r and was sent %r" % (i, claimed, tasks))
            given |= {m.fields[5] for m in tasks}
            if tasks:
                self.assertIn("worker greedy-%d went silent" % i, s.log("coordinator"))
        recs = s.check_once(self, s.records())
        for target, r in recs.items():
            self.assertEqual(r["status"], "pass", r)
            self.assertEqual(r["worker"], "honest", r)
            if target not in given:
                self.assertEqual(r["attempt"], 1, "%s was never handed to a greedy peer" % target)
        s.check_readable(self)
        summary("greedy-hello", tasks=len(recs), handed_to_greedy=len(given),
                seconds="%.1f" % (time.monotonic() - t0))

    def test_result_with_a_time_past_year_9999_is_refused(self):
        t0 = time.monotonic()
        self.s = s = Scene(6)
        coord = s.coordinator()
        s.wait_log("coordinator", "serving workers on")
        lied = {}
        for k, end in enumerate((hw.YEAR_10000_MS, hw.INT64_MAX)):
            p = s.peer()
            p.send(hw.hello("liar-%d" % k, 1, ["SEQ"], []))
            self.assertTrue(p.pump(lambda p: p.of(hw.TASK), 30, keepalive=True),
                            "liar-%d was given no task: %r" % (k, p.got))
            task = p.of(hw.TASK)[0]
            tid, attempt = task.ref()
            target = task.fields[5]
            lied[target] = max(lied.get(target, 0), attempt)
            p.send(hw.result(tid, attempt, end_wall_ms=end,
                             command="./fz/run.sh %s %s" % (target, s.token), summary="forged"))
            # Its session is gone: the next word it says is answered RESET.
            p.send(hw.heartbeat())
            self.assertTrue(p.pump(lambda p: p.of(hw.RESET, hw.ACK), 30),
                            "no answer to liar-%d: %r" % (k, p.got))
            self.assertEqual(p.of(hw.ACK), [], "a result ending at %d ms was acknowledged" % end)
            self.assertTrue(p.of(hw.RESET))
        honest = s.worker("honest", "--slots", "2")
        self.finish(coord, honest)
        recs = s.check_once(self, s.records())
        for target, r in recs.items():
            self.assertEqual(r["worker"], "honest", r)
            self.assertEqual(r["status"], "pass", r)
            self.assertTrue(r["time"].startswith("20"), r)
            if target in lied:
                self.assertGreater(r["attempt"], lied[target], r)
        s.check_readable(self)
        summary("far-future-result", tasks=len(recs), refused=2,
                seconds="%.1f" % (time.monotonic() - t0))

    def test_a_live_workers_name_cannot_be_taken_without_curve(self):
        t0 = time.monotonic()
        gate = None
        self.s = s = Scene(4, GATE="")
        gate = s.path("gate")
        s.env["GATE"] = gate
        coord = s.coordinator()
        s.wait_log("coordinator", "serving workers on")
        honest = s.worker("honest", "--slots", "2")
        wait_for(lambda: s.started() >= 2, 60, "the honest worker's first two tasks to start")
        impostors = []
        for _ in range(20):
            p = s.peer()
            p.send(hw.hello("honest", 1, ["SEQ"], [(t, 1) for t in range(s.n)]))
            self.assertTrue(p.pump(lambda p: p.of(hw.BYE, hw.WELCOME), 30),
                            "no answer to an impostor: %r" % p.got)
            impostors.append(p)
        for p in impostors:
            self.assertEqual(p.of(hw.WELCOME), [], "an impostor was welcomed under a live name")
            reason = p.of(hw.BYE)[0].fields[0]
            self.assertTrue(reason.startswith("retry later"), reason)
        with open(gate, "w"):
            pass
        self.finish(coord, honest)
        recs = s.check_once(self, s.records())
        for r in recs.values():
            self.assertEqual((r["worker"], r["attempt"], r["status"]), ("honest", 1, "pass"), r)
        summary("name-taken", impostors=len(impostors), tasks=len(recs),
                seconds="%.1f" % (time.monotonic() - t0))

    def test_a_full_session_table_tells_a_new_worker_to_retry_later(self):
        t0 = time.monotonic()
        self.s = s = Scene(3)
        coord = s.coordinator()
        s.wait_log("coordinator", "serving workers on")
        s.ctx = zmq.Context()
        s.ctx.max_sockets = 4096
        idle = []
        for i in range(1024):
            p = s.peer()
            # A fuzzer the run does not have: a session that is given nothing.
            p.send(hw.hello("idle-%d" % i, 1, ["NOPE"], []))
            idle.append(p)

        def keep_alive():
            now = time.monotonic()
            for p in idle:
                if now - p.last_sent >= 0.2:
                    p.send(hw.heartbeat())
                p.sock.poll(0)  # reads nothing: what it is sent stays queued, bounded by HWM

        wait_for(lambda: keep_alive() or s.log("coordinator").count(" joined: ") >= 1024, 120,
                 "1024 idle sessions")
        honest = s.worker("honest", "--slots", "2")
        wait_for(lambda: keep_alive() or "too many workers" in s.log("honest"), 60,
                 "the honest worker to be told the table is full")
        self.assertIsNone(honest.poll(), "the honest worker gave up: " + s.log("honest")[-2000:])
        self.assertEqual(s.started(), 0)
        # Half the idle sessions go silent: they die, and the honest worker
        # gets in on a later try.
        for p in idle[:512]:
            p.close()
        s.peers = [p for p in s.peers if p not in idle[:512]]
        del idle[:512]
        deadline = time.monotonic() + 120
        while coord.poll() is None and time.monotonic() < deadline:
            keep_alive()
            time.sleep(0.05)
        self.finish(coord, honest)
        recs = s.check_once(self, s.records())
        for r in recs.values():
            self.assertEqual((r["worker"], r["status"]), ("honest", "pass"), r)
        summary("full-table", sessions=1024, tasks=len(recs),
                seconds="%.1f" % (time.monotonic() - t0))

    def test_a_hello_flood_neither_starves_nor_drops_the_honest_worker(self):
        t0 = time.monotonic()
        self.s = s = Scene(1500)
        coord = s.coordinator()
        s.wait_log("coordinator", "serving workers on")
        rss_before = rss_kb(coord.pid)
        s.ctx = zmq.Context()
        floods = []
        for k in range(4):
            sock = s.ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, 64)
            sock.connect(s.endpoint)
            floods.append(sock)
        # Two re-offer more than any worker may hold; two claim 1024 slots,
        # which allow a list almost as long.
        lists = [hw.hello("flood", 1, ["NOPE"], [(t, 1) for t in range(4096)]),
                 hw.hello("flood", 1024, ["NOPE"], [(t, 1) for t in range(2 * 1024 + 64)])]
        honest = s.worker("honest", "--slots", "2")
        answers = {}
        hellos = 0
        rss_max = rss_before or 0
        flood_start = time.monotonic()
        deadline = flood_start + 240
        while coord.poll() is None and time.monotonic() < deadline:
            for k, sock in enumerate(floods):
                try:
                    sock.send_multipart(lists[k % 2], zmq.NOBLOCK)
                    hellos += 1
                except zmq.Again:
                    pass
                while sock.poll(0, zmq.POLLIN):
                    t = hw.kind(sock.recv_multipart()[0])
                    answers[t] = answers.get(t, 0) + 1
            rss = rss_kb(coord.pid)
            rss_max = max(rss_max, rss or 0)
            time.sleep(0.002)
        flood_s = time.monotonic() - flood_start
        for sock in floods:
            sock.close()
        self.finish(coord, honest)
        log = s.log("coordinator")
        self.assertNotIn("worker honest went silent", log)
        self.assertNotIn("honest cannot be reached", log)
        recs = s.check_once(self, s.records())
        for r in recs.values():
            self.assertEqual((r["worker"], r["attempt"], r["status"]), ("honest", 1, "pass"), r)
        if rss_before:
            self.assertLess(rss_max, rss_before + 64 * 1024)
        # A re-offer of a task it was never given costs the flood one answer
        # each, at a bounded rate: the coordinator's time goes to real work.
        cancels = answers.get(hw.CANCEL, 0)
        self.assertLessEqual(cancels, 8192 * (flood_s + 2),
                             "%d CANCELs in %.1fs to re-offers never given" % (cancels, flood_s))
        summary("hello-flood", hellos=hellos, cancels=cancels, tasks=len(recs),
                honest_tasks_per_s="%.1f" % (len(recs) / flood_s),
                rss_kb="%s->%s" % (rss_before, rss_max), seconds="%.1f" % (time.monotonic() - t0))


class HostileCoordinator(unittest.TestCase):
    """A coordinator that floods a real cfo-worker: the worker holds it to its
    credit, stays within bounded memory, rate-limits its warnings and leaves
    at the BYE."""

    def test_a_worker_bounds_a_flooding_coordinator(self):
        t0 = time.monotonic()
        s = Scene(1, GATE="")
        self.addCleanup(s.close)
        s.env["GATE"] = s.path("gate")  # the one task it runs waits: it holds its slot
        s.ctx = zmq.Context()
        router = s.ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.SNDHWM, 0)  # queue everything: the worker must cope
        router.bind(s.endpoint)
        self.addCleanup(router.close)
        worker = s.worker("w", "--slots", "1")
        self.assertTrue(router.poll(60000, zmq.POLLIN), "no HELLO from the worker")
        rid, head = router.recv_multipart()[:2]
        self.assertEqual(hw.kind(head), hw.HELLO)
        router.send_multipart([rid] + hw.welcome("hostile-run", 500))
        commit = run(["git", "-C", s.repo, "rev-parse", "HEAD"]).stdout.strip()
        rss_base = rss_kb(worker.pid)
        rss_max = rss_base or 0
        last_beat = [time.monotonic()]

        def beat():
            """A live coordinator to the worker: heartbeats, and whatever it
            says read and checked to be of this session."""
            if time.monotonic() - last_beat[0] >= 0.2:
                router.send_multipart([rid] + hw.heartbeat())
                last_beat[0] = time.monotonic()
            while router.poll(0, zmq.POLLIN):
                frames = router.recv_multipart()
                self.assertEqual(frames[0], rid, "the worker reconnected during the flood")
            return False

        for i in range(60000):
            router.send_multipart([rid] + hw.task(i, 1, "SEQ", "main", commit, "t1"))
            if i % 500 == 0:
                beat()
                rss_max = max(rss_max, rss_kb(worker.pid) or 0)
        for i in range(20000):
            router.send_multipart([rid, os.urandom(24)])
            if i % 500 == 0:
                beat()
        # It reads everything it was sent, then says so in a bounded log.
        wait_for(lambda: beat() or "more warnings about the coordinator were left out" in
                 s.log("w"), 120, "the worker's count of warnings left out")
        rss_max = max(rss_max, rss_kb(worker.pid) or 0)
        log = s.log("w")
        warnings = log.count("warning")
        self.assertLess(warnings, 200, "%d warning lines for one flood" % warnings)
        if rss_base:
            self.assertLess(rss_max, rss_base + 64 * 1024, "worker RSS %s -> %s KiB" % (
                rss_base, rss_max))
        t_bye = time.monotonic()
        router.send_multipart([rid] + hw.bye("run over"))
        self.assertEqual(s.wait(worker, 30), 0, s.log("w")[-2000:])
        left = time.monotonic() - t_bye
        s.no_leftovers(self)
        summary("flooding-coordinator", tasks_sent=60000, garbage=20000, warnings=warnings,
                rss_kb="%s->%s" % (rss_base, rss_max), bye_to_exit_s="%.2f" % left,
                seconds="%.1f" % (time.monotonic() - t0))


# ---- the journal, read as its format says: an 8-byte magic, then entries of
# a 12-byte header [u32 length][u32 body crc32][u32 header crc32] and a body.

JOURNAL_HEAD = 12


def journal_entries(data):
    """[(offset, body length, parsed body)] of every whole entry."""
    off, out = 8, []
    while off + JOURNAL_HEAD <= len(data):
        n = int.from_bytes(data[off:off + 4], "little")
        if off + JOURNAL_HEAD + n > len(data):
            break
        out.append((off, n, json.loads(data[off + JOURNAL_HEAD:off + JOURNAL_HEAD + n])))
        off += JOURNAL_HEAD + n
    return out


def read_journal(state):
    with open(os.path.join(state, "journal"), "rb") as f:
        return f.read()


def journal_commits(state):
    try:
        data = read_journal(state)
    except OSError:
        return []
    return [e for _, _, e in journal_entries(data) if e.get("type") == "commit"]


class Journal(unittest.TestCase):
    def setUp(self):
        self.s = None

    def tearDown(self):
        if self.s is not None:
            self.s.close()

    def test_a_damaged_journal_resumes_whole_or_is_refused_untouched(self):
        t0 = time.monotonic()
        self.s = s = Scene(8)
        base_state = s.path("base")
        p = s.cfo(base_state, env={"CFO_TEST_CRASH_AFTER_COMMITS": "4"})
        self.assertEqual(p.returncode, 137, p.stderr[-2000:])
        base = read_journal(base_state)
        entries = journal_entries(base)
        self.assertEqual(entries[0][2]["type"], "run")
        run_id = entries[0][2]["run"]
        self.assertEqual(sum(1 for e in entries if e[2]["type"] == "commit"), 4)
        mid_off, mid_len, _ = entries[len(entries) // 2]
        last_off, last_len, _ = entries[-1]
        self.assertLess(mid_off, last_off)
        cases = [
            ("the magic", 3, "refuse"),
            ("the first entry's length", 8, "refuse"),
            ("the first entry's header checksum", 8 + 9, "refuse"),
            ("a middle entry's length", mid_off + 1, "refuse"),
            ("a middle entry's body", mid_off + JOURNAL_HEAD + mid_len // 2, "refuse"),
            ("the last entry's body", last_off + JOURNAL_HEAD + last_len // 2, "resume"),
        ]
        outcomes = []
        for k, (where, offset, expect) in enumerate(cases):
            with self.subTest(where=where):
                state = s.path("state%d" % k)
                os.makedirs(state)
                damaged = bytearray(base)
                damaged[offset] ^= 0xFF
                damaged = bytes(damaged)
                with open(os.path.join(state, "journal"), "wb") as f:
                    f.write(damaged)
                data = s.path("data%d.json" % k)
                p = s.cfo(state, data="file://" + data, workdir="work%d" % k)
                if p.returncode == 3:
                    # Refused: the journal is left exactly as it was.
                    self.assertEqual(read_journal(state), damaged, where)
                    self.assertIn("journal", p.stderr)
                    self.assertFalse(os.path.exists(data), "a refused run wrote the dataset")
                    outcomes.append("%s: exit 3" % where)
                else:
                    # Resumed: the same run, every commit kept, every task once.
                    self.assertEqual(p.returncode, 0, p.stderr[-3000:])
                    self.assertIn("resuming run " + run_id, p.stderr)
                    recs = s.check_once(self, s.records(data))
                    self.assertEqual({r["run"] for r in recs.values()}, {run_id},
                                     "a fresh run replaced the damaged one")
                    # What was committed before the torn entry stands as it
                    # was committed: not run again.
                    tasks = entries[0][2]["tasks"]
                    for off, _, e in entries:
                        if e["type"] == "commit" and off < last_off:
                            r = recs[tasks[e["task"]]["target"]]
                            self.assertEqual((r["attempt"], r["worker"]),
                                             (e["attempt"], e["worker"]), r)
                    s.check_readable(self, data)
                    outcomes.append("%s: resumed" % where)
                self.assertEqual("refuse" if p.returncode == 3 else "resume", expect,
                                 "%s: exit %d\n%s" % (where, p.returncode, p.stderr[-2000:]))
        s.no_leftovers(self)
        summary("journal-damage", cases=len(cases), outcomes="; ".join(outcomes),
                seconds="%.1f" % (time.monotonic() - t0))


class KilledAtEveryPhase(unittest.TestCase):
    """cfo --state-dir S killed (SIGKILL, or its own crash point) at every
    phase of a run, then started again with the same S: it finishes, and
    every task is in the dataset exactly once."""

    N = 6

    def setUp(self):
        self.s = Scene(self.N)
        self.t0 = time.monotonic()

    def tearDown(self):
        self.s.close()

    def restart(self, state, data, expect_resume=True):
        s = self.s
        p = s.cfo(state, data="file://" + data)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        if expect_resume:
            self.assertIn("resuming run", p.stderr)
        recs = s.check_once(self, s.records(data))
        for r in recs.values():
            self.assertEqual(r["status"], "pass", r)
        s.check_readable(self, data)
        s.no_leftovers(self)
        return recs

    def popen_cfo(self, name, state, data, env=None):
        return self.s.spawn(name, self.s.cfo_argv(state, "file://" + data), env=env)

    def test_killed_before_any_commit(self):
        s = self.s
        state, data, gate = s.path("S"), s.path("d.json"), s.path("gate")
        p = self.popen_cfo("first", state, data, env={"GATE": gate})
        wait_for(lambda: s.started() >= 2 or p.poll() is not None, 60, "two tasks to start")
        self.assertIsNone(p.poll(), s.log("first"))
        self.assertEqual(journal_commits(state), [])
        os.kill(p.pid, signal.SIGKILL)
        self.assertEqual(s.wait(p, 30), -signal.SIGKILL)
        # Its tasks are not killed with it today (DESIGN.md promises they
        # are); they wait for the gate, so opening it ends them, and the
        # restart must not care either way.
        orphans = len(s.leftovers())
        with open(gate, "w"):
            pass
        recs = self.restart(state, data)
        summary("kill-before-commit", tasks=len(recs), orphaned_tasks=orphans,
                seconds="%.1f" % (time.monotonic() - self.t0))

    def test_killed_after_some_commits(self):
        s = self.s
        # (a) its own crash point: right after the third commit, before the ACK.
        state, data = s.path("Sa"), s.path("da.json")
        p = s.cfo(state, data="file://" + data, env={"CFO_TEST_CRASH_AFTER_COMMITS": "3"})
        self.assertEqual(p.returncode, 137, p.stderr[-2000:])
        self.assertEqual(len(journal_commits(state)), 3)
        self.assertFalse(os.path.exists(data))
        recs = self.restart(state, data)
        self.assertEqual(len({r["run"] for r in recs.values()}), 1)

        # (b) SIGKILL with t1..t3 committed and two tasks waiting on a gate.
        state, data, gate = s.path("Sb"), s.path("db.json"), s.path("gate")
        before = s.started()
        p = self.popen_cfo("some", state, data, env={"GATE": gate, "GATE_AFTER": "3"})
        wait_for(lambda: (len(journal_commits(state)) >= 3 and s.started() >= before + 5) or
                 p.poll() is not None, 60, "three commits and two waiting tasks")
        self.assertIsNone(p.poll(), s.log("some"))
        os.kill(p.pid, signal.SIGKILL)
        self.assertEqual(s.wait(p, 30), -signal.SIGKILL)
        committed = len(journal_commits(state))
        self.assertEqual(committed, 3)
        with open(gate, "w"):
            pass
        recs = self.restart(state, data)
        self.assertEqual(len({r["run"] for r in recs.values()}), 1)
        summary("kill-mid-commits", tasks=len(recs), variants=2,
                seconds="%.1f" % (time.monotonic() - self.t0))

    def test_killed_after_every_commit_before_the_upload(self):
        s = self.s
        # (a) its own crash point, right after the last commit.
        state, data = s.path("Sa"), s.path("da.json")
        p = s.cfo(state, data="file://" + data,
                  env={"CFO_TEST_CRASH_AFTER_COMMITS": str(self.N)})
        self.assertEqual(p.returncode, 137, p.stderr[-2000:])
        self.assertEqual(len(journal_commits(state)), self.N)
        self.assertFalse(os.path.exists(data))
        self.restart(state, data)

        # (b) SIGKILL while it waits for the dataset's lock, which we hold.
        state, data = s.path("Sb"), s.path("db.json")
        lock_path = data + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            p = self.popen_cfo("locked", state, data)
            wait_for(lambda: len(journal_commits(state)) == self.N or p.poll() is not None, 60,
                     "every task to be committed")
            inode = ":%d " % os.stat(lock_path).st_ino

            def waiting():
                with open("/proc/locks") as f:
                    return p.poll() is not None or any(
                        "->" in line and inode in line for line in f)
            wait_for(waiting, 30, "cfo to wait for the dataset's lock")
            self.assertIsNone(p.poll(), s.log("locked"))
            os.kill(p.pid, signal.SIGKILL)
            self.assertEqual(s.wait(p, 30), -signal.SIGKILL)
        finally:
            os.close(fd)
        self.assertFalse(os.path.exists(data))
        self.restart(state, data)

        # (c) a dataset it cannot write on the first start.
        state, data = s.path("Sc"), s.path("dc.json")
        p = s.cfo(state, data="file:///proc/cfo-x/data.json")
        self.assertEqual(p.returncode, 3, p.stderr[-2000:])
        self.assertEqual(len(journal_commits(state)), self.N)
        recs = self.restart(state, data)
        summary("kill-before-upload", tasks=len(recs), variants=3,
                seconds="%.1f" % (time.monotonic() - self.t0))

    def test_killed_after_the_upload(self):
        s = self.s
        # (a) SIGKILL the moment the dataset appears: before or after the
        # journal says the run is over, either is fine.
        state, data = s.path("Sa"), s.path("da.json")
        p = self.popen_cfo("racer", state, data)
        deadline = time.monotonic() + 60
        while not os.path.exists(data) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        self.assertTrue(os.path.exists(data), s.log("racer")[-2000:])
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        s.wait(p, 30)
        finished = any(e.get("type") == "finished"
                       for _, _, e in journal_entries(read_journal(state)))
        s.check_once(self, s.records(data))
        self.restart(state, data, expect_resume=not finished)

        # (b) exactly between the upload and the journal's "finished": the
        # journal as it was before the uploading start, the dataset after.
        state, data = s.path("Sb"), s.path("db.json")
        p = s.cfo(state, data="file://" + data,
                  env={"CFO_TEST_CRASH_AFTER_COMMITS": str(self.N)})
        self.assertEqual(p.returncode, 137, p.stderr[-2000:])
        before_upload = read_journal(state)
        first = self.restart(state, data)
        with open(os.path.join(state, "journal"), "wb") as f:
            f.write(before_upload)
        again = self.restart(state, data)
        self.assertEqual({r["run"] for r in again.values()}, {r["run"] for r in first.values()})
        summary("kill-after-upload", tasks=len(again), journal_finished_at_kill=finished,
                seconds="%.1f" % (time.monotonic() - self.t0))


class HugeStrings(unittest.TestCase):
    def test_a_12mb_string_in_the_dataset_is_refused_quickly(self):
        tmp = cfotest.TempDir(prefix="cfo-hostile-")
        try:
            record = {"commit": "a" * 40, "fuzzer": "SEQ", "ok": True, "count": 1,
                      "findings": 0, "branch": "main", "target": "t1", "duration": 0.1,
                      "command": "x", "status": "pass", "time": "2026-11-21T10:00:00Z",
                      "run": "r", "worker": "w", "attempt": 1}
            shapes = {"plain": "x" * (12 << 20), "escaped": '"\\' * (6 << 20)}
            for name, big in shapes.items():
                with self.subTest(shape=name):
                    path = os.path.join(tmp.path, name + ".json")
                    with open(path, "w") as f:
                        json.dump({"version": 1, "window": 32,
                                   "records": [dict(record, command=big)]}, f)
                    self.assertGreater(os.path.getsize(path), 12 << 20)
                    t = time.monotonic()
                    p = run([binary("cfo-dataset"), "show", "file://" + path], timeout=60)
                    took = time.monotonic() - t
                    self.assertLess(took, 5.0, "cfo-dataset show took %.1fs: %s" % (
                        took, p.stderr[-500:]))
                    self.assertNotEqual(p.returncode, 0)
                    self.assertIn("a string longer than", p.stderr)
                    summary("12mb-string", shape=name, exit=p.returncode,
                            seconds="%.2f" % took)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    cfotest.main()
