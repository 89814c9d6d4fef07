"""Findings end to end with real libFuzzer on examples/fuzz-parser: the planted crash is found
on commit A (open, on main and release); commit B fixes it on main, so the next run's replay of
the bundle marks it fixed there (last_bad A, fixed B) while release, still at A, keeps it open;
release moves to B and the finding is fixed; commit C brings the bug back and the next run
reopens it as regressed. notify_command hears opened, fixed and regressed. Pull requests
(--changed-since): a crash the base already has is pre-existing (exit 0, listed); one the
change brings is new (exit 1)."""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402

EXAMPLE = os.path.join(cfotest.SRC, "examples", "fuzz-parser")
RUN_BOUND = 600
BUGGY = "for (size_t i = 0; i < vlen - 1; i++)"
FIXED = "for (size_t i = 0; i < size; i++)"
CRASH_PREFIX = "crash:out-of-bounds-write:parse_blob"
# A RECF file of one tag record: "CFO!", a blob declaring 1 byte and
# carrying 10, which parse_blob copies past the end of its buffer.
CRASH_INPUT = b"RECF\x01\x00\x00\x01" + b"\x03\x00\x0f" + b"CFO!\x01" + b"A" * 10

CONFIG = """
[cfo]
dataset = file://%(store)s/data.json
notify_command = sh %(notify)s %(events)s

[fuzzer "LIBFUZZER"]
kind = libfuzzer
branches = %(branches)s
build = ./build.sh
targets_dir = out/libfuzzer
seeds = fuzz/seeds
corpus = file://%(store)s
fuzz_time = %(fuzz)s
input_timeout = 1s
reproduce_runs = 2
triage_time = 60s
fail_on = crash
critical = true
merge = accumulate
"""


class FindingsE2E(cfotest.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = cfotest.TempDir("cfo-findings-e2e-")
        t = cls.tmp.path
        cls.repo = os.path.join(t, "repo")
        run(["sh", os.path.join(EXAMPLE, "make-repo.sh"), cls.repo], check=0)
        # One target keeps each run to one task a branch.
        git(cls.repo, "rm", "-q", "fuzz/fuzz_header.c")
        git(cls.repo, "commit", "-q", "-m", "only the parser target")
        cls.a = git(cls.repo, "rev-parse", "HEAD")
        git(cls.repo, "branch", "release")
        cls.store = os.path.join(t, "store")
        cls.events = os.path.join(t, "events.jsonl")
        cls.notify = os.path.join(t, "notify.sh")
        with open(cls.notify, "w") as f:
            f.write('cat >> "$1"\n')
        cls.data = os.path.join(cls.store, "data.json")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def cfo(self, branches, fuzz, *extra, name="cfo.ini"):
        cfg = os.path.join(self.tmp.path, name)
        with open(cfg, "w") as f:
            f.write(CONFIG % {"store": self.store, "notify": self.notify, "events": self.events,
                              "branches": branches, "fuzz": fuzz})
        return run([binary("cfo"), "--repo", self.repo, "--config", cfg, "--task-timeout", "5m",
                    "--concurrency", "2", *extra], timeout=RUN_BOUND)

    def commit_parser(self, old, new, message):
        path = os.path.join(self.repo, "src", "parser.c")
        with open(path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, "w") as f:
            f.write(text.replace(old, new))
        git(self.repo, "commit", "-q", "-am", message)
        return git(self.repo, "rev-parse", "HEAD")

    def finding(self):
        with open(self.data) as f:
            doc = json.load(f)
        crashes = [x for x in doc["findings"] if x["crash_state"].startswith(CRASH_PREFIX)]
        self.assertEqual(len(crashes), 1, json.dumps(doc["findings"], indent=1))
        return crashes[0]

    def events_seen(self):
        if not os.path.exists(self.events):
            return []
        with open(self.events) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_1_found_on_a(self):
        # The stored corpus holds an input that reaches the planted crash, as
        # a team's corpus would: what this test follows is the finding's life,
        # not the search (from the seeds alone libFuzzer can run into the
        # planted hang first and spend the time on it).
        corpus = os.path.join(self.store, "corpus", "LIBFUZZER", "fuzz_parser")
        os.makedirs(corpus)
        with open(os.path.join(corpus, hashlib.sha1(CRASH_INPUT).hexdigest()), "wb") as f:
            f.write(CRASH_INPUT)
        r = self.cfo("main release", "20s", "--upload")
        self.assertEqual(r.returncode, 1, r.stdout[-4000:] + r.stderr[-3000:])
        f = self.finding()
        self.assertEqual(f["state"], "open")
        self.assertEqual(f["first"]["commit"], self.a)
        self.assertEqual(f["branches"], {"main": "open", "release": "open"})
        self.assertTrue(os.path.exists(f["bundle"]), f)
        self.assertEqual([(e["event"], e["finding"]["id"]) for e in self.events_seen()
                          if e["finding"]["id"] == f["id"]], [("opened", f["id"])])
        self.assertIn("findings of this run's targets:", r.stdout)
        type(self).fid = f["id"]

    def test_2_fixed_on_main_open_on_release(self):
        self.assertTrue(getattr(self, "fid", None), "needs test_1")
        type(self).b = self.commit_parser(BUGGY, FIXED, "fix parse_blob")
        r = self.cfo("main release", "2s", "--upload")
        self.assertEqual(r.returncode, 1, r.stdout[-4000:] + r.stderr[-3000:])
        f = self.finding()
        self.assertEqual(f["branches"], {"main": "fixed", "release": "open"})
        self.assertEqual(f["history"]["main"]["fixed"]["commit"], self.b)
        self.assertEqual(f["history"]["main"]["fixed"]["last_bad"], self.a)
        self.assertEqual(f["state"], "open")

    def test_3_fixed_everywhere(self):
        self.assertTrue(getattr(self, "b", None), "needs test_2")
        git(self.repo, "branch", "-f", "release", self.b)
        sarif = os.path.join(self.tmp.path, "run.sarif")
        r = self.cfo("main release", "2s", "--upload", "--sarif", sarif)
        self.assertEqual(r.returncode, 0, r.stdout[-4000:] + r.stderr[-3000:])
        f = self.finding()
        self.assertEqual(f["state"], "fixed")
        self.assertEqual(f["fixed"]["commit"], self.b)
        self.assertEqual(f["fixed"]["last_bad"], self.a)
        self.assertEqual(f["branches"], {"main": "fixed", "release": "fixed"})
        self.assertIn(("fixed", f["id"]), [(e["event"], e["finding"]["id"])
                                           for e in self.events_seen()])
        # The example's planted hang is another finding, still open; the
        # crash is not among the open ones any more.
        with open(sarif) as fh:
            ids = [x["partialFingerprints"]["cfoFinding/v1"]
                   for x in json.load(fh)["runs"][0]["results"]]
        self.assertNotIn(f["id"], ids)

    def test_4_regressed_on_c(self):
        self.assertTrue(getattr(self, "b", None), "needs test_2")
        git(self.repo, "checkout", "-q", "main")
        type(self).c = self.commit_parser(FIXED, BUGGY, "bring the old loop back")
        sarif = os.path.join(self.tmp.path, "run.sarif")
        r = self.cfo("main", "2s", "--upload", "--sarif", sarif)
        self.assertEqual(r.returncode, 1, r.stdout[-4000:] + r.stderr[-3000:])
        f = self.finding()
        self.assertEqual(f["state"], "open")
        self.assertEqual(f["regressed"], 1)
        self.assertEqual(f["branches"]["main"], "open")
        self.assertEqual(f["last"]["commit"], self.c)
        self.assertEqual([e["event"] for e in self.events_seen()
                          if e["finding"]["id"] == f["id"]], ["opened", "fixed", "regressed"])
        with open(sarif) as fh:
            results = [x for x in json.load(fh)["runs"][0]["results"]
                       if x["partialFingerprints"]["cfoFinding/v1"] == f["id"]]
        self.assertEqual(len(results), 1)
        self.assertEqual(results[0]["ruleId"], "crash")
        self.assertEqual(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                         "src/parser.c")

    def test_5_pull_requests(self):
        self.assertTrue(getattr(self, "c", None), "needs test_4")
        # A change on top of main (which has the crash): pre-existing.
        git(self.repo, "checkout", "-q", "-b", "pr-old", "main")
        with open(os.path.join(self.repo, "README.md"), "a") as f:
            f.write("\nA documentation change.\n")
        git(self.repo, "commit", "-q", "-am", "docs")
        junit = os.path.join(self.tmp.path, "pr-old.xml")
        r = self.cfo("pr-old", "2s", "--changed-since", "main", "--junit", junit, name="pr.ini")
        self.assertEqual(r.returncode, 0, r.stdout[-4000:] + r.stderr[-3000:])
        self.assertIn("pre-existing: " + CRASH_PREFIX, r.stdout + r.stderr)
        self.assertIn("pre-existing", r.stdout)
        with open(junit) as f:
            text = f.read()
        # every finding of the change (the crash, the example's hangs) is the base's
        self.assertRegex(text, r'<testsuite name="findings" tests="\d+" failures="0"')
        self.assertRegex(text, r'name="out-of-bounds-write in parse_blob[^"]*">\n'
                               r'      <system-out>pre-existing: ')
        # A change on top of release (fixed) that brings the bug: new, fails.
        git(self.repo, "checkout", "-q", "-b", "pr-new", "release")
        self.commit_parser(FIXED, BUGGY, "a change that brings the overflow back")
        r = self.cfo("pr-new", "2s", "--changed-since", "release", name="pr.ini")
        self.assertEqual(r.returncode, 1, r.stdout[-4000:] + r.stderr[-3000:])
        self.assertIn("new: " + CRASH_PREFIX, r.stdout + r.stderr)


if __name__ == "__main__":
    cfotest.main()
