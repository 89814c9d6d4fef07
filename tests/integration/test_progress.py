#!/usr/bin/env python3
"""test_progress.py -- the real cfo's progress output: a bar redrawn in place
on a pseudo-terminal, plain "cfo: elapsed: ..." lines on a pipe, nothing with
--quiet, and one JSON object per line with --log-format json."""

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
            self.assertRegex(line, r"^\[[#.]{24}\] \d+/6 done, \d+ running, \d+ queued, \d+ "
                                   r"failed, \d+ workers? \(\d+/\d+ slots\), \d+\.\d\d tasks/s, "
                                   r"\S+ elapsed, \S+ budget left$")
            done.append(int(line.split("] ")[1].split("/")[0]))
        # The same line, updated: progress only moves forward and ends full.
        self.assertEqual(done, sorted(done))
        self.assertLess(done[0], 6)
        self.assertTrue(draws[-1][0].startswith("[########################] 6/6 done, 0 running, "
                                                "0 queued, 1 failed"), draws[-1][0])
        # The final draw ends its line (the terminal turns "\n" into "\r\n")
        # and names the worker.
        self.assertTrue(draws[-1][1].startswith(draws[-1][0] + "\r\ncfo: worker "), draws[-1][1])
        self.assertNotIn("cfo: elapsed:", text)

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
                                 r"running: \d+, queued: \d+, failed: \d+, workers: \d+ "
                                 r"\(\d+/\d+ slots busy\), budget left: \S+$")
        self.assertIn("done: 6/6", lines[-1])
        self.assertIn("failed: 1,", lines[-1])
        # Between them, where the work goes: the worker's tasks done and held.
        self.assertRegex(p.stderr, r"(?m)^cfo: workers: \S+ \d+ done, [01] busy$")
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


if __name__ == "__main__":
    cfotest.main()
