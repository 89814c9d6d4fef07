"""bench/run.py in smoke mode: the one command runs every benchmark with small
sizes and writes results.json and results.md with a figure for each, and
leaves no process behind. No timing is asserted: the figures mean nothing at
these sizes."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402

EXPECTED = ("dispatch", "scale-out", "merge", "coordinator footprint", "scale", "infra_drift cache",
            "engine throughput", "coverage cost")


class BenchSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = cfotest.TempDir()
        cls.out = os.path.join(cls.tmp.path, "results.json")
        cls.proc = subprocess.run(
            [sys.executable, os.path.join(cfotest.SRC, "bench", "run.py"), "--smoke",
             "--bin", cfotest.BIN, "--out", cls.out],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=400,
            env=dict(os.environ, TMPDIR=cls.tmp.path))
        with open(cls.out) as f:
            cls.results = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_command_succeeds(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout[-4000:])

    def test_every_benchmark_has_numbers(self):
        by_name = {b["name"]: b for b in self.results["benchmarks"]}
        self.assertEqual(sorted(by_name), sorted(EXPECTED))
        for name, b in by_name.items():
            self.assertNotIn("error", b, name)
            if b.get("skipped"):
                self.assertEqual(name, "infra_drift cache", "only terraform may be missing")
                continue
            self.assertTrue(b["metrics"], name)
            for m, v in b["metrics"].items():
                self.assertIsInstance(v["median"], (int, float), "%s %s" % (name, m))
                self.assertGreater(v["median"], 0, "%s %s" % (name, m))
            for t in b["targets"]:
                self.assertIsInstance(t["value"], (int, float), name)
                self.assertIsInstance(t["met"], bool, name)
        self.assertEqual(len(by_name["dispatch"]["targets"]), 3)
        self.assertTrue(by_name["merge"]["derived"]["outputs_identical"])

    def test_machine_is_described(self):
        m = self.results["machine"]
        for k in ("nproc", "cpu", "memory_bytes", "kernel"):
            self.assertTrue(m[k], k)
        self.assertTrue(self.results["smoke"])

    def test_markdown_table_names_every_target(self):
        with open(os.path.splitext(self.out)[0] + ".md") as f:
            md = f.read()
        self.assertIn("| benchmark |", md)
        for b in self.results["benchmarks"]:
            for t in b["targets"]:
                self.assertIn(t["name"], md)

    def test_no_process_is_left_behind(self):
        self.assertEqual(cfotest.processes_with(self.tmp.path), [])


if __name__ == "__main__":
    cfotest.main()
