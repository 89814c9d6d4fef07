#!/usr/bin/env python3
"""test_progress.py -- the real cfo's progress output: a bar redrawn in place
on a pseudo-terminal, plain "cfo: elapsed: ..." lines on a pipe, nothing with
--quiet, and one JSON object per line with --log-format json; cancelled tasks
counted apart from done ones, elapsed time on the budget's clock, the final
line once, plurals, and single-host wording."""

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

TARGETS = ["t%d" % i for i in range(1, 7)]
INI = """
[cfo]
task_timeout = 60s

[fuzzer "SLEEPY"]
kind = exec
discover = ./fz/list.sh
run = ./fz/sleep.sh {target}
critical = false
"""
FILES = {
    "cfo.ini": INI,
    "fz/list.sh": ("#!/bin/sh\nprintf '%s\\n'\n" % "\\n".join(TARGETS), 0o755),
    # Each task takes about a second; t3 fails, so the failed count moves.
    "fz/sleep.sh": ("#!/bin/sh\nsleep 1\n[ \"$1\" = t3 ] && exit 1\nexit 0\n", 0o755),
}
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ cfo: ")


def bar_draws(text):
    """The text of each draw of the bar: what follows an erase-line up to the
    end of the line. Log lines erase the bar before they are written, so they
    are draws of their own and are left out here."""
    draws = []
    for d in text.split("\r\x1b[K")[1:]:
        line = d.split("\r")[0].split("\n")[0]
        if LOG_LINE.match(line):
            continue
        draws.append((line, d))
    return draws


class Progress(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, FILES)

    def tearDown(self):
        self.tmp.cleanup()

    def argv(self, *extra):
        return [binary("cfo"), "--repo", self.repo, "--workdir",
                os.path.join(self.tmp.path, "work"), "--dataset",
                "file://" + os.path.join(self.tmp.path, "data.json"), "--budget", "5m", *extra]

    def on_pty(self, *extra, cols=200):
        """Runs cfo with stderr on a pseudo-terminal of cols columns; returns
        (exit status, everything written to the terminal)."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
        out_path = os.path.join(self.tmp.path, "stdout.txt")
        with open(out_path, "w") as out:
            p = subprocess.Popen(self.argv(*extra), cwd=self.tmp.path, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=slave)
        os.close(slave)
        chunks, deadline = [], time.monotonic() + 180
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    p.kill()
                    self.fail("cfo did not finish on the terminal in time")
                ready, _, _ = select.select([master], [], [], left)
                if not ready:
                    continue
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer of the terminal is gone
                    break
                if not data:
                    break
                chunks.append(data)
        finally:
            os.close(master)
        rc = p.wait(timeout=60)
        return rc, b"".join(chunks).decode("utf-8", "replace")

    def test_terminal_gets_a_bar_redrawn_in_place(self):
        rc, text = self.on_pty("--concurrency", "2")
        self.assertIn(rc, (0, 1), text)
        draws = bar_draws(text)
        self.assertGreaterEqual(len(draws), 3, text)
        done = []
        for line, _ in draws:
            self.assertRegex(line, r"^\[[#.]{24}\] \d+/6 done, 0 cancelled, \d+ running, \d+ "
                                   r"queued, \d+ "
                                   r"failed, \d+ workers? \(\d+/\d+ slots\), \d+\.\d\d tasks/s, "
                                   r"\S+ elapsed, \S+ budget left$")
            done.append(int(line.split("] ")[1].split("/")[0]))
        # The same line, updated: progress only moves forward and ends full.
        self.assertEqual(done, sorted(done))
        self.assertLess(done[0], 6)
        self.assertTrue(draws[-1][0].startswith("[########################] 6/6 done, 0 cancelled, "
                                                "0 running, 0 queued, 1 failed"), draws[-1][0])
        # The final draw ends its line (the terminal turns "\n" into "\r\n")
        # and says what the local worker did.
        self.assertTrue(draws[-1][1].startswith(draws[-1][0] + "\r\ncfo: local worker ran 6 "
                                                "tasks\r\n"), draws[-1][1])
        self.assertNotIn("cfo: elapsed:", text)

    def test_a_run_over_at_once_draws_its_final_line_once(self):
        # A budget spent by discovery: every task is cancelled before any
        # starts, and the bar is drawn once, as the final line.
        rc, text = self.on_pty("--budget", "1ms")
        self.assertEqual(rc, 0, text)
        draws = bar_draws(text)
        self.assertEqual([line for line, _ in draws][:1], [
            "[########################] 0/6 done, 6 cancelled, 0 running, 0 queued, 0 failed, "
            "0 workers (0/0 slots), 0.00 tasks/s, %s elapsed, 0.0s budget left"
            % re.search(r"(\S+) elapsed", draws[0][0]).group(1)], text)
        self.assertEqual(len(draws), 1, text)

    def test_bar_is_cut_to_the_terminal_width(self):
        rc, text = self.on_pty("--concurrency", "6", cols=60)
        self.assertIn(rc, (0, 1), text)
        draws = bar_draws(text)
        self.assertGreaterEqual(len(draws), 2, text)
        for line, _ in draws:
            self.assertTrue(line.startswith("["), repr(line))
            # A line as wide as the terminal would wrap and break "\r".
            self.assertLessEqual(len(line), 59, repr(line))
        self.assertEqual(len(draws[-1][0]), 59)

    def test_pipe_gets_plain_lines(self):
        p = run(self.argv("--concurrency", "1"), cwd=self.tmp.path, timeout=180)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        self.assertNotIn("\r", p.stderr)
        self.assertNotIn("\x1b", p.stderr)
        lines = [ln for ln in p.stderr.splitlines() if ln.startswith("cfo: elapsed:")]
        # Six one-second tasks in a row: one line at 5s and the final one.
        self.assertGreaterEqual(len(lines), 2, p.stderr)
        for ln in lines:
            self.assertRegex(ln, r"^cfo: elapsed: \S+, done: \d+/6 \(\d+\.\d\d tasks/s\), "
                                 r"cancelled: 0, running: \d+, queued: \d+, failed: \d+, workers: \d+ "
                                 r"\(\d+/\d+ slots busy\), budget left: \S+$")
        self.assertIn("done: 6/6", lines[-1])
        self.assertIn("failed: 1,", lines[-1])
        # The final line once.
        self.assertEqual(len([ln for ln in lines if "done: 6/6" in ln]), 1, p.stderr)
        # Between them, where the work goes: the local worker's tasks done and held.
        self.assertRegex(p.stderr, r"(?m)^cfo: local worker: \d+ done, [01] busy$")
        self.assertIn("cfo: local worker ran 6 tasks\n", p.stderr)
        # One host: nothing of joining workers or endpoints.
        self.assertIn("local worker: 1 slot\n", p.stderr)
        for distributed in ("joined", "connected to", "inproc://", "ended the session",
                            "cfo: workers:"):
            self.assertNotIn(distributed, p.stderr)
        self.assertNotIn("done: 6/6", lines[0])
        self.assertIn("SLEEPY", p.stdout)  # the summary table

    def test_quiet_prints_no_progress(self):
        p = run(self.argv("--concurrency", "6", "--quiet"), cwd=self.tmp.path, timeout=180)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        self.assertNotIn("elapsed", p.stderr)
        self.assertNotIn("\r", p.stderr)
        self.assertIn("SLEEPY", p.stdout)

    def test_json_log_format_is_json_on_every_line(self):
        p = run(self.argv("--concurrency", "6", "--log-format", "json"), cwd=self.tmp.path,
                timeout=180)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        objs = []
        for ln in p.stderr.splitlines():
            if ln.strip():
                objs.append(json.loads(ln))  # raises on any line that is not JSON
        final = [o for o in objs if o.get("event") == "final"]
        self.assertEqual(len(final), 1, p.stderr)
        f = final[0]
        self.assertEqual((f["total"], f["done"], f["failed"], f["running"]), (6, 6, 1, 0))
        self.assertGreater(f["tasks_per_s"], 0)
        self.assertTrue(any("msg" in o for o in objs))  # log lines are JSON too


class Counts(unittest.TestCase):
    """What the figures count: done is finished tasks, cancelled its own
    column; elapsed is on the budget's clock, discovery included."""

    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")

    def tearDown(self):
        self.tmp.cleanup()

    def cfo(self, files, *extra):
        cfotest.make_repo(self.repo, files)
        p = run([binary("cfo"), "--repo", self.repo, "--workdir",
                 os.path.join(self.tmp.path, "work"), "--dataset",
                 "file://" + os.path.join(self.tmp.path, "data.json"), "--log-format", "json",
                 *extra], cwd=self.tmp.path, timeout=180)
        objs = [json.loads(ln) for ln in p.stderr.splitlines() if ln.strip()]
        final = [o for o in objs if o.get("event") == "final"]
        self.assertEqual(len(final), 1, p.stderr)
        return p, objs, final[0]

    def test_cancelled_tasks_are_not_done(self):
        # One slot, six tasks that each sleep far past the budget: the budget
        # cuts the running one and cancels the rest.
        files = dict(FILES)
        files["fz/sleep.sh"] = ("#!/bin/sh\nexec sleep 300\n", 0o755)
        p, objs, f = self.cfo(files, "--concurrency", "1", "--budget", "2s")
        self.assertEqual((f["total"], f["done"], f["cancelled"], f["failed"]), (6, 0, 6, 0),
                         p.stderr)
        self.assertEqual(f["tasks_per_s"], 0)
        self.assertEqual(f["queued"], 0)

    def test_elapsed_counts_from_the_runs_start_like_the_budget(self):
        # Discovery takes a second; the budget counts it, and so must elapsed.
        files = dict(FILES)
        files["fz/list.sh"] = ("#!/bin/sh\nsleep 1\necho t1\n", 0o755)
        p, objs, f = self.cfo(files, "--budget", "5m")
        self.assertEqual(f["done"], 1, p.stderr)
        self.assertGreaterEqual(f["elapsed_ms"], 1000)
        self.assertEqual(f["elapsed_ms"] + f["budget_left_ms"], 300000, f)
        for o in objs:
            if o.get("event") == "progress":
                self.assertEqual(o["elapsed_ms"] + o["budget_left_ms"], 300000, o)

    def test_one_task_is_one_task(self):
        files = dict(FILES)
        files["fz/list.sh"] = ("#!/bin/sh\necho t1\n", 0o755)
        files["fz/sleep.sh"] = ("#!/bin/sh\nexit 0\n", 0o755)
        p, objs, f = self.cfo(files, "--concurrency", "1")
        msgs = [o["msg"] for o in objs if "msg" in o]
        self.assertTrue(any(re.search(r"^run \S+: 1 task, concurrency 1,", m) for m in msgs),
                        msgs)
        self.assertIn("local worker: 1 slot", msgs)
        self.assertIn("configuration: %s (1 fuzzer)" % os.path.join(self.repo, "cfo.ini"), msgs)
        self.assertIn("1 record not uploaded (no --upload)", msgs)
        for m in msgs:
            self.assertNotRegex(m, r"\b1 (tasks|fuzzers|slots|records)\b", m)


if __name__ == "__main__":
    cfotest.main()
