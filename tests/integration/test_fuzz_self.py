"""test_fuzz_self.py -- CFO fuzzes CFO: the repository's cfo.ini registers one
exec fuzzer per libFuzzer target of fuzz_tests/libfuzzer/, and
scripts/fuzz-one.sh builds and runs one target for a bounded time with CFO's
exit statuses and result descriptor, writing nothing into the source tree."""

import configparser
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

SRC = os.path.abspath(cfotest.SRC)
BINARY_DIR = os.path.abspath(os.path.dirname(cfotest.BIN))
FUZZ_ONE = os.path.join(SRC, "scripts", "fuzz-one.sh")
# The fuzzing build lives beside the test build, never in the source tree.
FUZZ_BUILD = os.path.join(BINARY_DIR, "build-fuzz")
ARTIFACT = re.compile(r"^(crash|leak|timeout|oom|slow-unit)-")


def target_names():
    return sorted(os.path.basename(p)[len("fuzz_"):-len(".c")] for p in glob.glob(
        os.path.join(SRC, "fuzz_tests", "libfuzzer", "fuzz_*.c")))


def fuzz_one_env(**extra):
    """The environment for fuzz-one.sh: no descriptor or directories inherited
    from whoever runs the tests, the build under the binary directory."""
    env = dict(os.environ)
    for name in ("CFO_RESULT_FD", "CFO_FUZZ_SECONDS", "CFO_FUZZ_FINDINGS_DIR"):
        env.pop(name, None)
    env["CFO_FUZZ_BUILD_DIR"] = FUZZ_BUILD
    env.update(extra)
    return env


def run_fuzz_one(args, env, cwd, timeout):
    """Runs fuzz-one.sh with a pipe as CFO_RESULT_FD; returns the process and
    what was written to the pipe."""
    r, w = os.pipe()
    try:
        env = dict(env, CFO_RESULT_FD=str(w))
        p = subprocess.Popen([FUZZ_ONE] + args, cwd=cwd, env=env, pass_fds=(w,),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             errors="replace")
        os.close(w)
        w = -1
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
        chunks = []
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err), \
            b"".join(chunks).decode(errors="replace")
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def files_under(path):
    found = []
    for dirpath, _, names in os.walk(path):
        found.extend(os.path.relpath(os.path.join(dirpath, n), path) for n in names)
    return sorted(found)


class CfoIni(unittest.TestCase):
    def test_cfo_ini_declares_an_exec_fuzzer_per_target(self):
        ini = configparser.ConfigParser(interpolation=None, strict=True)
        ini.read(os.path.join(SRC, "cfo.ini"))
        sections = {s[len('fuzzer "'):-1]: ini[s] for s in ini.sections()
                    if s.startswith('fuzzer "') and s.endswith('"')}
        names = target_names()
        self.assertEqual(sorted(sections),
                         sorted(["CANARY"] + ["FUZZ_" + n.upper() for n in names]))
        self.assertEqual(sections["CANARY"].get("kind"), "canary")
        for n in names:
            s = sections["FUZZ_" + n.upper()]
            self.assertEqual(s.get("kind"), "exec", n)
            self.assertEqual(s.get("needs_working_dir"), "false", n)
            self.assertEqual(s.get("run"), "./scripts/fuzz-one.sh " + n, n)


class DryRun(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir(prefix="cfo-fuzz-self-")

    def tearDown(self):
        self.tmp.cleanup()

    def test_dry_run_lists_a_task_per_fuzz_target(self):
        names = target_names()
        self.assertLessEqual({"config", "dataset", "proto", "tfplan"}, set(names))
        p = run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"], cwd=SRC)
        branch = p.stdout.strip() if p.returncode == 0 else "HEAD"
        commit = run(["git", "rev-parse", "HEAD"], cwd=SRC, check=0).stdout.strip()
        work = os.path.join(self.tmp.path, "work")
        p = run([binary("cfo"), "--repo", SRC, "--dry-run", "--workdir", work,
                 "--dataset", "file://" + os.path.join(self.tmp.path, "data.json")],
                cwd=self.tmp.path, timeout=120, check=0)
        tasks = [line.split("\t") for line in p.stdout.splitlines() if line]
        for t in tasks:
            self.assertEqual(len(t), 4, t)
        self.assertEqual(sorted(t[0] for t in tasks),
                         sorted(["CANARY"] + ["FUZZ_" + n.upper() for n in names]))
        for fuzzer, task_branch, task_commit, target in tasks:
            self.assertEqual(task_branch, branch, fuzzer)
            self.assertEqual(task_commit, commit, fuzzer)
            self.assertEqual(target, "canary" if fuzzer == "CANARY" else "default", fuzzer)
        # needs_working_dir = false: the dry run prepares no worktree.
        self.assertEqual(files_under(work) if os.path.isdir(work) else [], [])


class FuzzOne(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir(prefix="cfo-fuzz-self-")

    def tearDown(self):
        self.tmp.cleanup()

    def test_fuzz_one_runs_a_target_without_finding(self):
        self.assertIsNotNone(shutil.which("clang"),
                             "clang is missing: scripts/deps.sh installs it")
        findings = os.path.join(self.tmp.path, "findings")
        cwd = os.path.join(self.tmp.path, "cwd")
        os.mkdir(cwd)
        corpus = os.path.join(SRC, "fuzz_tests", "corpus", "config")
        corpus_before = files_under(corpus)
        in_tree = [os.path.join(SRC, "build-fuzz"),
                   os.path.join(SRC, ".cfo", "fuzz-findings", "config")]
        existed = {path: os.path.exists(path) for path in in_tree}

        p, written = run_fuzz_one(
            ["config"], fuzz_one_env(CFO_FUZZ_SECONDS="5", CFO_FUZZ_FINDINGS_DIR=findings),
            cwd=cwd, timeout=540)

        self.assertEqual(p.returncode, 0, p.stderr[-4000:])
        self.assertTrue(os.access(os.path.join(FUZZ_BUILD, "bin", "fuzz_config"), os.X_OK),
                        "no fuzzer in " + FUZZ_BUILD)
        self.assertRegex(p.stderr, r"fuzz_config: no finding in [1-9][0-9]* executions over 5s")
        lines = [line for line in written.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, written)
        result = json.loads(lines[0])
        self.assertGreater(result["count"], 0, result)
        self.assertEqual(result["findings"], 0, result)
        self.assertIn("fuzz_config: no finding", result["summary"])
        self.assertEqual(os.listdir(findings), [])
        self.assertEqual([f for f in files_under(cwd) if ARTIFACT.match(os.path.basename(f))],
                         [])
        # New inputs go to a scratch directory, the build beside the tests.
        self.assertEqual(files_under(corpus), corpus_before)
        for path in in_tree:
            self.assertEqual(os.path.exists(path), existed[path], path)

    def test_fuzz_one_rejects_an_unknown_target(self):
        for name in ["nosuch", "CONFIG", "../libfuzzer/fuzz_config"]:
            p, written = run_fuzz_one([name], fuzz_one_env(CFO_FUZZ_SECONDS="5"),
                                      cwd=self.tmp.path, timeout=60)
            self.assertEqual(p.returncode, 2, (name, p.stderr))
            self.assertIn("no fuzz target '%s'" % name, p.stderr)
            self.assertIn("known: " + " ".join(target_names()), p.stderr)
            self.assertEqual(written, "", name)

    def test_fuzz_one_needs_exactly_one_target(self):
        for args in [[], ["config", "proto"]]:
            p = run([FUZZ_ONE] + args, env=fuzz_one_env(), cwd=self.tmp.path, timeout=60)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("usage:", p.stderr, args)

    def test_fuzz_one_rejects_a_bad_duration(self):
        for seconds in ["soon", "0", "-5", "1.5", "5s", "05"]:
            p, written = run_fuzz_one(["config"], fuzz_one_env(CFO_FUZZ_SECONDS=seconds),
                                      cwd=self.tmp.path, timeout=60)
            self.assertEqual(p.returncode, 2, (seconds, p.stderr))
            self.assertIn("CFO_FUZZ_SECONDS must be a positive number of seconds, not '%s'"
                          % seconds, p.stderr)
            self.assertEqual(written, "", seconds)


if __name__ == "__main__":
    cfotest.main()
