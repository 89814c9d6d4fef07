"""Engine fuzzers without llvm-symbolizer: a sanitizer report then names no
function, and every crash of a kind would share one empty signature, so a
new bug would be reported as known. The engine's preflight finds the
symbolizer itself (also under Debian's versioned name) or stops the task
and the run with a message saying how to get one; nothing is recorded."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

EXAMPLE = os.path.join(cfotest.SRC, "examples", "fuzz-parser")
MESSAGE = "no llvm-symbolizer on PATH"

CONFIG = """
[cfo]
dataset = file://%(store)s/data.json

[fuzzer "LIBFUZZER"]
kind = libfuzzer
build = ./build.sh
targets_dir = out/libfuzzer
seeds = fuzz/seeds
fuzz_time = 5s
"""


def path_without(bindir, keep):
    """A folder of links to every program of /usr/bin but the symbolizers,
    except those named in keep: the PATH of a machine without them. (/bin
    is /usr/bin on Debian, so it is left out of PATH too.)"""
    os.makedirs(bindir)
    for name in os.listdir("/usr/bin"):
        if "llvm-symbolizer" in name and name not in keep:
            continue
        os.symlink(os.path.join("/usr/bin", name), os.path.join(bindir, name))
    return bindir


class NoSymbolizer(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        run(["sh", os.path.join(EXAMPLE, "make-repo.sh"), self.repo], check=0)
        self.store = os.path.join(self.tmp.path, "store")
        self.cfg = os.path.join(self.tmp.path, "cfo.ini")
        with open(self.cfg, "w") as f:
            f.write(CONFIG % {"store": self.store})
        self.env = {"PATH": path_without(os.path.join(self.tmp.path, "bin"), ()),
                    "ASAN_SYMBOLIZER_PATH": ""}

    def tearDown(self):
        self.tmp.cleanup()

    def test_task_stops_at_preflight(self):
        rfd, wfd = os.pipe()
        env = dict(self.env, CFO_RESULT_FD=str(wfd), CFO_TASK_TIMEOUT_MS="120000",
                   CFO_REPO_ROOT=self.repo)
        full = dict(os.environ)
        full.update(env)
        p = subprocess.run([binary("cfo-fuzz"), "--config", self.cfg, "LIBFUZZER", "fuzz_parser"],
                           cwd=self.repo, env=full, pass_fds=(wfd,), timeout=300,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        os.close(wfd)
        with os.fdopen(rfd) as f:
            result = f.read()
        self.assertNotIn(p.returncode, (0, 1), p.stdout)
        self.assertIn(MESSAGE, p.stdout)
        self.assertIn("apt-get install llvm", p.stdout)
        # It stopped before the build: nothing was built, nothing fuzzed.
        self.assertFalse(os.path.exists(os.path.join(self.repo, "out")), p.stdout)
        self.assertNotIn("crash:", result)

    def test_the_run_stops_before_any_task_and_nothing_is_recorded(self):
        p = run([binary("cfo"), "--repo", self.repo, "--config", self.cfg, "--upload",
                 "--fuzzer", "LIBFUZZER", "--budget", "2m"], env=self.env, timeout=300)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("fuzzer LIBFUZZER needs llvm-symbolizer, which is not on PATH", p.stderr)
        self.assertIn("apt-get install llvm", p.stderr)
        data = os.path.join(self.store, "data.json")
        if os.path.exists(data):
            with open(data) as f:
                records = json.load(f)["records"]
            self.assertEqual([r for r in records if r["fuzzer"] == "LIBFUZZER"], [])

    def test_a_given_path_that_is_not_a_program_is_named(self):
        env = dict(self.env, ASAN_SYMBOLIZER_PATH="/nonexistent/llvm-symbolizer")
        p = run([binary("cfo-fuzz"), "--config", self.cfg, "LIBFUZZER", "--discover"],
                cwd=self.repo, env=env, timeout=300)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ASAN_SYMBOLIZER_PATH names /nonexistent/llvm-symbolizer", p.stderr)

    def test_a_given_program_the_sanitizers_would_not_take_is_named(self):
        # ASan takes a symbolizer by its file name; any other name gives
        # reports without function names, so signatures of addresses only.
        other = os.path.join(self.tmp.path, "my-symbolizer")
        os.symlink(shutil.which("true"), other)
        env = dict(self.env, ASAN_SYMBOLIZER_PATH=other)
        p = run([binary("cfo-fuzz"), "--config", self.cfg, "LIBFUZZER", "--discover"],
                cwd=self.repo, env=env, timeout=300)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ASAN_SYMBOLIZER_PATH names %s: the sanitizers take a symbolizer only "
                      "by its name" % other, p.stderr)

    def test_versioned_name_is_found(self):
        versioned = sorted(n for n in os.listdir("/usr/bin")
                           if n.startswith("llvm-symbolizer-"))
        self.assertTrue(versioned, "Debian's llvm installs llvm-symbolizer-NN")
        bindir = path_without(os.path.join(self.tmp.path, "bin-versioned"), versioned)
        p = run([binary("cfo-fuzz"), "--config", self.cfg, "LIBFUZZER", "--discover"],
                cwd=self.repo, env=dict(self.env, PATH=bindir), timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("fuzz_parser", p.stdout.split())


if __name__ == "__main__":
    cfotest.main()
