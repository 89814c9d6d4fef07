"""The gofuzz kind end to end with the real `go test -fuzz` (Debian's
golang-go) on examples/fuzz-go: discovery lists PACKAGE:FuzzName; the
planted panic is found, signed by its frames, bundled, and reproduced from
the bundle with cfo-crash in a clean clone at the same commit; a second run
starts from the first run's stored corpus; two workers fuzzing one target
at once share inputs; the record's coverage equals what go test
-coverprofile and go tool cover -func report on the stored corpus, its HTML
report and covered files are stored, and a stored input that panics is
left out of the measurement; a pull request runs the targets whose coverage
reaches its change."""

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402

EXAMPLE = os.path.join(cfotest.SRC, "examples", "fuzz-go")
RUN_BOUND = 300
# Go finds the planted panic within seconds here; the time is a margin.
CRASH_TIME = "90s"
CORPUS_TIME = "12s"
SIGNATURE = ("crash:panic runtime error index out of range:"
             "parser.parseBody|parser.ParseRecord|parser.FuzzParseRecord.func1")

CONFIG = """
[fuzzer "GO"]
kind = gofuzz
fuzz_time = %(time)s
sync_interval = 3s
reproduce_runs = 2
corpus = %(store)s
"""


def go_env(worktree):
    """The go environment cfo-fuzz gives go in worktree: its build cache
    (built packages are reused), no downloads."""
    return dict(os.environ, GOCACHE=os.path.join(worktree, ".cfo", "gocache"),
                GOFLAGS="-mod=mod", GOPROXY="off")


def go_coverage(profile, funcs):
    """Lines, functions and regions as [covered, total] from a coverprofile
    and go tool cover -func's output: a block is covered when any of its
    entries counts; a line when a covered block spans it; a function above
    0.0%."""
    blocks = {}
    with open(profile) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("mode: "), lines[:1]
    for line in lines[1:]:
        if not line:
            continue
        pos, _, count = line.rsplit(" ", 2)
        name, span = pos.rsplit(":", 1)
        blocks[(name, span)] = blocks.get((name, span), False) or int(count) > 0
    hits = {}
    for (name, span), covered in blocks.items():
        start, end = span.split(",")
        for n in range(int(start.split(".")[0]), int(end.split(".")[0]) + 1):
            hits[(name, n)] = hits.get((name, n), False) or covered
    pcts = [float(line.split()[-1].rstrip("%")) for line in funcs.splitlines()
            if line.strip() and not line.startswith("total:")]
    return {"lines": [sum(hits.values()), len(hits)],
            "functions": [sum(p > 0 for p in pcts), len(pcts)],
            "regions": [sum(blocks.values()), len(blocks)]}


def make_example_repo(path):
    """A git repository at path holding examples/fuzz-go; its commit."""
    files = {}
    for root, _, names in os.walk(EXAMPLE):
        for n in names:
            p = os.path.join(root, n)
            with open(p) as f:
                files[os.path.relpath(p, EXAMPLE)] = f.read()
    return cfotest.make_repo(path, files)


def have_go():
    return shutil.which("go") is not None


class GoRun:
    """cfo-fuzz FUZZER TARGET in a worktree, as a worker runs it."""

    def __init__(self, cfg, target, cwd, cpus=1):
        self.read_fd, write_fd = os.pipe()
        env = dict(os.environ, CFO_RESULT_FD=str(write_fd),
                   CFO_TASK_TIMEOUT_MS=str(RUN_BOUND * 1000), CFO_REPO_ROOT=cwd,
                   CFO_TASK_CPUS=str(cpus))
        self.proc = subprocess.Popen([binary("cfo-fuzz"), "--config", cfg, "GO", target],
                                     cwd=cwd, env=env, pass_fds=(write_fd,),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
        os.close(write_fd)

    def wait(self):
        self.out, _ = self.proc.communicate(timeout=RUN_BOUND + 60)
        with os.fdopen(self.read_fd) as f:
            text = f.read()
        self.rc = self.proc.returncode
        self.result = json.loads(text) if text else {}
        return self

    def figure(self, pattern):
        m = re.search(pattern, self.out)
        if m is None:
            raise AssertionError("no %r in:\n%s" % (pattern, self.out[-3000:]))
        return int(m.group(1))


@unittest.skipUnless(have_go(), "go is not installed (golang-go)")
class GoFuzz(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir("cfo-gofuzz-")
        t = self.tmp.path
        self.repo = os.path.join(t, "repo")
        self.commit = make_example_repo(self.repo)
        self.store = os.path.join(t, "store")

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, time):
        path = os.path.join(self.tmp.path, "cfo-%s.ini" % time)
        with open(path, "w") as f:
            f.write(CONFIG % {"time": time, "store": self.store})
        return path

    def worktree(self, name):
        path = os.path.join(self.tmp.path, name)
        git(self.repo, "worktree", "add", "-q", "--detach", path, self.commit)
        return path

    def stored(self, target):
        return sorted(os.listdir(os.path.join(self.store, "corpus", "GO", target)))

    def test_discovery_lists_every_fuzz_test(self):
        p = run([binary("cfo-fuzz"), "--config", self.config(CORPUS_TIME), "GO", "--discover"],
                cwd=self.repo, check=0, timeout=RUN_BOUND)
        self.assertEqual(p.stdout.split(), ["./parser:FuzzParseHeader", "./parser:FuzzParseKV",
                                            "./parser:FuzzParseRecord"])
        bad = run([binary("cfo-fuzz"), "--config", self.config(CORPUS_TIME), "GO",
                   "parser:ParseRecord"], cwd=self.repo)
        self.assertEqual(bad.returncode, 3)
        self.assertIn("is not PACKAGE:FuzzName", bad.stderr)

    def test_the_planted_panic_is_found_bundled_and_reproduced_in_a_clean_clone(self):
        w = self.worktree("w1")
        r = GoRun(self.config(CRASH_TIME), "./parser:FuzzParseRecord", w).wait()
        self.assertEqual(r.rc, 1, r.out[-3000:])
        [crash] = r.result["crashes"]
        self.assertEqual(crash["signature"], SIGNATURE)
        self.assertEqual(crash["repro"], "2/2")
        self.assertTrue(crash["new"])
        # Go counts executions in its status lines; a panic found before the
        # first of them leaves 0, which is still a count.
        self.assertIsInstance(r.result["count"], int)
        self.assertGreaterEqual(r.result["count"], 0)
        [bundle] = glob.glob(os.path.join(self.store, "crashes", "GO",
                                          "parser%3AFuzzParseRecord", "*.tar.gz"))
        clone = os.path.join(self.tmp.path, "clone")
        git(self.tmp.path, "clone", "-q", self.repo, clone)
        self.assertEqual(git(clone, "rev-parse", "HEAD"), self.commit)
        p = run([binary("cfo-crash"), "reproduce", bundle], cwd=clone, timeout=RUN_BOUND)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-2000:])
        self.assertIn("reproduced: " + SIGNATURE, p.stdout)
        # A second find of the same panic is known, not new.
        again = GoRun(self.config(CRASH_TIME), "./parser:FuzzParseRecord", w).wait()
        self.assertEqual(again.rc, 1, again.out[-3000:])
        self.assertFalse(again.result["crashes"][0]["new"])

    def test_a_second_run_starts_from_the_stored_corpus(self):
        cfg = self.config(CORPUS_TIME)
        first = GoRun(cfg, "./parser:FuzzParseKV", self.worktree("w1")).wait()
        self.assertEqual(first.rc, 0, first.out[-3000:])
        self.assertEqual(first.figure(r"corpus: (\d+) inputs from"), 0)
        stored = self.stored("parser%3AFuzzParseKV")
        self.assertGreater(len(stored), 0, first.out[-3000:])
        # Another worker's worktree and cache: all it starts from is storage.
        second = GoRun(cfg, "./parser:FuzzParseKV", self.worktree("w2"), cpus=2).wait()
        self.assertEqual(second.rc, 0, second.out[-3000:])
        # The slot's share of the CPUs is go test's -parallel.
        self.assertIn("with -parallel=2", second.out)
        self.assertIn("with -parallel=1", first.out)
        self.assertEqual(second.figure(r"corpus: (\d+) inputs from"), len(stored))
        self.assertRegex(second.result["summary"], r"corpus \d+ \(\d+ new\), \d+ exec/s")

    def test_coverage_equals_go_test_coverprofile_on_the_stored_corpus(self):
        w = self.worktree("w1")
        # As a coverage step killed midway leaves the worktree: its corpus
        # where the seeds were, the (absent) seeds' place kept aside.
        fuzzdir = os.path.join(w, "parser", "testdata", "fuzz")
        os.makedirs(os.path.join(fuzzdir, ".FuzzParseKV.cfo-coverage"))
        os.makedirs(os.path.join(fuzzdir, "FuzzParseKV"))
        with open(os.path.join(fuzzdir, "FuzzParseKV", "left-behind"), "w") as f:
            f.write("not a corpus file\n")
        r = GoRun(self.config(CORPUS_TIME), "./parser:FuzzParseKV", w).wait()
        self.assertEqual(r.rc, 0, r.out[-3000:])
        self.assertIn("coverage", r.result, r.out[-3000:])
        cov = r.result["coverage"]
        # The report and the covered files are stored where the llvm step
        # stores them: coverage/FUZZER/TARGET/COMMIT/.
        folder = os.path.join(self.store, "coverage", "GO", "parser%3AFuzzParseKV", self.commit)
        self.assertEqual(cov["report"], os.path.join(folder, "index.html"))
        with open(cov["report"]) as f:
            self.assertIn("<html", f.read().lower())
        with open(os.path.join(folder, "files.txt")) as f:
            self.assertEqual(f.read().split(), ["parser/kv.go"])
        # The worktree's seed folder is as it was before the killed step.
        self.assertNotIn("testdata", git(w, "status", "--porcelain"))
        self.assertEqual(os.listdir(fuzzdir), ["FuzzParseKV"])
        self.assertEqual(os.listdir(os.path.join(fuzzdir, "FuzzParseKV")), [])

        # The stored corpus measured here with go alone, in a fresh clone.
        clone = os.path.join(self.tmp.path, "clone")
        git(self.tmp.path, "clone", "-q", self.repo, clone)
        seeds = os.path.join(clone, "parser", "testdata", "fuzz", "FuzzParseKV")
        os.makedirs(seeds)
        stored = self.stored("parser%3AFuzzParseKV")
        self.assertGreater(len(stored), 0)
        for name in stored:
            shutil.copy(os.path.join(self.store, "corpus", "GO", "parser%3AFuzzParseKV", name),
                        seeds)
        profile = os.path.join(self.tmp.path, "cover.out")
        run(["go", "test", "-count=1", "-run=^FuzzParseKV$", "-coverprofile=" + profile,
             "-covermode=set", "./parser"], cwd=clone, env=go_env(w), check=0,
            timeout=RUN_BOUND)
        funcs = run(["go", "tool", "cover", "-func=" + profile], cwd=clone, env=go_env(w),
                    check=0, timeout=RUN_BOUND).stdout
        want = go_coverage(profile, funcs)
        for kind in ("lines", "functions", "regions"):
            self.assertEqual(cov[kind], want[kind], kind)
        self.assertGreater(cov["lines"][0], 0)
        self.assertGreater(cov["lines"][1], cov["lines"][0])

    def test_a_stored_input_that_panics_is_left_out_of_coverage(self):
        # The planted panic, stored in the corpus as if an earlier commit
        # had not panicked on it.
        corpus = os.path.join(self.store, "corpus", "GO", "parser%3AFuzzParseRecord")
        os.makedirs(corpus)
        panics = b'go test fuzz v1\n[]byte("RECD\\x09CFO!")\n'
        name = hashlib.sha1(panics).hexdigest()
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(panics)
        r = GoRun(self.config(CORPUS_TIME), "./parser:FuzzParseRecord", self.worktree("w1")).wait()
        self.assertIn("coverage", r.result, r.out[-3000:])
        self.assertIn("corpus input %s fails FuzzParseRecord on this commit; measured without it"
                      % name, r.out)
        self.assertGreater(r.result["coverage"]["lines"][0], 0)

    def test_two_workers_on_one_target_share_inputs(self):
        cfg = self.config(CORPUS_TIME)
        runs = [GoRun(cfg, "./parser:FuzzParseKV", self.worktree(w)) for w in ("w1", "w2")]
        threads = [threading.Thread(target=r.wait) for r in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in runs:
            self.assertEqual(r.rc, 0, r.out[-3000:])
        pulled = [r.figure(r"(\d+) pulled from other runs") for r in runs]
        self.assertGreater(sum(pulled), 0, "\n\n".join(r.out[-2000:] for r in runs))


@unittest.skipUnless(have_go(), "go is not installed (golang-go)")
class GoChanges(unittest.TestCase):
    """A pull request runs the gofuzz targets whose stored coverage reaches
    the files it changes."""

    def setUp(self):
        self.tmp = cfotest.TempDir("cfo-gofuzz-pr-")
        self.addCleanup(self.tmp.cleanup)
        self.repo = os.path.join(self.tmp.path, "repo")
        make_example_repo(self.repo)
        self.cfg = os.path.join(self.tmp.path, "cfo.ini")
        with open(self.cfg, "w") as f:
            # The planted panic is not this test's business.
            f.write(CONFIG % {"time": "3s", "store": os.path.join(self.tmp.path, "store")}
                    + "fail_on = none\n")
        self.data = "file://" + os.path.join(self.tmp.path, "data.json")

    def cfo(self, *args):
        return run([binary("cfo"), "--repo", self.repo, "--config", self.cfg, "--dataset",
                    self.data, "--fuzzer", "GO", "--task-timeout", "4m",
                    "--workdir", os.path.join(self.tmp.path, "work"), *args],
                   timeout=RUN_BOUND * 3)

    def pr_targets(self, name, rel):
        git(self.repo, "checkout", "-q", "-b", name, "main")
        with open(os.path.join(self.repo, rel), "a") as f:
            f.write("\n// changed by %s\n" % name)
        git(self.repo, "commit", "-q", "-am", name)
        try:
            r = self.cfo("--dry-run", "--changed-since", "main")
        finally:
            git(self.repo, "checkout", "-q", "main")
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        return sorted(line.split("\t")[3] for line in r.stdout.splitlines()
                      if line.startswith("GO\t"))

    def test_pull_request_runs_the_targets_its_change_reaches(self):
        everything = ["./parser:FuzzParseHeader", "./parser:FuzzParseKV",
                      "./parser:FuzzParseRecord"]
        # No coverage yet: every target runs.
        self.assertEqual(self.pr_targets("pr-before", "parser/kv.go"), everything)
        r = self.cfo("--upload")
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        with open(self.data[len("file://"):]) as f:
            recs = json.load(f)["records"]
        self.assertEqual(sorted(x["target"] for x in recs if "coverage" in x), everything)
        self.assertEqual(self.pr_targets("pr-kv", "parser/kv.go"), ["./parser:FuzzParseKV"])
        self.assertEqual(self.pr_targets("pr-parser", "parser/parser.go"),
                         ["./parser:FuzzParseHeader", "./parser:FuzzParseRecord"])


class GoMissing(unittest.TestCase):
    """Without go on PATH the run stops before any task and names it."""

    def setUp(self):
        self.tmp = cfotest.TempDir("cfo-gofuzz-")
        self.repo = os.path.join(self.tmp.path, "repo")
        self.commit = cfotest.make_repo(self.repo, {"go.mod": "module example.com/x\n"})
        self.cfg = os.path.join(self.tmp.path, "cfo.ini")
        with open(self.cfg, "w") as f:
            f.write(CONFIG % {"time": "5s", "store": os.path.join(self.tmp.path, "store")})
        # A PATH with git and sh, and no go.
        self.bin = os.path.join(self.tmp.path, "bin")
        os.makedirs(self.bin)
        for tool in ("git", "sh"):
            os.symlink(shutil.which(tool), os.path.join(self.bin, tool))

    def tearDown(self):
        self.tmp.cleanup()

    def test_the_preflight_names_go(self):
        p = run([binary("cfo"), "--repo", self.repo, "--config", self.cfg,
                 "--workdir", os.path.join(self.tmp.path, "work"),
                 "--dataset", "file://" + os.path.join(self.tmp.path, "data.json")],
                env={"PATH": self.bin}, timeout=RUN_BOUND)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("fuzzer GO needs go, which is not on PATH: apt-get install golang-go",
                      p.stderr)
        t = run([binary("cfo-fuzz"), "--config", self.cfg, "GO", "./x:FuzzX"], cwd=self.repo,
                env={"PATH": self.bin}, timeout=RUN_BOUND)
        self.assertEqual(t.returncode, 3, t.stderr)
        self.assertIn("go is not on PATH", t.stderr)
        self.assertIn("apt-get install golang-go", t.stderr)


if __name__ == "__main__":
    cfotest.main()
