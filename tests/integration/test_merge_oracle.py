#!/usr/bin/env python3
"""`cfo-dataset merge` against bench/merge_baseline.py, the merge rules written
again in Python: on random record sets both give the same records in the same
order, and between them the sets exercise every rule."""

import datetime
import json
import os
import random
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

BASELINE = os.path.join(cfotest.SRC, "bench", "merge_baseline.py")

# DRIFT: SUPERSEDE by its merge key; PARSER: ACCUMULATE by its merge key;
# LINT: an exec fuzzer on its kind's default (SUPERSEDE); GHOST: named by no
# configuration (ACCUMULATE).
CONFIG_FUZZERS = """
[fuzzer "DRIFT"]
kind = infra_drift
merge = supersede

[fuzzer "PARSER"]
kind = exec
run = ./fuzz/run {target}
merge = accumulate

[fuzzer "LINT"]
kind = exec
run = ./lint {target}
"""
FUZZERS = ("DRIFT", "PARSER", "LINT", "GHOST")
STATUSES = ("pass", "pass", "pass", "fail", "fail", "timeout", "error", "cancelled", "oom")
RULES = ("cancelled", "dedup", "newest", "supersede", "window")
BASE_MS = 1795000000000  # 2026-11-18


def canonical_time(ms):
    """The form every writer produces: seconds, plus .mmm when not whole."""
    s = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%S")
    return s + (".%03dZ" % (ms % 1000) if ms % 1000 else "Z")


def time_text(rng, ms):
    """ms in canonical form mostly, else in another form both parsers read."""
    if rng.random() < 0.6:
        return canonical_time(ms)
    s = canonical_time(ms)
    date, clock, frac = s[:10], s[11:19], ms % 1000
    sep = rng.choice("Tt ")
    zone = rng.choice(["Z", "z", "+00:00"])
    form = rng.randrange(4)
    if form == 0:
        fraction = ".%03d" % frac  # milliseconds written even when zero
    elif form == 1:
        fraction = ".%03d%s" % (frac, "".join(rng.choice("0123456789")
                                               for _ in range(rng.randrange(1, 7))))
    elif form == 2 and frac % 100 == 0:
        fraction = ".%d" % (frac // 100)  # one digit: tenths
    else:
        fraction = ".%03d" % frac if frac else ""
    return date + sep + clock + fraction + zone


def random_records(rng, n, commits, times):
    """n records over small alphabets, so that keys, times and whole records
    collide: exact copies, near copies, cancelled records, absent or null
    time/run/attempt, and times in several textual forms."""
    runs = ["run-%d" % i for i in range(3)]
    recs, ms_of = [], []  # ms_of: each record's time, None when it has none
    while len(recs) < n:
        roll = rng.random()
        if recs and roll < 0.10:
            k = rng.randrange(len(recs))
            recs.append(dict(recs[k]))  # the same result delivered again
            ms_of.append(ms_of[k])
            continue
        if recs and roll < 0.22:
            k = rng.randrange(len(recs))
            o = dict(recs[k])  # a near copy
            ms_of.append(ms_of[k])
            change = rng.randrange(5)
            if change == 0:
                o["duration"] = rng.choice([0.5, 1.25, 7])
                o["worker"] = rng.choice(["w1", "w2", None])
            elif change == 1:
                o["count"] = rng.randrange(5)
            elif change == 2 and ms_of[k] is not None:
                o["time"] = time_text(rng, ms_of[k])  # the same instant, maybe in another form
            elif change == 3:
                o["attempt"] = rng.randint(1, 3)
            else:
                o["run"] = rng.choice(runs + [None])
            recs.append(o)
            continue
        status = rng.choice(STATUSES)
        fuzzer = rng.choice(FUZZERS)
        target = rng.choice(["a", "b", "envs/c", "d/é"])
        o = {"commit": rng.choice(commits), "fuzzer": fuzzer, "ok": status == "pass",
             "count": rng.randrange(5), "branch": rng.choice(["main", "staging"]),
             "target": target, "duration": rng.choice([0, 0.5, 1.25, 3, 7.125]),
             "command": "cfo-fuzz %s %s" % (fuzzer, target)}
        if rng.random() < 0.8:
            o["findings"] = rng.randrange(3)
        if status not in ("pass", "fail") or rng.random() < 0.85:
            o["status"] = status
        roll = rng.random()
        ms_of.append(rng.choice(times) if roll < 0.85 else None)
        if roll < 0.85:
            o["time"] = time_text(rng, ms_of[-1])
        elif roll < 0.9:
            o["time"] = None
        roll = rng.random()
        if roll < 0.8:
            o["run"] = rng.choice(runs)
        elif roll < 0.85:
            o["run"] = None
        if rng.random() < 0.6:
            o["worker"] = rng.choice(["w1", "w2"])
        roll = rng.random()
        if roll < 0.8:
            o["attempt"] = rng.randint(1, 3)
        elif roll < 0.85:
            o["attempt"] = None
        roll = rng.random()
        if roll < 0.4:
            o["cpu"] = rng.choice([0, 0.25, 1.5, 12])
            o["max_rss_kb"] = rng.randrange(1 << 20)
        elif roll < 0.45:
            o["cpu"] = 2  # alone: not kept, in C or here
        if rng.random() < 0.2:
            o["crashes"] = rng.choice([[], [{"signature": "crash:SEGV:f|g", "kind": "crash",
                                             "new": True, "repro": "3/3", "bundle": "b/é.tgz"}],
                                       [{"signature": "timeout:timeout:loop", "n": 2},
                                        {"signature": "oom:out-of-memory:", "x": None}]])
        recs.append(o)
    rng.shuffle(recs)
    return recs


class MergeOracle(unittest.TestCase):
    maxDiff = None  # a differing record is shown whole

    def setUp(self):
        self.tmp = cfotest.TempDir(prefix="cfo-merge-oracle-")

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.path, name)

    def write_json(self, name, obj):
        with open(self.path(name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
        return self.path(name)

    def merge_both(self, tag, old, batches, window=None, old_window=32):
        """Merges batches into the dataset old (None: no dataset yet) with
        cfo-dataset and with the baseline, each into its own copy. Returns
        (C document, baseline document, baseline stats)."""
        config = self.path(tag + ".ini")
        with open(config, "w") as f:
            if window is not None:
                f.write("[cfo]\nwindow = %d\n" % window)
            f.write(CONFIG_FUZZERS)
        ours, theirs = self.path(tag + "-c.json"), self.path(tag + "-py.json")
        if old is not None:
            src = self.write_json(tag + "-old.json",
                                  {"version": 1, "window": old_window, "records": old})
            shutil.copy(src, ours)
            shutil.copy(src, theirs)
        inputs = [self.write_json("%s-in%d.json" % (tag, i), b) for i, b in enumerate(batches)]
        run([binary("cfo-dataset"), "merge", "--into", "file://" + ours, "--config", config,
             *inputs], cwd=self.tmp.path, check=0)
        p = run([sys.executable, BASELINE, "--into", theirs, "--config", config, "--stats",
                 *inputs], cwd=self.tmp.path, check=0)
        stats = json.loads(p.stdout.strip().splitlines()[-1])
        with open(ours, encoding="utf-8") as f:
            c_doc = json.load(f)
        with open(theirs, encoding="utf-8") as f:
            py_doc = json.load(f)
        return c_doc, py_doc, stats

    def assert_same(self, c_doc, py_doc, what):
        """The two documents hold the same records in the same order."""
        self.assertEqual(c_doc.get("version"), 2, what)
        self.assertEqual(c_doc.get("window"), py_doc.get("window"), what + ": window")
        a, b = c_doc["records"], py_doc["records"]
        for i, (x, y) in enumerate(zip(a, b)):
            self.assertEqual(x, y, "%s: record %d differs (cfo-dataset, baseline)" % (what, i))
        self.assertEqual(len(a), len(b), "%s: record counts differ" % what)

    def test_random_sets_merge_alike_and_cover_every_rule(self):
        total = dict.fromkeys(RULES, 0)
        for seed in range(12):
            rng = random.Random(seed)
            commits = ["%040x" % rng.getrandbits(160) for _ in range(rng.randrange(3, 12))]
            times = [BASE_MS + rng.randrange(60) * 1000 + rng.choice([0, 0, 0, 7, 250, 999])
                     for _ in range(rng.randrange(6, 16))]
            recs = random_records(rng, rng.randrange(120, 500), commits, times)
            cut1 = rng.randrange(1, len(recs) - 1)
            cut2 = rng.randrange(cut1, len(recs))
            # Odd seeds leave the window to the dataset, even ones set it in the config.
            window = rng.choice([2, 3, 5, 32])
            c_doc, py_doc, stats = self.merge_both(
                "s%d" % seed, recs[:cut1], [recs[cut1:cut2], recs[cut2:]],
                window=window if seed % 2 == 0 else None,
                old_window=32 if seed % 2 == 0 else window)
            self.assertEqual(py_doc["window"], window, "seed %d" % seed)
            self.assert_same(c_doc, py_doc, "seed %d" % seed)
            self.assertGreater(len(c_doc["records"]), 0, "seed %d kept nothing" % seed)
            for rule in RULES:
                total[rule] += stats[rule]
        for rule in RULES:
            self.assertGreater(total[rule], 0, "no random set exercised rule '%s'" % rule)

    def test_window_tie_goes_to_the_larger_sha(self):
        rng = random.Random(7)
        shas = ["%040x" % rng.getrandbits(160) for _ in range(4)]
        newest, tied = shas[0], shas[1:]
        recs = []
        for sha in shas:  # one commit newest, three tied at the same newest time
            for fuzzer, sec in (("PARSER", 1), ("DRIFT", 2)):
                ms = BASE_MS + (9 if sha == newest else sec) * 1000
                recs.append({"commit": sha, "fuzzer": fuzzer, "ok": False, "count": 1,
                             "findings": 1, "branch": "main", "target": "t", "duration": 1,
                             "command": "x", "status": "fail", "time": canonical_time(ms),
                             "run": "r", "attempt": 1})
        c_doc, py_doc, stats = self.merge_both("tie", None, [recs], window=2)
        self.assert_same(c_doc, py_doc, "tie")
        self.assertTrue(stats["window_tie"], "the case must put a tie at the window's edge")
        self.assertEqual(sorted({r["commit"] for r in c_doc["records"]}),
                         sorted([newest, max(tied)]))
        self.assertEqual(len(c_doc["records"]), 4)

    def test_supersede_removes_older_failures_on_any_commit(self):
        def rec(commit, fuzzer, ok, sec):
            return {"commit": commit * 40, "fuzzer": fuzzer, "ok": ok, "count": 1,
                    "branch": "main", "target": "m", "duration": 1, "command": "c",
                    "status": "pass" if ok else "fail",
                    "time": canonical_time(BASE_MS + sec * 1000), "run": "r%d" % sec,
                    "attempt": 1}
        recs = []
        for fuzzer in FUZZERS:
            recs += [rec("a", fuzzer, False, 1), rec("b", fuzzer, False, 2),
                     rec("c", fuzzer, True, 3), rec("d", fuzzer, False, 4)]
        c_doc, py_doc, stats = self.merge_both("supersede", None, [recs[:8], recs[8:]],
                                               window=32)
        self.assert_same(c_doc, py_doc, "supersede")
        self.assertEqual(stats["supersede"], 4)
        for fuzzer in ("DRIFT", "LINT"):  # SUPERSEDE: the pass on c clears a and b
            kept = [(r["commit"][0], r["ok"]) for r in c_doc["records"] if r["fuzzer"] == fuzzer]
            self.assertEqual(kept, [("c", True), ("d", False)], fuzzer)
        for fuzzer in ("PARSER", "GHOST"):  # ACCUMULATE: every failure stays
            kept = [r["commit"][0] for r in c_doc["records"] if r["fuzzer"] == fuzzer]
            self.assertEqual(kept, ["a", "b", "c", "d"], fuzzer)

    def test_both_write_byte_identical_files(self):
        rng = random.Random(1234)
        commits = ["%040x" % rng.getrandbits(160) for _ in range(8)]
        times = [BASE_MS + rng.randrange(600) * 250 for _ in range(40)]
        recs = random_records(rng, 400, commits, times)
        c_doc, py_doc, _ = self.merge_both("bytes", recs[:150], [recs[150:300], recs[300:]],
                                           window=5)
        self.assert_same(c_doc, py_doc, "bytes")
        with open(self.path("bytes-c.json"), "rb") as f:
            ours = f.read()
        with open(self.path("bytes-py.json"), "rb") as f:
            theirs = f.read()
        # The oracle knows records only: the records, from their key to the
        # end, are byte for byte the same; what comes before them in ours is
        # version 2's strategies and findings.
        key = b'"records":['
        self.assertTrue(ours.startswith(b'{"version":2,"window":5,\n"strategies":'), ours[:80])
        self.assertEqual(ours[ours.index(key):], theirs[theirs.index(key):])


if __name__ == "__main__":
    cfotest.main()
