#!/usr/bin/env python3
"""test_reports.py -- cfo-dataset report and history on a dataset with known
contents: which heat map cells are red, which commit starts each regression,
that the HTML is well-formed and self-contained, and that headless Chromium
renders the heat map (its screenshot holds the red and green cells); the
canary shown as the harness check it is; times that are each target's own;
commits in git history order, and what a target failing since its first
record is told."""

import html.parser
import json
import os
import shutil
import struct
import sys
import unittest
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

# Commit k (1..6) is the k-th oldest by time; its sha sorts the other way, so
# an order by sha instead of by time would show up in every figure.
COMMITS = [None] + ["%040x" % (0xFEED0000 - k) for k in range(1, 7)]
HOSTILE = "<script>alert('x')</script> & \"q\""

# (fuzzer, branch, target) -> status per commit 1..6 ('.' not tested).
STATUS = {"P": "pass", "F": "fail", "T": "timeout", "E": "error"}
SERIES = {
    ("DRIFT", "main", "envs/prod"): "PPPFFF",
    ("DRIFT", "main", "envs/dev"): "PPPPPP",
    ("DRIFT", "staging", "envs/prod"): "PFFFFF",
    ("FUZZ", "main", "parse"): "TP.PTE",
    ("FUZZ", "main", HOSTILE): "..FPPP",
    ("CANARY", "main", "canary"): "FFFFFF",
}
# What a reader should be told: (first commit of the failing streak, last
# pass before it), or None when the target passes now.
EXPECTED_RANGES = {
    ("DRIFT", "main", "envs/prod"): (4, 3),
    ("DRIFT", "main", "envs/dev"): None,
    ("DRIFT", "staging", "envs/prod"): (2, 1),
    ("FUZZ", "main", "parse"): (5, 4),
    ("FUZZ", "main", HOSTILE): None,
    ("CANARY", "main", "canary"): None,  # the harness check, never a failing target
}
CANARY = ("CANARY", "main", "canary")
RED = (0xD6, 0x27, 0x28)
GREEN = (0x2C, 0xA0, 0x2C)


def record(key, k, status, hour_offset=0, attempt=1):
    fuzzer, branch, target = key
    return {
        "commit": COMMITS[k], "fuzzer": fuzzer, "ok": status == "pass", "count": 3,
        "findings": 0 if status == "pass" else 1, "branch": branch, "target": target,
        "duration": 0.5 + k + (5 if fuzzer == "FUZZ" else 0),
        "command": "cfo-fuzz %s %s" % (fuzzer, target), "status": status,
        "time": "2026-11-%02dT10:%02d:00Z" % (10 + k, hour_offset + (30 if fuzzer == "FUZZ" else 0)),
        "run": "run-%d" % k,
        "worker": "w1", "attempt": attempt,
    }


def fixture_records():
    recs = []
    for key, pattern in SERIES.items():
        for i, ch in enumerate(pattern):
            if ch != ".":
                recs.append(record(key, i + 1, STATUS[ch]))
    # An older failure on the same key is not what the cell shows.
    recs.append(record(("DRIFT", "main", "envs/dev"), 2, "fail", hour_offset=0, attempt=0))
    # A cancelled record says nothing and adds no commit.
    cancelled = record(("DRIFT", "main", "envs/dev"), 6, "cancelled")
    cancelled["commit"] = "%040x" % 0xDEAD
    cancelled["time"] = "2026-11-30T10:00:00Z"
    recs.append(cancelled)
    return recs


def shown_status(key, status):
    """What a cell is drawn as: the canary's failure is a passing check."""
    return "pass" if key == CANARY and status == "fail" else status


def local(tag):
    return tag.rsplit("}", 1)[-1]


class Balanced(html.parser.HTMLParser):
    """Checks that every element is closed in order, as a browser would
    otherwise have to guess."""
    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %s" % (tag, self.stack[-1:] or "nothing"))
        else:
            self.stack.pop()


def read_png(path):
    """(width, height, rows of (r, g, b) bytes-per-pixel data, bytes per pixel)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = ihdr
    assert depth == 8 and color in (2, 6) and interlace == 0, ihdr
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def solid_squares(png, color, lo=13, hi=17, tol=8):
    """Axis-aligned solid rectangles of color between lo and hi pixels on
    each side: the heat map's cells (legend swatches and chart bars have
    other sizes)."""
    width, height, rows, bpp = png

    def near(px):
        return all(abs(px[j] - color[j]) <= tol for j in range(3))

    open_rects, found = {}, []
    for y in range(height + 1):
        runs = set()
        if y < height:
            row, x = rows[y], 0
            while x < width:
                if near(row[x * bpp:x * bpp + 3]):
                    x0 = x
                    while x < width and near(row[x * bpp:x * bpp + 3]):
                        x += 1
                    runs.add((x0, x))
                else:
                    x += 1
        for run_ in list(open_rects):
            if run_ not in runs:
                top = open_rects.pop(run_)
                w, h = run_[1] - run_[0], y - top
                if lo <= w <= hi and lo <= h <= hi:
                    found.append((run_[0], top, w, h))
        for run_ in runs:
            open_rects.setdefault(run_, y)
    return found


class Reports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = cfotest.TempDir()
        cls.data = os.path.join(cls.tmp.path, "data.json")
        with open(cls.data, "w") as f:
            json.dump({"version": 1, "window": 32, "records": fixture_records()}, f)
        cls.url = "file://" + cls.data
        cls.html_path = os.path.join(cls.tmp.path, "report.html")
        p = run([binary("cfo-dataset"), "report", cls.url, "--html", cls.html_path],
                timeout=60)
        assert p.returncode == 0, p.stderr
        cls.report_stdout = p.stdout
        with open(cls.html_path, encoding="utf-8") as f:
            cls.html = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def dataset(self, *args, check=None):
        return run([binary("cfo-dataset"), *args], cwd=self.tmp.path, timeout=60, check=check)

    def tree(self):
        return ET.fromstring(self.html.split("\n", 1)[1])  # after <!DOCTYPE html>

    def cells(self):
        out = {}
        for el in self.tree().iter():
            if local(el.tag) == "rect" and "cell" in el.get("class", "").split():
                key = (el.get("data-fuzzer"), el.get("data-branch"), el.get("data-target"))
                out[(key, el.get("data-commit"))] = el
        return out

    def test_report_says_what_it_wrote(self):
        self.assertIn("wrote %s: 6 targets, 6 commits, 3 failing now" % self.html_path,
                      self.report_stdout)

    def test_the_harness_check_comes_first(self):
        harness = [el for el in self.tree().iter() if el.get("id") == "harness"]
        self.assertEqual(len(harness), 1)
        self.assertEqual(harness[0].get("data-state"), "ok")
        text = "".join(harness[0].itertext())
        self.assertIn("canary CANARY on main failed as it must", text)
        # Before the heat map and every other section.
        self.assertLess(self.html.index('id="harness"'), self.html.index("<h2"))
        self.assertIn('data-failing="3"', self.html)
        row = [el for el in self.tree().iter() if local(el.tag) == "tr" and
               el.get("data-fuzzer") == "CANARY"]
        self.assertEqual(row[0].get("data-state"), "harness-ok")
        self.assertNotIn("failing", row[0].get("class").split())

    def test_heat_map_cells_are_coloured_by_status(self):
        cells = self.cells()
        self.assertEqual(len(cells), len(SERIES) * 6)  # the cancelled commit has no column
        for key, pattern in SERIES.items():
            for i, ch in enumerate(pattern):
                el = cells[(key, COMMITS[i + 1])]
                want = STATUS.get(ch, "untested")
                self.assertEqual(el.get("data-status"), want, (key, i + 1))
                shown = shown_status(key, want)
                self.assertEqual(el.get("fill") == "#d62728", shown == "fail", (key, i + 1))
                self.assertEqual(el.get("fill") == "#2ca02c", shown == "pass", (key, i + 1))
                self.assertEqual("canary-ok" in el.get("class").split(), key == CANARY)
        red = sorted((k[2], k[1], c) for (k, c), el in cells.items() if el.get("fill") == "#d62728")
        want_red = sorted((k[2], k[1], COMMITS[i + 1]) for k, p in SERIES.items()
                          for i, ch in enumerate(p) if ch == "F" and k != CANARY)
        self.assertEqual(red, want_red)
        # Columns run oldest to newest by time (not by sha).
        columns = [el.get("data-commit") for el in self.tree().iter()
                   if local(el.tag) == "text" and el.get("class") == "commit"]
        self.assertEqual(columns, COMMITS[1:])

    def test_regression_start_is_named_per_target(self):
        starts = {k: c for (k, c), el in self.cells().items()
                  if "regression-start" in el.get("class").split()}
        want = {k: COMMITS[r[0]] for k, r in EXPECTED_RANGES.items() if r}
        self.assertEqual(starts, want)
        rows = {}
        for el in self.tree().iter():
            if local(el.tag) == "tr" and "regression" in el.get("class", "").split():
                key = (el.get("data-fuzzer"), el.get("data-branch"), el.get("data-target"))
                rows[key] = el
                text = "".join(el.itertext())
                self.assertIn(key[2], text)
        self.assertEqual(set(rows), set(SERIES))
        for key, r in EXPECTED_RANGES.items():
            el = rows[key]
            if r is None:
                self.assertEqual(el.get("data-state"),
                                 "harness-ok" if key == CANARY else "passing", key)
                self.assertEqual(el.get("data-first-bad"), "")
                continue
            self.assertEqual(el.get("data-state"), "failing", key)
            self.assertEqual(el.get("data-first-bad"), COMMITS[r[0]], key)
            self.assertEqual(el.get("data-last-good"), COMMITS[r[1]] if r[1] else "", key)
            text = "".join(el.itertext())
            if r[1]:
                self.assertIn("%s..%s" % (COMMITS[r[1]][:12], COMMITS[r[0]][:12]), text)
            else:
                self.assertIn("failing since its first record", text)

    def test_failures_per_commit_and_durations(self):
        failing = {}
        fuzzers = {}
        for el in self.tree().iter():
            if local(el.tag) == "text" and el.get("data-failing") is not None:
                failing[el.get("data-commit")] = int(el.get("data-failing"))
            if local(el.tag) == "g" and el.get("class") == "fuzzer":
                fuzzers[el.get("data-fuzzer")] = (int(el.get("data-records")),
                                                  float(el.get("data-max")))
        for k in range(1, 7):
            want = sum(1 for key, p in SERIES.items() if p[k - 1] in "FTE" and key != CANARY)
            self.assertEqual(failing[COMMITS[k]], want, k)
        self.assertEqual(fuzzers["DRIFT"], (19, 6.5))
        self.assertEqual(fuzzers["FUZZ"][1], 11.5)
        self.assertEqual(fuzzers["CANARY"], (6, 6.5))

    def test_html_is_well_formed_and_self_contained(self):
        self.assertTrue(self.html.startswith("<!DOCTYPE html>\n"))
        root = self.tree()  # raises on malformed XML
        self.assertEqual(local(root.tag), "html")
        checker = Balanced()
        checker.feed(self.html)
        checker.close()
        self.assertEqual(checker.errors, [])
        self.assertEqual(checker.stack, [])
        tags = {local(el.tag) for el in root.iter()}
        self.assertIn("svg", tags)
        for banned in ("script", "link", "img", "iframe", "object", "embed"):
            self.assertNotIn(banned, tags)
        for el in root.iter():
            for name, value in el.attrib.items():
                if local(name) in ("src", "href"):
                    self.assertNotIn("//", value, "external reference %s=%s" % (name, value))
        self.assertNotIn("url(", self.html)
        # The hostile target is text, not markup.
        self.assertIn(HOSTILE, "".join(root.itertext()))
        self.assertNotIn("<script>", self.html)

    def test_headless_chromium_renders_the_heat_map(self):
        chromium = shutil.which("chromium")
        if chromium is None:
            self.fail("chromium is not installed (scripts/deps.sh installs it)")
        profile = os.path.join(self.tmp.path, "chromium-profile")
        png_path = os.path.join(self.tmp.path, "shot.png")
        p = run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                 "--user-data-dir=" + profile, "--screenshot=" + png_path,
                 "--window-size=1200,900", "file://" + self.html_path],
                env={"HOME": self.tmp.path}, timeout=120)
        self.assertTrue(os.path.exists(png_path), "no screenshot; chromium said:\n" + p.stderr)
        png = read_png(png_path)
        self.assertEqual(png[:2], (1200, 900))
        red = solid_squares(png, RED)
        green = solid_squares(png, GREEN)
        want_red = sum(p.count("F") for k, p in SERIES.items() if k != CANARY)
        want_green = sum(p.count("P") for p in SERIES.values()) + SERIES[CANARY].count("F")
        self.assertEqual(len(red), want_red, red)
        self.assertEqual(len(green), want_green, green)
        # The cells form one grid of at most one row per target (a cell with
        # the regression outline shows its fill a pixel inside).
        rows = []
        for y in sorted(y for _, y, _, _ in red + green):
            if not rows or y - rows[-1] > 2:
                rows.append(y)
        self.assertLessEqual(len(rows), len(SERIES))

    def test_history_prints_records_and_the_regression_range(self):
        p = self.dataset("history", self.url, "--target", "envs/prod", check=0)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith("TIME "), lines[0])
        table = [ln for ln in lines[1:] if ln and not ln.startswith(("DRIFT main", "DRIFT st",
                                                                       "  "))]
        self.assertEqual(len(table), 12)  # 6 commits x main and staging
        # In window order within each branch.
        main_rows = [ln for ln in table if " main " in ln]
        self.assertEqual([ln.split()[4] for ln in main_rows], [c[:12] for c in COMMITS[1:]])
        self.assertIn("DRIFT main envs/prod: failing since %s (2026-11-14T10:00:00Z); "
                      "last passed at %s (2026-11-13T10:00:00Z)" % (COMMITS[4][:12],
                                                                     COMMITS[3][:12]), lines)
        self.assertIn("  regression range: %s..%s" % (COMMITS[3], COMMITS[4]), lines)
        self.assertIn("DRIFT staging envs/prod: failing since %s (2026-11-12T10:00:00Z); "
                      "last passed at %s (2026-11-11T10:00:00Z)" % (COMMITS[2][:12],
                                                                     COMMITS[1][:12]), lines)
        # Narrowed to one fuzzer and branch.
        p = self.dataset("history", self.url, "--target", "envs/prod", "--branch", "staging",
                         "--fuzzer", "DRIFT", check=0)
        self.assertNotIn(" main ", p.stdout)
        self.assertIn("regression range: %s..%s" % (COMMITS[1], COMMITS[2]), p.stdout)
        # Passing and never-passed targets say so.
        p = self.dataset("history", self.url, "--target", "envs/dev", check=0)
        self.assertIn("DRIFT main envs/dev: passing, last passed at %s" % COMMITS[6][:12],
                      p.stdout)
        p = self.dataset("history", self.url, "--target", "canary", check=0)
        self.assertIn("harness check: OK (canary CANARY on main failed as it must at %s "
                      "(2026-11-16T10:00:00Z))" % COMMITS[6][:12], p.stdout)
        self.assertNotIn("regression range", p.stdout)
        self.assertNotIn("failing", p.stdout)

    def test_history_times_are_the_targets_own(self):
        # FUZZ's records are half an hour after DRIFT's on every commit: each
        # target's line carries its own record's time, not its commit's newest.
        p = self.dataset("history", self.url, "--target", "parse", check=0)
        self.assertIn("FUZZ main parse: failing since %s (2026-11-15T10:30:00Z); last passed at "
                      "%s (2026-11-14T10:30:00Z)" % (COMMITS[5][:12], COMMITS[4][:12]),
                      p.stdout.splitlines())
        p = self.dataset("history", self.url, "--target", "envs/prod", "--branch", "main",
                         check=0)
        self.assertIn("(2026-11-14T10:00:00Z)", p.stdout)
        self.assertNotIn(":30:00Z)", p.stdout.split("\n\n", 1)[1])
        rows = {}
        for el in self.tree().iter():
            if local(el.tag) == "tr" and el.get("data-fuzzer") == "DRIFT":
                rows[(el.get("data-branch"), el.get("data-target"))] = "".join(el.itertext())
        self.assertIn("2026-11-14T10:00:00Z", rows[("main", "envs/prod")])
        self.assertNotIn("10:30:00Z", rows[("main", "envs/prod")])

    def test_report_without_html_lists_failing_targets(self):
        p = self.dataset("report", self.url, check=0)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "harness check: OK (canary CANARY on main failed as it must "
                         "at %s (2026-11-16T10:00:00Z))" % COMMITS[6][:12])
        self.assertEqual(lines[1], "6 targets, 6 commits in the window, 3 failing now")
        self.assertNotIn("CANARY main canary", p.stdout)
        self.assertIn("  regression range: %s..%s" % (COMMITS[4], COMMITS[5]), p.stdout)
        self.assertNotIn("envs/dev", p.stdout)
        p = self.dataset("report", self.url, "--fuzzer", "DRIFT", check=0)
        self.assertIn("harness check: no canary record in the window", p.stdout)
        self.assertIn("3 targets, 6 commits in the window, 2 failing now", p.stdout)

    def test_usage_and_dataset_errors(self):
        self.assertEqual(self.dataset("history", self.url).returncode, 2)  # no --target
        self.assertEqual(self.dataset("history", "--target", "x").returncode, 2)  # no URL
        self.assertEqual(self.dataset("report", self.url, "--bogus").returncode, 2)
        self.assertEqual(self.dataset("report", self.url, "extra").returncode, 2)
        p = self.dataset("history", self.url, "--target", "nope")
        self.assertEqual(p.returncode, 3)
        self.assertIn("no record of target 'nope'", p.stderr)
        missing = "file://" + os.path.join(self.tmp.path, "missing.json")
        self.assertEqual(self.dataset("report", missing, "--html", "x.html").returncode, 3)
        self.assertEqual(self.dataset("history", missing, "--target", "x").returncode, 3)
        bad = os.path.join(self.tmp.path, "bad.json")
        with open(bad, "w") as f:
            f.write('{"version": 1, "records": [{"commit": ')
        p = self.dataset("report", "file://" + bad, "--html", "y.html")
        self.assertEqual(p.returncode, 3)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.path, "y.html")))
        p = self.dataset("report", self.url, "--html",
                         os.path.join(self.tmp.path, "no", "dir", "r.html"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("r.html", p.stderr)
        p = self.dataset("--help", check=0)
        self.assertIn("cfo-dataset report URL [--html FILE]", p.stdout)
        self.assertIn("cfo-dataset history URL --target NAME", p.stdout)


def git_record(fuzzer, branch, target, commit, status, day):
    rec = record((fuzzer, branch, target), 1, status)
    rec.update(commit=commit, time="2026-11-%02dT10:00:00Z" % day, run="run-%d" % day)
    return rec


class GitHistory(unittest.TestCase):
    """Commits placed by git history, read from the repository, and what a
    target failing since its first record is told."""

    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        # The repository's own configuration names its canary.
        self.m1 = cfotest.make_repo(self.repo, {"cfo.ini": '[fuzzer "SELFTEST"]\nkind = canary\n'})
        cfotest.git(self.repo, "commit", "-q", "--allow-empty", "-m", "m2")
        self.m2 = cfotest.git(self.repo, "rev-parse", "HEAD")
        cfotest.git(self.repo, "checkout", "-q", "-b", "staging")
        cfotest.git(self.repo, "commit", "-q", "--allow-empty", "-m", "s1")
        self.s1 = cfotest.git(self.repo, "rev-parse", "HEAD")
        recs = [git_record("DRIFT", "main", "envs/x", self.m1, "pass", 11),
                git_record("DRIFT", "main", "envs/x", self.m2, "pass", 12),
                git_record("DRIFT", "staging", "envs/x", self.s1, "fail", 13),
                # The oldest commit re-tested last: its record is the newest.
                git_record("DRIFT", "main", "envs/y", self.m1, "pass", 14),
                git_record("SELFTEST", "main", "canary", self.m2, "fail", 12),
                git_record("SELFTEST", "main", "canary", self.m1, "pass", 14)]
        self.data = os.path.join(self.tmp.path, "data.json")
        with open(self.data, "w") as f:
            json.dump({"version": 1, "window": 32, "records": recs}, f)
        self.url = "file://" + self.data

    def tearDown(self):
        self.tmp.cleanup()

    def dataset(self, *args, cwd=None, check=0):
        return run([binary("cfo-dataset"), *args], cwd=cwd or self.tmp.path, timeout=60,
                   check=check)

    def columns(self, *args, cwd=None):
        out = os.path.join(self.tmp.path, "r.html")
        self.dataset("report", self.url, "--html", out, *args, cwd=cwd)
        with open(out, encoding="utf-8") as f:
            tree = ET.fromstring(f.read().split("\n", 1)[1])
        order = [el.get("data-order") for el in tree.iter() if el.get("id") == "order"]
        return order, [el.get("data-commit") for el in tree.iter()
                       if local(el.tag) == "text" and el.get("class") == "commit"]

    def test_a_commit_retested_after_a_newer_one_keeps_its_place(self):
        git_order = (["git"], [self.m1, self.m2, self.s1])
        self.assertEqual(self.columns(cwd=self.repo), git_order)  # the current directory's
        self.assertEqual(self.columns("--repo", self.repo), git_order)
        # With no repository to read, record time is all there is.
        self.assertEqual(self.columns(), (["record-time"], [self.m2, self.s1, self.m1]))
        p = self.dataset("history", self.url, "--target", "envs/y", "--repo", self.repo)
        self.assertIn("passing, last passed at %s (2026-11-14T10:00:00Z)" % self.m1[:12], p.stdout)

    def test_a_repo_or_config_that_cannot_be_read_is_a_usage_error(self):
        p = self.dataset("report", self.url, "--repo", self.tmp.path, check=2)
        self.assertIn("not a git repository", p.stderr)
        # So is a configuration that cannot tell which fuzzers are canaries.
        bad = os.path.join(self.tmp.path, "bad.ini")
        with open(bad, "w") as f:
            f.write('[fuzzer "X"]\nkind = canary\nbogus = 1\n')
        p = self.dataset("history", self.url, "--target", "envs/x", "--config", bad, check=2)
        self.assertIn("bogus", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_a_first_record_that_fails_says_what_is_known(self):
        p = self.dataset("history", self.url, "--target", "envs/x", "--repo", self.repo)
        lines = p.stdout.splitlines()
        self.assertIn("DRIFT staging envs/x: broke at %s (2026-11-13T10:00:00Z); its parent %s "
                      "(2026-11-12T10:00:00Z) passed on main" % (self.s1[:12], self.m2[:12]),
                      lines)
        self.assertIn("  regression range: %s..%s" % (self.m2, self.s1), lines)
        self.assertNotIn("broken since before", p.stdout)
        # A report narrowed to the branch still sees the parent on main.
        p = self.dataset("report", self.url, "--branch", "staging", "--repo", self.repo)
        self.assertIn("DRIFT staging envs/x: broke at %s" % self.s1[:12], p.stdout)
        self.assertIn("  regression range: %s..%s" % (self.m2, self.s1), p.stdout.splitlines())
        # Without the repository the parent is unknown: only the record is.
        p = self.dataset("history", self.url, "--target", "envs/x", "--branch", "staging")
        self.assertIn("DRIFT staging envs/x: failing since its first record at %s "
                      "(2026-11-13T10:00:00Z); no earlier record in the window" % self.s1[:12],
                      p.stdout.splitlines())

    def test_a_canary_that_passed_is_shown_first_as_a_harness_problem(self):
        p = self.dataset("report", self.url, cwd=self.repo)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "HARNESS PROBLEM: canary SELFTEST on main ended 'pass' at %s "
                         "(2026-11-14T10:00:00Z) instead of failing: failures may go "
                         "unrecorded" % self.m1[:12])
        self.assertEqual(lines[1], "4 targets, 3 commits in the window, 1 failing now")
        out = os.path.join(self.tmp.path, "h.html")
        self.dataset("report", self.url, "--html", out, cwd=self.repo)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        tree = ET.fromstring(page.split("\n", 1)[1])
        harness = [el for el in tree.iter() if el.get("id") == "harness"][0]
        self.assertEqual(harness.get("data-state"), "broken")
        self.assertIn("canary SELFTEST on main did not fail", "".join(harness.itertext()))
        self.assertLess(page.index('id="harness"'), page.index("<h2"))
        broken = [el for el in tree.iter() if "canary-broken" in el.get("class", "").split()]
        self.assertEqual([el.get("data-commit") for el in broken], [self.m1])
        # --config names the canaries when given: SELFTEST is then a target
        # like any other, failing on the newest commit it ran on.
        ini = os.path.join(self.tmp.path, "other.ini")
        with open(ini, "w") as f:
            f.write('[fuzzer "DRIFT"]\nkind = canary\n')
        p = self.dataset("report", self.url, "--config", ini, cwd=self.repo)
        self.assertTrue(p.stdout.startswith("HARNESS PROBLEM: canary DRIFT on main"), p.stdout)
        self.assertIn("SELFTEST main canary: failing since %s" % self.m2[:12], p.stdout)


if __name__ == "__main__":
    cfotest.main()
