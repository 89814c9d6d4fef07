"""Coverage of the engine kinds on examples/fuzz-parser, with clang 14 and
Debian's llvm: the record's lines, functions and regions equal what an
independent llvm-cov run reports on the stored corpus through the same
build; a commit that makes branches of the parser unreachable fails with a
coverage_drop naming the range, and the next run on that commit does not;
cfo-dataset coverage prints the series and the HTML report plots it; a pull request runs only the engine
targets whose coverage reaches the change (and those with none yet)."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402
from gcs_fixture import FakeGCS  # noqa: E402
from test_gcs import SCRUB  # noqa: E402

EXAMPLE = os.path.join(cfotest.SRC, "examples", "fuzz-parser")
RUN_BOUND = 400
TARGETS = ["fuzz_checksum", "fuzz_header", "fuzz_parser"]

# Planted bugs are not this test's business: fail_on = none keeps a found
# crash or hang from failing the task, so a failure is the coverage drop.
CONFIG = """
[fuzzer "COV"]
kind = libfuzzer
build = ./build.sh
targets_dir = out/libfuzzer
coverage_dir = out/coverage
seeds = fuzz/seeds fuzz/seeds-index
fuzz_time = 3s
input_timeout = 1s
fail_on = none
reproduce_runs = 0
max_crashes = 1
triage_time = 60s
corpus = file://%(store)s
"""

# TAG and INDEX records are read no more: parse_tag, parse_blob and
# parse_index become unreachable, far more lines than fuzzing the rest for a
# few seconds can add (the seeds already reach almost all of it).
SWITCH = "        switch (type) {\n"
SWITCH_UNREACHABLE = "        switch (type > TYPE_INT ? 0u : type) {\n"


def llvm_tool(name):
    for cand in [name] + ["%s-%d" % (name, v) for v in range(30, 6, -1)]:
        for d in os.environ.get("PATH", "").split(":"):
            p = os.path.join(d, cand)
            if os.access(p, os.X_OK):
                return p
    return None


def commit_all(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@cfotest.unittest.skipUnless(llvm_tool("llvm-cov") and llvm_tool("llvm-profdata")
                             and llvm_tool("clang"), "needs clang and llvm")
class Coverage(cfotest.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = cfotest.TempDir("cfo-coverage-")
        t = cls.tmp.path
        cls.repo = os.path.join(t, "repo")
        run(["sh", os.path.join(EXAMPLE, "make-repo.sh"), cls.repo], check=0)
        cls.first = git(cls.repo, "rev-parse", "HEAD")
        cls.store = os.path.join(t, "store")
        cls.data = os.path.join(cls.store, "data.json")
        cls.cfg = os.path.join(t, "cfo.ini")
        with open(cls.cfg, "w") as f:
            f.write(CONFIG % {"store": cls.store})
        cls.second = None

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def cfo(self, *args, check=None):
        r = run([binary("cfo"), "--repo", self.repo, "--config", self.cfg, "--dataset",
                 "file://" + self.data, "--fuzzer", "COV", "--task-timeout", "4m",
                 "--concurrency", "2", *args], timeout=RUN_BOUND)
        if check is not None:
            self.assertEqual(r.returncode, check, r.stdout[-4000:] + r.stderr[-4000:])
        return r

    def records(self, commit=None):
        with open(self.data) as f:
            recs = json.load(f)["records"]
        return [r for r in recs if commit is None or r["commit"] == commit]

    def latest(self, target, commit):
        recs = [r for r in self.records(commit) if r["target"] == target]
        self.assertTrue(recs, "no record of %s on %s" % (target, commit))
        return max(recs, key=lambda r: (r["time"], r.get("attempt", 0)))

    # ---- the figures ----

    def test_1_record_equals_independent_llvm_cov(self):
        self.cfo("--upload", check=0)
        rec = self.latest("fuzz_parser", self.first)
        cov = rec["coverage"]
        # The report is stored under coverage/FUZZER/TARGET/COMMIT/.
        folder = os.path.join(self.store, "coverage", "COV", "fuzz_parser", self.first)
        self.assertEqual(cov["report"], os.path.join(folder, "index.html"))
        self.assertTrue(os.path.isfile(cov["report"]))
        with open(os.path.join(folder, "files.txt")) as f:
            self.assertEqual(sorted(f.read().split()), ["fuzz/fuzz_parser.c", "src/parser.c"])
        self.assertGreater(cov["seconds"], 0)

        # The same build, made and measured here with the tools alone.
        indep = os.path.join(self.tmp.path, "indep")
        git(self.repo, "worktree", "add", "-q", "--detach", indep, self.first)
        run(["./build.sh"], cwd=indep, check=0,
            env={"CFO_SANITIZER": "coverage",
                 "CFO_COVERAGE_FLAGS": "-fprofile-instr-generate -fcoverage-mapping"})
        corpus = os.path.join(self.store, "corpus", "COV", "fuzz_parser")
        self.assertGreater(len(os.listdir(corpus)), 0)
        prof = os.path.join(self.tmp.path, "prof")
        os.makedirs(prof)
        binpath = os.path.join(indep, "out", "coverage", "fuzz_parser")
        run([binpath, "-runs=0", corpus], check=0,
            env={"LLVM_PROFILE_FILE": os.path.join(prof, "%p.profraw")})
        merged = os.path.join(self.tmp.path, "merged.profdata")
        run([llvm_tool("llvm-profdata"), "merge", "-sparse", "-o", merged]
            + [os.path.join(prof, p) for p in os.listdir(prof)], check=0)
        out = run([llvm_tool("llvm-cov"), "export", "-summary-only",
                   "-instr-profile=" + merged, binpath], check=0).stdout
        totals = json.loads(out)["data"][0]["totals"]
        for kind in ("lines", "functions", "regions"):
            self.assertEqual(cov[kind], [totals[kind]["covered"], totals[kind]["count"]], kind)
        self.assertGreater(cov["lines"][0], 0)

    # ---- a drop between two commits of a branch ----

    def test_2_drop_fails_with_its_range_once(self):
        self.assertTrue(self.records(self.first), "needs test_1")
        src = os.path.join(self.repo, "src", "parser.c")
        with open(src) as f:
            text = f.read()
        self.assertEqual(text.count(SWITCH), 1)
        with open(src, "w") as f:
            f.write(text.replace(SWITCH, SWITCH_UNREACHABLE))
        second = commit_all(self.repo, "TAG and INDEX records are no longer read")
        type(self).second = second

        r = self.cfo("--upload", check=1)
        rec = self.latest("fuzz_parser", second)
        self.assertEqual(rec["status"], "fail", rec)
        drops = [c for c in rec.get("crashes", []) if c["kind"] == "coverage_drop"]
        self.assertEqual(len(drops), 1, rec)
        self.assertEqual(drops[0]["range"], "%s..%s" % (self.first, second))
        before = self.latest("fuzz_parser", self.first)["coverage"]["lines"]
        after = rec["coverage"]["lines"]
        self.assertLess(after[0] / after[1], before[0] / before[1] - 0.01)
        self.assertIn("coverage drop", r.stdout + r.stderr)
        # The drop is a finding of its own, open, named by its range.
        fr = run([binary("cfo-dataset"), "findings", "file://" + self.data, "--json"], check=0)
        found = [f for f in json.loads(fr.stdout)
                 if f["kind"] == "coverage_drop" and f["target"] == "fuzz_parser"]
        self.assertEqual(len(found), 1, fr.stdout[-3000:])
        self.assertEqual(found[0]["state"], "open", found[0])
        # Targets whose coverage did not drop pass.
        self.assertEqual(self.latest("fuzz_checksum", second)["status"], "pass")

        # The next run on the unchanged commit compares with that commit:
        # no drop, no failure.
        self.cfo("--upload", check=0)
        recs = [x for x in self.records(second) if x["target"] == "fuzz_parser"]
        newest = max(recs, key=lambda x: x["time"])
        self.assertEqual(newest["status"], "pass", newest)
        self.assertFalse([c for c in newest.get("crashes", [])
                          if c["kind"] == "coverage_drop"])

    def test_3_dataset_coverage_series(self):
        self.assertTrue(self.second, "needs test_2")
        r = run([binary("cfo-dataset"), "coverage", "file://" + self.data, "--target",
                 "fuzz_parser", "--repo", self.repo, "--json"], check=0)
        series = json.loads(r.stdout)
        self.assertEqual([p["commit"] for p in series["main"]], [self.first, self.second])
        for p in series["main"]:
            self.assertIn("lines", p["coverage"])
            self.assertTrue(p["coverage"]["report"].endswith("/index.html"))
        r = run([binary("cfo-dataset"), "coverage", "file://" + self.data, "--target",
                 "fuzz_parser", "--repo", self.repo], check=0)
        self.assertIn(self.second[:12], r.stdout)
        self.assertRegex(r.stdout, r"lines +\d+/\d+ \(\d+\.\d%\)")
        # The HTML report plots it, each point linked to its stored report.
        page = os.path.join(self.tmp.path, "report.html")
        run([binary("cfo-dataset"), "report", "file://" + self.data, "--html", page,
             "--repo", self.repo], check=0)
        root = ET.parse(page).getroot()
        svg = "{http://www.w3.org/2000/svg}"
        rows = [g for g in root.iter(svg + "g") if g.get("class") == "target"
                and g.get("data-target") == "fuzz_parser"]
        self.assertEqual(len(rows), 1)
        links = rows[0].findall(svg + "a")
        self.assertEqual([a.find(svg + "circle").get("data-commit") for a in links],
                         [self.first, self.second])
        for a, p in zip(links, series["main"]):
            self.assertEqual(a.get("href"), "file://" + p["coverage"]["report"])
            lines = p["coverage"]["lines"]
            self.assertEqual(a.find(svg + "circle").get("data-lines"), "%d/%d" % tuple(lines))
        r = run([binary("cfo-dataset"), "coverage", "file://" + self.data], check=2)
        self.assertIn("--target", r.stderr)
        r = run([binary("cfo-dataset"), "coverage", "file://" + self.data, "--target", "nope"])
        self.assertEqual(r.returncode, 3, r.stderr)

    # ---- pull requests ----

    def pr_targets(self, name, change):
        """The COV targets a dry run of a branch with change picks."""
        self.assertTrue(self.second, "needs test_2")
        git(self.repo, "checkout", "-q", "-b", name, self.second)
        for rel, text in change.items():
            path = os.path.join(self.repo, rel)
            with open(path, "a") as f:
                f.write(text)
        commit_all(self.repo, "change " + name)
        try:
            r = self.cfo("--dry-run", "--changed-since", "main", check=0)
        finally:
            git(self.repo, "checkout", "-q", "main")
        return sorted(line.split("\t")[3] for line in r.stdout.splitlines()
                      if line.startswith("COV\t"))

    def test_4_pull_request_runs_the_targets_its_change_reaches(self):
        self.assertEqual(self.pr_targets("pr-checksum", {"src/checksum.c": "/* pr */\n"}),
                         ["fuzz_checksum"])
        self.assertEqual(self.pr_targets("pr-parser", {"src/parser.c": "/* pr */\n"}),
                         ["fuzz_header", "fuzz_parser"])
        # A target with no coverage data yet runs whatever the change.
        with open(os.path.join(self.repo, "fuzz", "fuzz_checksum.c")) as f:
            new = {"fuzz/fuzz_again.c": f.read(), "src/checksum.c": "/* pr */\n"}
        self.assertEqual(self.pr_targets("pr-new-target", new),
                         ["fuzz_again", "fuzz_checksum"])


def fuzz_task(repo, cfg, fuzzer, target):
    """cfo-fuzz FUZZER TARGET in repo as a worker runs it: (exit, result, output)."""
    read_fd, write_fd = os.pipe()
    p = subprocess.Popen([binary("cfo-fuzz"), "--config", cfg, fuzzer, target], cwd=repo,
                         pass_fds=(write_fd,), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, errors="replace",
                         env=dict(os.environ, CFO_RESULT_FD=str(write_fd), CFO_REPO_ROOT=repo))
    os.close(write_fd)
    out, _ = p.communicate(timeout=RUN_BOUND)
    with os.fdopen(read_fd) as f:
        return p.returncode, json.loads(f.read() or "{}"), out


@cfotest.unittest.skipUnless(llvm_tool("clang"), "needs clang")
class CoverageErrors(cfotest.unittest.TestCase):
    """A coverage step that cannot be done says why in the task's summary
    and leaves the record without coverage; the fuzzing's verdict stands."""

    def setUp(self):
        self.tmp = cfotest.TempDir("cfo-coverage-err-")
        self.addCleanup(self.tmp.cleanup)
        self.repo = os.path.join(self.tmp.path, "repo")
        run(["sh", os.path.join(EXAMPLE, "make-repo.sh"), self.repo], check=0)

    def task(self, extra):
        cfg = os.path.join(self.tmp.path, "cfo.ini")
        with open(cfg, "w") as f:
            f.write('[fuzzer "LF"]\nkind = libfuzzer\nbuild = ./build.sh\n'
                    'targets_dir = out/libfuzzer\nfuzz_time = 1s\nfail_on = none\n'
                    'corpus = file://%s/store\n%s' % (self.tmp.path, extra))
        return fuzz_task(self.repo, cfg, "LF", "fuzz_checksum")

    def test_coverage_build_that_fails(self):
        rc, result, out = self.task("coverage_dir = out/coverage\n"
                                    "coverage_build = echo no compiler here >&2; exit 3\n")
        self.assertEqual(rc, 0, out[-3000:])
        self.assertNotIn("coverage", result)
        self.assertIn("coverage not measured: build command (coverage) 'echo no compiler here "
                      ">&2; exit 3' failed (exit status 3): no compiler here", result["summary"])

    def test_no_executable_where_coverage_dir_says(self):
        rc, result, out = self.task("coverage_dir = out/nowhere\n")
        self.assertEqual(rc, 0, out[-3000:])
        self.assertNotIn("coverage", result)
        self.assertIn("coverage not measured: the coverage build left no executable "
                      "out/nowhere/fuzz_checksum (coverage_dir = out/nowhere)", result["summary"])


@cfotest.unittest.skipUnless(llvm_tool("llvm-cov") and llvm_tool("llvm-profdata")
                             and llvm_tool("clang") and llvm_tool("afl-fuzz")
                             and llvm_tool("afl-clang-fast"), "needs clang, llvm and AFL++")
class AflCoverage(cfotest.unittest.TestCase):
    """An AFL++ task measures its target through the same libFuzzer-style
    coverage build: the corpus it ends with, replayed."""

    def test_afl_task_measures_coverage(self):
        tmp = cfotest.TempDir("cfo-coverage-afl-")
        self.addCleanup(tmp.cleanup)
        repo = os.path.join(tmp.path, "repo")
        run(["sh", os.path.join(EXAMPLE, "make-repo.sh"), repo], check=0)
        store = os.path.join(tmp.path, "store")
        cfg = os.path.join(tmp.path, "cfo.ini")
        with open(cfg, "w") as f:
            f.write('[fuzzer "AFL"]\nkind = afl\nbuild = ./build.sh\ntargets_dir = out/afl\n'
                    'coverage_dir = out/coverage\nseeds = fuzz/seeds\nfuzz_time = 5s\n'
                    'input_timeout = 300ms\nfail_on = none\nreproduce_runs = 0\n'
                    'corpus = file://%s\n' % store)
        rc, result, out = fuzz_task(repo, cfg, "AFL", "fuzz_header")
        self.assertEqual(rc, 0, out[-3000:])
        cov = result.get("coverage")
        self.assertIsNotNone(cov, out[-3000:])
        self.assertGreater(cov["lines"][0], 0)
        sha = git(repo, "rev-parse", "HEAD")
        folder = os.path.join(store, "coverage", "AFL", "fuzz_header", sha)
        self.assertEqual(cov["report"], os.path.join(folder, "index.html"))
        with open(os.path.join(folder, "files.txt")) as f:
            self.assertEqual(sorted(f.read().split()), ["fuzz/fuzz_header.c", "src/parser.c"])


@cfotest.unittest.skipUnless(llvm_tool("llvm-cov") and llvm_tool("llvm-profdata")
                             and llvm_tool("clang"), "needs clang and llvm")
class CoverageInCloudStorage(cfotest.unittest.TestCase):
    """Corpora and dataset in gs:// (the fake GCS server): the reports go
    there too, and a pull request reads their covered files from there."""

    def setUp(self):
        self.tmp = cfotest.TempDir("cfo-coverage-gcs-")
        self.fx = FakeGCS(buckets=["bucket"])
        self.fx.start()
        self.env = {k: v for k, v in os.environ.items() if k not in SCRUB}
        self.env.update({"STORAGE_EMULATOR_HOST": self.fx.url, "NO_PROXY": "127.0.0.1",
                         "no_proxy": "127.0.0.1", "GCE_METADATA_HOST": "127.0.0.1:1",
                         "CFO_GCS_RETRY_BASE_MS": "20"})
        self.repo = os.path.join(self.tmp.path, "repo")
        run(["sh", os.path.join(EXAMPLE, "make-repo.sh"), self.repo], check=0)
        self.cfg = os.path.join(self.tmp.path, "cfo.ini")
        with open(self.cfg, "w") as f:
            f.write(CONFIG.replace("file://%(store)s", "gs://bucket/fuzzing"))

    def tearDown(self):
        self.fx.stop()
        self.tmp.cleanup()

    def cfo(self, *args):
        return subprocess.run([binary("cfo"), "--repo", self.repo, "--config", self.cfg,
                               "--dataset", "gs://bucket/fuzzing/data.json", "--fuzzer", "COV",
                               "--task-timeout", "4m", "--concurrency", "2", *args],
                              env=self.env, capture_output=True, text=True, timeout=RUN_BOUND)

    def test_reports_in_gcs_steer_a_pull_request(self):
        sha = git(self.repo, "rev-parse", "HEAD")
        p = self.cfo("--upload")
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        doc = json.loads(self.fx.get_object("bucket", "fuzzing/data.json")[0])
        rec = [r for r in doc["records"] if r["target"] == "fuzz_checksum"][0]
        prefix = "fuzzing/coverage/COV/fuzz_checksum/%s/" % sha
        self.assertEqual(rec["coverage"]["report"], "gs://bucket/" + prefix + "index.html")
        self.assertIn(b"<html", self.fx.get_object("bucket", prefix + "index.html")[0])
        files = self.fx.get_object("bucket", prefix + "files.txt")[0].decode().split()
        self.assertEqual(sorted(files), ["fuzz/fuzz_checksum.c", "src/checksum.c"])

        git(self.repo, "checkout", "-q", "-b", "pr")
        with open(os.path.join(self.repo, "src", "checksum.c"), "a") as f:
            f.write("/* pr */\n")
        commit_all(self.repo, "checksum only")
        p = self.cfo("--dry-run", "--changed-since", "main")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([line.split("\t")[3] for line in p.stdout.splitlines()],
                         ["fuzz_checksum"])


if __name__ == "__main__":
    cfotest.main()
