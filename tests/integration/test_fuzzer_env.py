"""A fuzzer's `env = KEY=VALUE ...` reaches its tasks: the command of an
exec fuzzer, and through cfo-fuzz the target a libFuzzer engine runs."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

# The target says what it was given in a file the environment also names, so
# the test does not depend on which part of the engine's output is kept.
TARGET_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *to = getenv("GREETING_FILE");
    const char *greeting = getenv("GREETING");
    const char *cpus = getenv("CFO_TASK_CPUS");
    FILE *f = to ? fopen(to, "w") : NULL;
    if (f != NULL) {
        fprintf(f, "%s %s", greeting ? greeting : "(unset)", cpus ? cpus : "(unset)");
        fclose(f);
    }
    return 0;
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}
"""

BUILD_SH = """#!/bin/sh
set -e
mkdir -p out/libfuzzer
clang -g -O1 -fsanitize=fuzzer envtarget.c -o out/libfuzzer/envtarget
"""

SAY_SH = """#!/bin/sh
printf '{"count": 1, "findings": 0, "summary": "%s"}' "$GREETING" >&"$CFO_RESULT_FD"
"""

CONFIG = """
[fuzzer "SAY"]
kind = exec
run = ./say.sh
env = GREETING=hello-exec

[fuzzer "LF"]
kind = libfuzzer
build = ./build.sh
targets_dir = out/libfuzzer
fuzz_time = 2s
corpus = %(store)s
env = GREETING=hello-engine GREETING_FILE=%(greeting)s
"""


class FuzzerEnv(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {"envtarget.c": TARGET_C, "build.sh": (BUILD_SH, 0o755),
                                      "say.sh": (SAY_SH, 0o755)})
        self.greeting = os.path.join(self.tmp.path, "greeting.txt")
        self.config = os.path.join(self.tmp.path, "cfo.ini")
        with open(self.config, "w") as f:
            f.write(CONFIG % {"store": os.path.join(self.tmp.path, "store"),
                              "greeting": self.greeting})

    def tearDown(self):
        self.tmp.cleanup()

    def test_env_reaches_exec_and_engine_tasks(self):
        report = os.path.join(self.tmp.path, "report.json")
        p = run([binary("cfo"), "--repo", self.repo, "--config", self.config,
                 "--workdir", os.path.join(self.tmp.path, "work"),
                 "--dataset", "file://" + os.path.join(self.tmp.path, "data.json"),
                 "--task-timeout", "3m", "--budget", "5m", "--report", report,
                 "--concurrency", "1"],
                cwd=self.tmp.path, timeout=400)
        with open(report) as f:
            tasks = {t["record"]["fuzzer"]: t for t in json.load(f)["tasks"]}
        self.assertEqual(tasks["SAY"]["summary"], "hello-exec", p.stderr[-2000:])
        self.assertEqual(tasks["LF"]["record"]["status"], "pass", p.stderr[-2000:])
        # One slot: the task's share of the CPUs is all of them.
        with open(self.greeting) as f:
            self.assertEqual(f.read(), "hello-engine %d" % os.sysconf("SC_NPROCESSORS_ONLN"))

    def test_a_bad_entry_is_a_configuration_error(self):
        with open(self.config, "w") as f:
            f.write('[fuzzer "SAY"]\nkind = exec\nrun = ./say.sh\nenv = GREETING\n')
        p = run([binary("cfo"), "--repo", self.repo, "--config", self.config, "--dry-run"],
                cwd=self.tmp.path)
        self.assertEqual(p.returncode, 2)
        self.assertIn("invalid 'env' entry 'GREETING' (expected NAME=VALUE", p.stderr)


if __name__ == "__main__":
    cfotest.main()
