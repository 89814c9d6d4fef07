"""What every binary's front end shares: --version, a --help that names it,
usage errors that exit 2 and point at --help, and one rule that finds the
configuration file (--config, else $CFO_CONFIG, else the repository's
cfo.ini, else the built-in defaults)."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

PROGRAMS = ["cfo", "cfo-coordinator", "cfo-worker", "cfo-fuzz", "cfo-crash", "cfo-corpus",
            "cfo-dataset", "cfo-keygen"]

ONLY_CANARY = """
[fuzzer "ONLY_CANARY"]
kind = canary
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "CFO_CONFIG"}
    env.update(extra)
    return env


class FrontEnds(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_every_binary_answers_version(self):
        for prog in PROGRAMS:
            p = run([binary(prog), "--version"])
            self.assertEqual(p.returncode, 0, prog + p.stderr)
            self.assertRegex(p.stdout, r"^%s \d+\.\d+\.\d+\n$" % re.escape(prog))

    def test_every_help_names_version(self):
        for prog in PROGRAMS:
            p = run([binary(prog), "--help"])
            self.assertEqual(p.returncode, 0, prog + p.stderr)
            self.assertIn("--version", p.stdout, prog)

    def test_usage_errors_exit_2(self):
        for prog in PROGRAMS:
            p = run([binary(prog), "--no-such-option"])
            self.assertEqual(p.returncode, 2, prog + p.stderr)
            self.assertIn("--help", p.stderr, prog)

    def test_the_other_programs_options_are_refused_by_name(self):
        p = run([binary("cfo"), "--bind", "tcp://127.0.0.1:1"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("option '--bind' is not one of cfo's", p.stderr)
        p = run([binary("cfo-coordinator"), "--save-logs"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("is not one of cfo-coordinator's", p.stderr)

    def test_new_options_refuse_garbage(self):
        repo = os.path.join(self.tmp.path, "garbage-repo")
        cfotest.make_repo(repo, {"README": "x\n"})
        cases = [
            ([binary("cfo-worker"), "--connect", "tcp://127.0.0.1:1", "--connect-timeout", "soon"],
             "--connect-timeout"),
            ([binary("cfo"), "--repo", repo, "--keep-worktrees=yes"], "--keep-worktrees"),
            ([binary("cfo"), "--repo", repo, "--joblog"], "--joblog"),
        ]
        for argv, name in cases:
            p = run(argv, env=clean_env(), timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(name, p.stderr)
        # A joblog that cannot be written stops the run before any task.
        p = run([binary("cfo"), "--repo", repo, "--fuzzer", "CANARY",
                 "--joblog", os.path.join(self.tmp.path, "no", "such", "dir", "jobs")],
                env=clean_env(), timeout=60)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("cannot write the joblog", p.stderr)
        # skip_passed takes a boolean, and says which line does not.
        ini = os.path.join(self.tmp.path, "bad.ini")
        with open(ini, "w") as f:
            f.write('[fuzzer "X"]\nkind = canary\nskip_passed = sometimes\n')
        p = run([binary("cfo"), "--repo", repo, "--config", ini, "--dry-run"], env=clean_env())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("bad.ini:3", p.stderr)
        self.assertIn("skip_passed", p.stderr)

    def test_config_rule(self):
        repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(repo, {"README": "x\n"})
        ini = os.path.join(self.tmp.path, "elsewhere.ini")
        with open(ini, "w") as f:
            f.write(ONLY_CANARY)
        # Nothing given, no cfo.ini: the built-in defaults.
        p = run([binary("cfo"), "--repo", repo, "--dry-run", "--fuzzer", "CANARY"],
                env=clean_env())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration: built-in defaults", p.stderr)
        self.assertIn("CANARY\t", p.stdout)
        self.assertNotIn("ONLY_CANARY", p.stdout)
        # $CFO_CONFIG, for cfo and for cfo-fuzz alike.
        p = run([binary("cfo"), "--repo", repo, "--dry-run"], env=clean_env(CFO_CONFIG=ini))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([line.split("\t")[0] for line in p.stdout.splitlines()],
                         ["ONLY_CANARY"])
        p = run([binary("cfo-fuzz"), "ONLY_CANARY", "--discover"], cwd=repo,
                env=clean_env(CFO_CONFIG=ini))
        self.assertEqual(p.returncode, 0, p.stderr)
        # --config wins over $CFO_CONFIG.
        other = os.path.join(self.tmp.path, "other.ini")
        with open(other, "w") as f:
            f.write(ONLY_CANARY.replace("ONLY_CANARY", "OTHER"))
        p = run([binary("cfo"), "--repo", repo, "--dry-run", "--config", other],
                env=clean_env(CFO_CONFIG=ini))
        self.assertEqual([line.split("\t")[0] for line in p.stdout.splitlines()], ["OTHER"])


if __name__ == "__main__":
    cfotest.main()
