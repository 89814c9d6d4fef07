"""test_fuzz_runner.py -- cfo-fuzz as a program: exit statuses, messages, the
result descriptor, configuration lookup, and the exec fuzzer driven by a
cfo.ini in a temporary directory."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

BINARY_DIR = os.environ.get(
    "CFO_BINARY_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
CFO_FUZZ = os.path.join(BINARY_DIR, "bin", "cfo-fuzz")

CANARY_LINE = "canary: failing on purpose: the harness must record this failure"


def clean_env(**extra):
    env = dict(os.environ)
    for name in ("CFO_CONFIG", "CFO_RESULT_FD"):
        env.pop(name, None)
    env.update(extra)
    return env


def run_fuzz(args, cwd, env=None, result_fd=False, timeout=120):
    """Runs cfo-fuzz; with result_fd, hands it a pipe in CFO_RESULT_FD and
    returns what it wrote there as the fourth element."""
    env = clean_env() if env is None else env
    if not result_fd:
        p = subprocess.run([CFO_FUZZ] + args, cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr, None
    r, w = os.pipe()
    try:
        env = dict(env, CFO_RESULT_FD=str(w))
        p = subprocess.Popen([CFO_FUZZ] + args, cwd=cwd, env=env, pass_fds=(w,),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.close(w)
        w = -1
        out, err = p.communicate(timeout=timeout)
        chunks = []
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
        return p.returncode, out, err, b"".join(chunks).decode()
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def write_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cfo-fuzz-it-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class CanaryAndUsage(TempDirTest):
    def test_help_is_truthful(self):
        code, out, _, _ = run_fuzz(["--help"], self.dir)
        self.assertEqual(code, 0)
        for word in ("--discover", "--config", "CFO_RESULT_FD", "FUZZER", "TARGET"):
            self.assertIn(word, out)

    def test_canary_discovers_one_target(self):
        code, out, err, _ = run_fuzz(["CANARY", "--discover"], self.dir)
        self.assertEqual((code, out), (0, "canary\n"), err)

    def test_canary_fails_and_reports(self):
        code, out, err, result = run_fuzz(["CANARY", "canary"], self.dir, result_fd=True)
        self.assertEqual(code, 1, err)
        self.assertIn(CANARY_LINE, out)
        doc = json.loads(result)  # exactly one JSON document
        self.assertEqual(doc["count"], 1)
        self.assertEqual(doc["findings"], 1)
        self.assertIsInstance(doc["summary"], str)
        self.assertTrue(doc["summary"])

    def test_canary_without_target_runs_its_only_target(self):
        code, out, _, _ = run_fuzz(["CANARY"], self.dir)
        self.assertEqual(code, 1)
        self.assertIn(CANARY_LINE, out)

    def test_unknown_fuzzer_is_a_usage_error(self):
        for args in (["NOPE"], ["NOPE", "--discover"], ["NOPE", "x"]):
            code, _, err, _ = run_fuzz(args, self.dir)
            self.assertEqual(code, 2, args)
            self.assertIn("unknown fuzzer 'NOPE'", err)

    def test_missing_fuzzer_is_a_usage_error(self):
        code, _, err, _ = run_fuzz([], self.dir)
        self.assertEqual(code, 2)
        self.assertIn("FUZZER", err)

    def test_targets_that_escape_are_refused(self):
        cases = {"../etc": "escapes", "a/../../b": "escapes", "-rf": "starts with '-'",
                 "/abs": "absolute"}
        for target, says in cases.items():
            for args in (["CANARY", target], ["CANARY", "--", target]):
                code, out, err, result = run_fuzz(args, self.dir, result_fd=True)
                self.assertEqual(code, 2, args)
                self.assertIn(says, err, args)
                self.assertNotIn(CANARY_LINE, out, "the fuzzer ran anyway")
                self.assertEqual(result, "", "a refused task reported a result")

    def test_bad_result_fd_is_refused(self):
        code, out, err, _ = run_fuzz(["CANARY"], self.dir, env=clean_env(CFO_RESULT_FD="99"))
        self.assertEqual(code, 2)
        self.assertIn("CFO_RESULT_FD", err)
        self.assertNotIn(CANARY_LINE, out)


# The exec fuzzer's command: records its arguments and whether it could see
# the result descriptor, then exits as its target says.
FUZZ_SH = r"""
printf '%s\n' "$@" > "$(dirname "$0")/args.txt"
echo "${CFO_RESULT_FD:-unset}" > "$(dirname "$0")/result_fd.txt"
case "$2" in
  pass*) echo "fuzz.sh: $2 passed"; exit 0 ;;
  fail*) echo "fuzz.sh: $2 found a bug"; exit 1 ;;
  crash*) kill -KILL $$ ;;
  *) exit 7 ;;
esac
"""

EXEC_INI = """
[fuzzer "SCRIPT"]
kind = exec
discover = ./list.sh
run = ./fuzz.sh --target={target} {target}

[fuzzer "NOLIST"]
kind = exec
run = ./fuzz.sh --target={target} pass-{target}

[fuzzer "ESCAPING"]
kind = exec
discover = ./escape.sh
run = ./fuzz.sh {target}

[fuzzer "MISSING"]
kind = exec
run = ./no-such-command.sh {target}
"""


class ExecFuzzer(TempDirTest):
    def setUp(self):
        super().setUp()
        write_script(os.path.join(self.dir, "fuzz.sh"), FUZZ_SH)
        write_script(os.path.join(self.dir, "list.sh"),
                     "printf 'pass/b\\nfail-a\\n\\npass/a\\n'\n")
        write_script(os.path.join(self.dir, "escape.sh"),
                     "printf 'fine\\n../../etc/passwd\\n'\n")
        with open(os.path.join(self.dir, "cfo.ini"), "w") as f:
            f.write(EXEC_INI)

    def args_seen(self):
        with open(os.path.join(self.dir, "args.txt")) as f:
            return f.read().splitlines()

    def test_discover_lists_sorted_targets(self):
        code, out, err, _ = run_fuzz(["SCRIPT", "--discover"], self.dir)
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "fail-a\npass/a\npass/b\n")

    def test_discover_without_command_gives_default(self):
        code, out, err, _ = run_fuzz(["NOLIST", "--discover"], self.dir)
        self.assertEqual((code, out), (0, "default\n"), err)

    def test_discover_line_that_escapes_is_an_error(self):
        code, out, err, _ = run_fuzz(["ESCAPING", "--discover"], self.dir)
        self.assertEqual(code, 3)
        self.assertIn("../../etc/passwd", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertNotIn("fine", out)

    def test_target_is_substituted_inside_words(self):
        code, out, err, result = run_fuzz(["SCRIPT", "pass/a b"], self.dir, result_fd=True)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.args_seen(), ["--target=pass/a b", "pass/a b"])
        self.assertIn("fuzz.sh: pass/a b passed", out)
        doc = json.loads(result)
        self.assertEqual((doc["count"], doc["findings"]), (1, 0))
        with open(os.path.join(self.dir, "result_fd.txt")) as f:
            self.assertEqual(f.read().strip(), "unset", "the command saw CFO_RESULT_FD")

    def test_exit_1_is_a_finding(self):
        code, out, err, result = run_fuzz(["SCRIPT", "fail-a"], self.dir, result_fd=True)
        self.assertEqual(code, 1, err)
        self.assertIn("found a bug", out)
        doc = json.loads(result)
        self.assertEqual((doc["count"], doc["findings"]), (1, 1))

    def test_other_status_is_an_error(self):
        code, _, err, result = run_fuzz(["SCRIPT", "weird"], self.dir, result_fd=True)
        self.assertEqual(code, 3)
        self.assertIn("status 7", err)
        self.assertIn("status 7", json.loads(result)["summary"])

    def test_signal_is_an_error(self):
        code, _, err, _ = run_fuzz(["SCRIPT", "crash"], self.dir)
        self.assertEqual(code, 3)
        self.assertIn("signal 9", err)

    def test_missing_command_is_an_error(self):
        code, _, err, _ = run_fuzz(["MISSING", "x"], self.dir)
        self.assertEqual(code, 3)
        self.assertIn("no-such-command.sh", err)
        self.assertIn("not found", err)

    def test_default_target(self):
        code, _, err, _ = run_fuzz(["NOLIST"], self.dir)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.args_seen(), ["--target=default", "pass-default"])

    def test_several_targets_need_a_name(self):
        code, _, err, _ = run_fuzz(["SCRIPT"], self.dir)
        self.assertEqual(code, 2)
        self.assertIn("3 targets", err)

    def test_config_lookup_order(self):
        elsewhere = os.path.join(self.dir, "elsewhere")
        os.mkdir(elsewhere)
        ini = os.path.join(self.dir, "cfo.ini")
        # No cfo.ini here and no CFO_CONFIG: the built-in fuzzers only.
        code, _, err, _ = run_fuzz(["NOLIST", "--discover"], elsewhere)
        self.assertEqual(code, 2)
        self.assertIn("unknown fuzzer", err)
        code, out, err, _ = run_fuzz(["NOLIST", "--discover"], elsewhere,
                                     env=clean_env(CFO_CONFIG=ini))
        self.assertEqual((code, out), (0, "default\n"), err)
        code, out, err, _ = run_fuzz(["--config", ini, "NOLIST", "--discover"], elsewhere,
                                     env=clean_env(CFO_CONFIG="/nonexistent/cfo.ini"))
        self.assertEqual((code, out), (0, "default\n"), err)
        code, _, err, _ = run_fuzz(["--config", "/nonexistent/cfo.ini", "CANARY"], elsewhere)
        self.assertEqual(code, 2)
        self.assertIn("/nonexistent/cfo.ini", err)


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
