"""cfo-coordinator --metrics: /metrics answers in Prometheus text format that
Debian's promtool accepts, while a run is under way and after it (with
--metrics-linger), and its counters agree with the run's JSON report."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, free_port, run, wait_for  # noqa: E402

NQUICK = 20

CONFIG = """
[fuzzer "CANARY"]
kind = canary

[fuzzer "QUICK"]
kind = exec
needs_working_dir = false
discover = ./list.sh
run = ./quick.sh {target}

[fuzzer "GATED"]
kind = exec
needs_working_dir = false
run = ./gate.sh
"""

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(text):
    """{(name, frozenset(labels)): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


@unittest.skipUnless(shutil.which("promtool"), "promtool (Debian's prometheus) is not installed")
class Metrics(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        self.gate = os.path.join(self.tmp.path, "open")
        cfotest.make_repo(self.repo, {
            "cfo.ini": CONFIG,
            "list.sh": ("#!/bin/sh\nseq -f 'q%%g' 1 %d\n" % NQUICK, 0o755),
            # Every third quick target finds something and fails.
            "quick.sh": ("#!/bin/sh\nn=${1#q}\nif [ $((n % 3)) -eq 0 ]; then exit 1; fi\n"
                         "echo '{\"count\": '$n', \"findings\": 0}' >&$CFO_RESULT_FD\n", 0o755),
            "gate.sh": ("#!/bin/sh\nwhile [ ! -e \"$GATE\" ]; do sleep 0.05; done\n", 0o755),
        })
        self.procs = []
        self.logs = []

    def tearDown(self):
        for log in self.logs:
            log.close()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.tmp.cleanup()

    def spawn(self, name, argv):
        log = open(os.path.join(self.tmp.path, name + ".log"), "w")
        p = subprocess.Popen(argv, cwd=self.tmp.path, env=dict(os.environ, GATE=self.gate),
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        self.logs.append(log)
        return p

    def log(self, name):
        with open(os.path.join(self.tmp.path, name + ".log")) as f:
            return f.read()

    def scrape(self, url):
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            return r.read().decode()

    def promtool(self, text):
        p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + "\n" + text)

    def test_scraped_during_and_after_the_run(self):
        port, mport = free_port(), free_port()
        url = "http://127.0.0.1:%d/metrics" % mport
        report = os.path.join(self.tmp.path, "report.json")
        coord = self.spawn("coordinator", [
            binary("cfo-coordinator"), "--repo", self.repo, "--bind",
            "tcp://127.0.0.1:%d" % port, "--metrics", "127.0.0.1:%d" % mport,
            "--metrics-linger", "5m", "--dataset", "file://" + os.path.join(self.tmp.path, "d.json"),
            "--upload", "--report", report, "--wait-workers", "60s",
            "--workdir", os.path.join(self.tmp.path, "cwork")])
        self.spawn("worker", [binary("cfo-worker"), "--connect", "tcp://127.0.0.1:%d" % port,
                              "--id", "w1", "--slots", "2", "--repo", self.repo,
                              "--workdir", os.path.join(self.tmp.path, "wwork")])

        # During the run: everything but the gated task is committed, which
        # holds a slot until the test opens its gate.
        def during():
            try:
                s = parse(self.scrape(url))
            except (urllib.error.URLError, ConnectionError):
                return None
            done = value(s, "cfo_results_committed_total")
            running = value(s, "cfo_tasks", fuzzer="GATED", state="running")
            return s if done == NQUICK + 1 and running == 1 else None
        wait_for(during, timeout=120, what="the quick tasks committed, the gated one running")
        text = self.scrape(url)
        self.promtool(text)
        s = parse(text)
        self.assertEqual(value(s, "cfo_workers"), 1)
        self.assertEqual(value(s, "cfo_worker_slots", state="total"), 2)
        self.assertEqual(value(s, "cfo_worker_slots", state="busy"), 1)
        self.assertGreater(value(s, "cfo_budget_left_seconds"), 0)
        self.assertEqual(value(s, "cfo_dataset_writes_total", result="ok"), 0)
        self.assertFalse(os.path.exists(report))

        with open(self.gate, "w"):
            pass
        wait_for(lambda: os.path.exists(report), timeout=120, what="the run's report")
        wait_for(lambda: "serving the final metrics" in self.log("coordinator"), timeout=60,
                 what="the coordinator lingering")
        text = self.scrape(url)
        self.promtool(text)
        s = parse(text)
        with open(report) as f:
            rep = json.load(f)
        records = [t["record"] for t in rep["tasks"]]
        for fuzzer in ("CANARY", "QUICK", "GATED"):
            mine = [r for r in records if r["fuzzer"] == fuzzer]
            for status in ("pass", "fail", "timeout", "error", "cancelled", "oom"):
                want = sum(1 for r in mine if r["status"] == status)
                self.assertEqual(value(s, "cfo_tasks", fuzzer=fuzzer, state=status), want,
                                 (fuzzer, status))
            self.assertEqual(value(s, "cfo_tasks", fuzzer=fuzzer, state="queued"), 0)
            self.assertEqual(value(s, "cfo_tasks", fuzzer=fuzzer, state="running"), 0)
            self.assertEqual(value(s, "cfo_task_attempts_total", fuzzer=fuzzer), len(mine))
            self.assertEqual(value(s, "cfo_task_duration_seconds_count", fuzzer=fuzzer),
                             len(mine))
            self.assertEqual(value(s, "cfo_task_duration_seconds_bucket", fuzzer=fuzzer,
                                   le="+Inf"), len(mine))
            self.assertAlmostEqual(value(s, "cfo_task_duration_seconds_sum", fuzzer=fuzzer),
                                   sum(r["duration"] for r in mine), delta=0.01 * len(mine))
        self.assertEqual(value(s, "cfo_results_committed_total"), len(records))
        self.assertEqual(rep["totals"]["fail"], NQUICK // 3 + 1)  # and the canary
        self.assertEqual(value(s, "cfo_dataset_writes_total", result="ok"), 1)
        self.assertEqual(value(s, "cfo_dataset_writes_total", result="failed"), 0)
        self.assertEqual(value(s, "cfo_dataset_write_retries_total"), 0)
        self.assertEqual(value(s, "cfo_run_info", run=rep["run"]), 1)

        # SIGTERM ends the linger; the exit status stays the run's.
        coord.send_signal(signal.SIGTERM)
        self.assertEqual(coord.wait(timeout=60), rep["exit_code"], self.log("coordinator"))

    def test_bad_address_is_a_usage_error(self):
        for spec in ("127.0.0.1:99999", "host:port", "127.0.0.1:"):
            p = run([binary("cfo-coordinator"), "--repo", self.repo, "--metrics", spec])
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("--metrics", p.stderr)
        p = run([binary("cfo-coordinator"), "--repo", self.repo, "--metrics-linger", "5s"])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--metrics-linger needs --metrics", p.stderr)

    def test_port_alone_is_loopback(self):
        port, mport = free_port(), free_port()
        self.spawn("coordinator", [
            binary("cfo-coordinator"), "--repo", self.repo, "--bind",
            "tcp://127.0.0.1:%d" % port, "--metrics", str(mport), "--wait-workers", "60s",
            "--workdir", os.path.join(self.tmp.path, "cwork")])
        wait_for(lambda: "metrics at http://" in self.log("coordinator"), timeout=60,
                 what="the metrics server")
        self.assertIn("metrics at http://127.0.0.1:%d/metrics" % mport, self.log("coordinator"))
        text = self.scrape("http://127.0.0.1:%d/metrics" % mport)
        self.promtool(text)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("http://127.0.0.1:%d/other" % mport, timeout=10)
        self.assertEqual(e.exception.code, 404)


if __name__ == "__main__":
    cfotest.main()
