"""The libfuzzer and afl kinds end to end, with the real engines (clang 14's
libFuzzer, AFL++) on examples/fuzz-parser: the planted crash is found by two
workers at once and stored once, minimized, bundled and reproduced from the
bundle in a clean checkout; the hang is a timeout finding; the corpus is
shared during a run, grows, and the next run starts from it; racing uploads
lose nothing; cfo-corpus minimize prunes the stored corpus."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402

EXAMPLE = os.path.join(cfotest.SRC, "examples", "fuzz-parser")

# Measured on a 2-core machine: libFuzzer finds the crash within 2 s from
# fuzz/seeds and the hang within about 10 s from fuzz/seeds-index; AFL++ with the dictionary build.sh makes (out/afl/<t>.dict,
# passed as -x) finds the crash in seconds (a short per-input timeout keeps
# the hangs it runs into from eating its time). The fuzz times leave a wide
# margin; the crash inputs come from fuzzing, not from the test.
LIBFUZZER_TIME = "30s"
LIBFUZZER_SECOND_TIME = "10s"
LIBFUZZER_SINGLE_HOST_TIME = "15s"
AFL_TIME = "60s"
SYNC_INTERVAL = "3s"
# Every run must end well inside this (fuzzing + triage + build).
RUN_BOUND = 300

CRASH_PREFIX = "crash:out-of-bounds-write:parse_blob"
# A hang's stack is wherever the timer caught the loop: parse_index, or
# recf_parse where the loop was inlined.
HANG_PREFIX = "timeout:"


def make_example_repo(path):
    run(["sh", os.path.join(EXAMPLE, "make-repo.sh"), path], check=0)
    return git(path, "rev-parse", "HEAD")


def config(store, libfuzzer_time, with_afl=True):
    """LIBFUZZER fuzzes from the valid seeds (the crash); HANG from the
    seeds near the hang, since every libFuzzer run ends at its first hang;
    AFL++, which fuzzes on past hangs, from both."""
    text = """
[cfo]
dataset = file://%(store)s/data.json

[fuzzer "LIBFUZZER"]
kind = libfuzzer
build = ./build.sh
targets_dir = out/libfuzzer
seeds = fuzz/seeds
fuzz_time = %(lf)s
input_timeout = 1s
sync_interval = %(sync)s
reproduce_runs = 3
triage_time = 90s
prune_factor = 0

[fuzzer "HANG"]
kind = libfuzzer
build = ./build.sh
targets_dir = out/libfuzzer
seeds = fuzz/seeds-index
fuzz_time = %(lf)s
input_timeout = 1s
reproduce_runs = 2
triage_time = 90s
fail_on = timeout
"""
    if with_afl:
        text += """
[fuzzer "AFL"]
kind = afl
build = ./build.sh
targets_dir = out/afl
seeds = fuzz/seeds fuzz/seeds-index
fuzz_time = %(afl)s
input_timeout = 300ms
sync_interval = %(sync)s
reproduce_runs = 2
triage_time = 90s
prune_factor = 0
"""
    return text % {"store": store, "lf": libfuzzer_time, "afl": AFL_TIME,
                   "sync": SYNC_INTERVAL}


class FuzzRun:
    """cfo-fuzz FUZZER TARGET in cwd, with a result pipe as a worker gives it."""

    def __init__(self, cfg, fuzzer, target, cwd, keep_work=False, env=None):
        self.read_fd, write_fd = os.pipe()
        env = dict(os.environ, **(env or {}))
        env["CFO_RESULT_FD"] = str(write_fd)
        env["CFO_TASK_TIMEOUT_MS"] = str(RUN_BOUND * 1000)
        env["CFO_REPO_ROOT"] = cwd
        if keep_work:
            env["CFO_ENGINE_KEEP_WORK"] = "1"
        self.proc = subprocess.Popen([binary("cfo-fuzz"), "--config", cfg, fuzzer, target],
                                     cwd=cwd, env=env, pass_fds=(write_fd,),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
        os.close(write_fd)

    def wait(self):
        out, _ = self.proc.communicate(timeout=RUN_BOUND + 60)
        with os.fdopen(self.read_fd, "r") as f:
            text = f.read()
        self.rc = self.proc.returncode
        self.out = out
        self.result = json.loads(text) if text else {}
        return self

    def findings(self, prefix):
        return [c for c in self.result.get("crashes", []) if c["signature"].startswith(prefix)]

    def work(self):
        m = re.search(r"^work: (.+)$", self.out, re.M)
        return m.group(1) if m else None

    def describe(self):
        return "exit %s\nresult %s\noutput tail:\n%s" % (self.rc, json.dumps(self.result),
                                                         self.out[-3000:])


def files(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def sha1_of(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


class Engines(cfotest.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = cfotest.TempDir("cfo-engines-")
        t = cls.tmp.path
        cls.repo = os.path.join(t, "repo")
        cls.commit = make_example_repo(cls.repo)
        cls.store = os.path.join(t, "store")
        cls.cfg = os.path.join(t, "cfo.ini")
        with open(cls.cfg, "w") as f:
            f.write(config(cls.store, LIBFUZZER_TIME))
        cls.cfg2 = os.path.join(t, "cfo-second.ini")
        with open(cls.cfg2, "w") as f:
            f.write(config(cls.store, LIBFUZZER_SECOND_TIME))
        # Two workers' worktrees of one commit.
        cls.w1 = os.path.join(t, "w1")
        cls.w2 = os.path.join(t, "w2")
        git(cls.repo, "worktree", "add", "-q", "--detach", cls.w1, cls.commit)
        git(cls.repo, "worktree", "add", "-q", "--detach", cls.w2, cls.commit)
        cls.lf = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def crash_dir(self, fuzzer):
        return os.path.join(self.store, "crashes", fuzzer, "fuzz_parser")

    def corpus_dir(self, fuzzer):
        return os.path.join(self.store, "corpus", fuzzer, "fuzz_parser")

    # ---- libFuzzer: two workers at once ----

    def test_1_libfuzzer_two_workers_one_bundle(self):
        seeds = len(files(os.path.join(self.repo, "fuzz", "seeds", "fuzz_parser")))
        a = FuzzRun(self.cfg, "LIBFUZZER", "fuzz_parser", self.w1, keep_work=True)
        b = FuzzRun(self.cfg, "LIBFUZZER", "fuzz_parser", self.w2, keep_work=True)
        a.wait()
        b.wait()
        for r in (a, b):
            if r.work():
                self.addCleanup(shutil.rmtree, r.work(), True)
        for r in (a, b):
            self.assertEqual(r.rc, 1, r.describe())
            self.assertGreater(r.result["count"], 1000, r.describe())
            self.assertEqual(len(r.findings(CRASH_PREFIX)), 1, r.describe())
            new = [c for c in r.result["crashes"] if c["new"]]
            self.assertEqual(r.result["findings"], len(new), r.describe())
            self.assertIn("build:", r.out)
        # Both found the planted crash; it is one signature with one bundle,
        # new for exactly one of them.
        ca, cb = a.findings(CRASH_PREFIX)[0], b.findings(CRASH_PREFIX)[0]
        self.assertEqual(ca["signature"], cb["signature"])
        self.assertEqual(ca["bundle"], cb["bundle"])
        self.assertEqual(sorted([ca["new"], cb["new"]]), [False, True],
                         a.describe() + b.describe())
        sig_hash = os.path.basename(ca["bundle"])[:-len(".tar.gz")]
        self.assertTrue(os.path.exists(ca["bundle"]))
        self.assertIn(sig_hash + ".tar.gz", files(self.crash_dir("LIBFUZZER")))
        self.assertRegex(ca["repro"], r"^\d+/\d+$")
        # One bundle per signature across both workers.
        sigs = {c["signature"] for r in (a, b) for c in r.result["crashes"]}
        self.assertEqual(len(files(self.crash_dir("LIBFUZZER"))), len(sigs))
        # They shared inputs while running, not only at the end.
        pulled = [int(m) for r in (a, b)
                  for m in re.findall(r"(\d+) pulled from other runs", r.out)]
        self.assertEqual(len(pulled), 2)
        self.assertGreater(sum(pulled), 0, a.out[-2000:] + b.out[-2000:])
        # Racing uploads lost nothing: every input either run kept is stored.
        stored = set(files(self.corpus_dir("LIBFUZZER")))
        for r in (a, b):
            work = r.work()
            self.assertIsNotNone(work)
            corpus = os.path.join(work, "corpus")
            names = files(corpus)
            self.assertGreater(len(names), seeds)
            missing = [n for n in names if sha1_of(os.path.join(corpus, n)) not in stored]
            self.assertEqual(missing, [])
        self.assertGreater(len(stored), seeds)
        # A worker builds once per commit: the second task in w1 skips it.
        stamps = [n for n in files(os.path.join(self.w1, ".cfo")) if n.startswith("build-")]
        self.assertEqual(len(stamps), 1)
        type(self).lf = {"crash": ca, "stored": len(stored),
                         "bundles": set(files(self.crash_dir("LIBFUZZER")))}

    def test_1b_libfuzzer_hang_is_a_timeout_finding(self):
        r = FuzzRun(self.cfg, "HANG", "fuzz_parser", self.w1).wait()
        # fail_on = timeout: the hang fails the task.
        self.assertEqual(r.rc, 1, r.describe())
        hangs = r.findings(HANG_PREFIX)
        self.assertTrue(hangs, r.describe())
        for h in hangs:
            self.assertEqual(h["kind"], "timeout")
            self.assertTrue(h["new"])
            self.assertTrue(os.path.exists(h["bundle"]))
        with tarfile.open(hangs[0]["bundle"]) as tf:
            manifest = json.load(tf.extractfile("./manifest.json"))
        self.assertEqual(manifest["kind"], "timeout")
        self.assertEqual(manifest["type"], "timeout")
        type(self).hang = hangs[0]

    def test_2_next_commit_known_and_starts_from_corpus(self):
        self.assertTrue(self.lf, "needs test_1")
        stored_before = len(files(self.corpus_dir("LIBFUZZER")))
        cfotest.write_files(self.repo, {"NOTES": "a second commit\n"})
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "notes")
        w3 = os.path.join(self.tmp.path, "w3")
        git(self.repo, "worktree", "add", "-q", "--detach", w3, "HEAD")
        r = FuzzRun(self.cfg2, "LIBFUZZER", "fuzz_parser", w3).wait()
        # It started from everything the first runs stored.
        m = re.search(r"^corpus: (\d+) inputs from", r.out, re.M)
        self.assertIsNotNone(m, r.describe())
        self.assertEqual(int(m.group(1)), stored_before)
        # What the earlier commit's runs found is known, not new, and a known
        # crash or hang still fails the task: the target is still broken.
        self.assertEqual(r.rc, 1, r.describe())
        bundles = set(files(self.crash_dir("LIBFUZZER")))
        known = [c for c in r.result["crashes"]
                 if os.path.basename(c["bundle"]) in self.lf["bundles"]]
        self.assertTrue(known, r.describe())
        self.assertTrue(all(not c["new"] for c in known), r.describe())
        for c in r.result["crashes"]:
            self.assertIn(os.path.basename(c["bundle"]), bundles)
        self.assertEqual(r.result["findings"],
                         len([c for c in r.result["crashes"] if c["new"]]))
        self.assertGreaterEqual(len(files(self.corpus_dir("LIBFUZZER"))), stored_before)

    def test_3_bundle_reproduces_in_a_clean_checkout(self):
        self.assertTrue(self.lf, "needs test_1")
        bundle = self.lf["crash"]["bundle"]
        with tarfile.open(bundle) as tf:
            names = {n.lstrip("./") for n in tf.getnames()}
            manifest = json.load(tf.extractfile("./manifest.json"))
        for want in ("input", "input.orig", "report.txt", "command.txt", "commit",
                     "environment.txt", "reproduce.sh", "manifest.json"):
            self.assertIn(want, names)
        self.assertEqual(manifest["commit"], self.commit)
        self.assertEqual(manifest["signature"], self.lf["crash"]["signature"])
        self.assertTrue(manifest["minimized"])
        self.assertLessEqual(manifest["input_size"], manifest["original_size"])
        shown = run([binary("cfo-crash"), "show", bundle], check=0)
        self.assertEqual(json.loads(shown.stdout)["sig_hash"], manifest["sig_hash"])

        clean = os.path.join(self.tmp.path, "clean")
        git(self.tmp.path, "clone", "-q", self.repo, clean)
        git(clean, "checkout", "-q", self.commit)
        self.assertFalse(os.path.exists(os.path.join(clean, "out")))
        r = run([binary("cfo-crash"), "reproduce", bundle], cwd=clean, timeout=RUN_BOUND)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        self.assertIn("reproduced: " + manifest["signature"], r.stdout)
        self.assertTrue(getattr(self, "hang", None), "needs test_1b")
        r = run([binary("cfo-crash"), "reproduce", self.hang["bundle"]], cwd=clean,
                timeout=RUN_BOUND)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        self.assertIn("reproduced: timeout:", r.stdout)

        # With the bug fixed the same bundle no longer reproduces (exit 1).
        parser = os.path.join(clean, "src", "parser.c")
        with open(parser) as f:
            text = f.read()
        fixed = text.replace("for (size_t i = 0; i < vlen - 1; i++)",
                             "for (size_t i = 0; i < size; i++)")
        self.assertNotEqual(fixed, text, "the planted bug's loop moved")
        with open(parser, "w") as f:
            f.write(fixed)
        # The checkout still holds the buggy commit's build, stamped with that
        # commit; at the fixing commit, reproduce rebuilds without --build.
        git(clean, "commit", "-q", "-am", "fix parse_blob")
        fix = git(clean, "rev-parse", "HEAD")
        self.assertTrue(os.path.exists(os.path.join(clean, "out")))
        r = run([binary("cfo-crash"), "reproduce", bundle], cwd=clean, timeout=RUN_BOUND)
        self.assertEqual(r.returncode, 1, r.stdout[-3000:] + r.stderr[-3000:])
        self.assertIn("not reproduced", r.stdout)
        stamps = [n for n in os.listdir(os.path.join(clean, ".cfo")) if n.startswith("build-")]
        self.assertEqual(len(stamps), 1, stamps)
        with open(os.path.join(clean, ".cfo", stamps[0])) as f:
            self.assertEqual(f.read(), fix)
        # An uncommitted change is never covered by a stamp either.
        with open(parser, "w") as f:
            f.write(text)
        r = run([binary("cfo-crash"), "reproduce", bundle], cwd=clean, timeout=RUN_BOUND)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        with open(parser, "w") as f:
            f.write(fixed)
        r = run([binary("cfo-crash"), "reproduce", "--build", bundle], cwd=clean,
                timeout=RUN_BOUND)
        self.assertEqual(r.returncode, 1, r.stdout[-3000:] + r.stderr[-3000:])
        self.assertIn("not reproduced", r.stdout)
        self.assertEqual(run([binary("cfo-crash"), "reproduce"]).returncode, 2)
        self.assertEqual(run([binary("cfo-crash"), "show",
                              os.path.join(self.tmp.path, "nope.tar.gz")]).returncode, 3)

    # ---- AFL++ ----

    def test_4_afl_crash_and_hang(self):
        r = FuzzRun(self.cfg, "AFL", "fuzz_parser", self.w1).wait()
        self.assertEqual(r.rc, 1, r.describe())
        self.assertGreater(r.result["count"], 1000, r.describe())
        crash = r.findings(CRASH_PREFIX)
        hang = r.findings(HANG_PREFIX)
        self.assertEqual(len(crash), 1, r.describe())
        self.assertGreaterEqual(len(hang), 1, r.describe())
        self.assertEqual(hang[0]["kind"], "timeout")
        self.assertTrue(crash[0]["new"])
        self.assertEqual(r.result["findings"],
                         len([c for c in r.result["crashes"] if c["new"]]))
        self.assertGreater(len(files(self.corpus_dir("AFL"))), 0)
        clean = os.path.join(self.tmp.path, "clean-afl")
        git(self.tmp.path, "clone", "-q", self.repo, clean)
        git(clean, "checkout", "-q", self.commit)
        for finding in (crash[0], hang[0]):
            p = run([binary("cfo-crash"), "reproduce", finding["bundle"]], cwd=clean,
                    timeout=RUN_BOUND)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
            self.assertIn("reproduced: " + finding["signature"], p.stdout)

    def test_4b_a_crash_report_the_input_timeout_cuts_is_still_the_crash(self):
        # A symbolizer that takes longer than AFL's 300 ms input timeout to
        # start, as on a loaded machine: each replay's report is cut by the
        # timer. The stored bundle must still reproduce as the crash it is,
        # not turn into a hang (which would mark the crash fixed).
        bundles = files(self.crash_dir("AFL"))
        if not bundles:
            self.skipTest("needs test_4's AFL bundles")
        # ASan takes a symbolizer by its name only.
        os.makedirs(os.path.join(self.tmp.path, "slow"), exist_ok=True)
        slow = os.path.join(self.tmp.path, "slow", "llvm-symbolizer")
        real = shutil.which("llvm-symbolizer") or sorted(
            p for d in os.environ["PATH"].split(":") if os.path.isdir(d)
            for p in [os.path.join(d, n) for n in os.listdir(d)]
            if os.path.basename(p).startswith("llvm-symbolizer-"))[-1]
        with open(slow, "w") as f:
            f.write("#!/bin/sh\nsleep 1\nexec %s \"$@\"\n" % real)
        os.chmod(slow, 0o755)
        cfg = os.path.join(self.tmp.path, "cfo-slow.ini")
        with open(cfg, "w") as f:
            f.write(config(self.store, LIBFUZZER_TIME).replace(
                "fuzz_time = %s" % AFL_TIME, "fuzz_time = 2s"))
        r = FuzzRun(cfg, "AFL", "fuzz_parser", self.w1,
                    env={"ASAN_SYMBOLIZER_PATH": slow}).wait()
        self.assertIn("cut short by the 300 ms input timeout", r.out, r.describe())
        replayed = [c for c in r.result.get("crashes", [])
                    if c.get("replay") and c["signature"].startswith(CRASH_PREFIX)]
        self.assertEqual(len(replayed), 1, r.describe())
        self.assertTrue(replayed[0]["reproduced"], r.describe())

    # ---- cfo-corpus ----

    def test_5_corpus_minimize(self):
        self.assertTrue(self.lf, "needs test_1")
        ls = run([binary("cfo-corpus"), "--config", self.cfg, "ls", "LIBFUZZER",
                  "fuzz_parser"], check=0)
        before = ls.stdout.split()
        self.assertEqual(before, files(self.corpus_dir("LIBFUZZER")))
        r = run([binary("cfo-corpus"), "--config", self.cfg, "minimize", "LIBFUZZER",
                 "fuzz_parser"], cwd=self.w1, timeout=RUN_BOUND, check=0)
        after = files(self.corpus_dir("LIBFUZZER"))
        self.assertGreater(len(after), 0)
        self.assertLess(len(after), len(before), r.stdout)
        for n in after:
            self.assertEqual(sha1_of(os.path.join(self.corpus_dir("LIBFUZZER"), n)), n)
        self.assertIn("minimized to %d" % len(after), r.stdout)
        r = run([binary("cfo-corpus"), "--config", self.cfg, "minimize", "AFL", "fuzz_parser"],
                cwd=self.w1, timeout=RUN_BOUND, check=0)
        self.assertGreater(len(files(self.corpus_dir("AFL"))), 0)
        self.assertEqual(run([binary("cfo-corpus"), "--config", self.cfg, "ls", "CANARY",
                              "x"]).returncode, 2)

    # ---- through cfo: the record names its findings ----

    def test_6_single_host_record_names_findings(self):
        # The stored corpus holds the crash input test_1 found, so the record
        # names the crash however the 15 s of search go: from the valid seeds
        # libFuzzer sometimes runs into the planted hang first, and on a loaded
        # machine its triage can use up the rest of the time.
        self.assertTrue(self.lf, "needs test_1")
        store = os.path.join(self.tmp.path, "store-cfo")
        corpus = os.path.join(store, "corpus", "LIBFUZZER", "fuzz_parser")
        os.makedirs(corpus)
        with tarfile.open(self.lf["crash"]["bundle"]) as tf:
            crash_input = tf.extractfile("./input").read()
        with open(os.path.join(corpus, hashlib.sha1(crash_input).hexdigest()), "wb") as f:
            f.write(crash_input)
        cfg = os.path.join(self.tmp.path, "cfo-single.ini")
        with open(cfg, "w") as f:
            f.write(config(store, LIBFUZZER_SINGLE_HOST_TIME, with_afl=False))
        data = os.path.join(store, "data.json")
        r = run([binary("cfo"), "--repo", self.repo, "--config", cfg, "--dataset",
                 "file://" + data, "--upload", "--task-timeout", "3m", "--concurrency", "2",
                 "--fuzzer", "LIBFUZZER"],
                timeout=RUN_BOUND + 120)
        self.assertEqual(r.returncode, 1, r.stdout[-3000:] + r.stderr[-3000:])
        with open(data) as f:
            records = {rec["target"]: rec for rec in json.load(f)["records"]}
        self.assertEqual(records["fuzz_header"]["status"], "pass")
        self.assertGreater(records["fuzz_header"]["count"], 1000)
        rec = records["fuzz_parser"]
        self.assertEqual(rec["status"], "fail")
        named = {c["signature"]: c for c in rec["crashes"]}
        crash = [c for s, c in named.items() if s.startswith(CRASH_PREFIX)]
        self.assertEqual(len(crash), 1, rec)
        # The corpus and the bundles live beside the dataset by default.
        self.assertTrue(crash[0]["bundle"].startswith(os.path.join(store, "crashes",
                                                                   "LIBFUZZER")))
        self.assertTrue(os.path.exists(crash[0]["bundle"]))
        self.assertEqual(rec["findings"], len([c for c in rec["crashes"] if c["new"]]))
        self.assertGreater(len(files(os.path.join(store, "corpus", "LIBFUZZER",
                                                  "fuzz_parser"))), 0)


if __name__ == "__main__":
    cfotest.main()
