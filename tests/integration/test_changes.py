"""Change-focused runs (--changed-since REF) with the real binaries, real git
and the example Terraform repository: a commit touching a child module runs
exactly the root modules that use it; exec fuzzers follow their path map; a
focus command reads the diff on stdin, and its bad output is a clear warning
that leaves the built-in rules in charge."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402


def tasks(stdout):
    """{branch: set of targets} of a dry run's lines."""
    out = {}
    for line in stdout.strip().split("\n"):
        if not line:
            continue
        fuzzer, branch, _, target = line.split("\t")
        out.setdefault((fuzzer, branch), set()).add(target)
    return out


class TerraformChanges(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = cfotest.TempDir()
        cls.repo = os.path.join(cls.tmp.path, "example")
        run([os.path.join(cfotest.SRC, "examples", "make-example-repo.sh"), cls.repo],
            check=0, timeout=600)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def dry_run(self, *args):
        p = run([binary("cfo"), "--repo", self.repo, "--dry-run", "--fuzzer", "INFRA_DRIFT",
                 "--workdir", os.path.join(self.tmp.path, "work"), *args], cwd=self.tmp.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        return tasks(p.stdout), p.stderr

    def commit_on_main(self, path, text):
        with open(os.path.join(self.repo, path), "a") as f:
            f.write(text)
        git(self.repo, "commit", "-qam", "touch " + path)

    def test_child_module_change_runs_exactly_its_users(self):
        # modules/label is used by both network modules directly and by
        # envs/prod/app through modules/service; envs/dev/app uses none.
        self.commit_on_main("modules/label/main.tf", "\n# touched\n")
        got, err = self.dry_run("--changed-since", "main~1")
        self.assertEqual(got.get(("INFRA_DRIFT", "main")), {"envs/prod/app", "envs/prod/network",
                                                            "envs/staging/network"})
        # staging diverged before it: its own change touches envs/prod/app only.
        self.assertEqual(got.get(("INFRA_DRIFT", "staging")), {"envs/prod/app"})
        # plan differs from main~1 by a README: nothing to run.
        self.assertNotIn(("INFRA_DRIFT", "plan"), got)
        self.assertIn("left out: the change since main~1 does not touch them", err)

        self.commit_on_main("modules/service/main.tf", "\n# touched\n")
        got, _ = self.dry_run("--changed-since", "main~1")
        self.assertEqual(got.get(("INFRA_DRIFT", "main")), {"envs/prod/app"})

        # Without --changed-since everything runs.
        got, _ = self.dry_run()
        self.assertEqual(len(got[("INFRA_DRIFT", "main")]), 4)

    def test_unknown_ref_is_a_usage_error(self):
        p = run([binary("cfo"), "--repo", self.repo, "--dry-run", "--changed-since",
                 "no-such-ref", "--workdir", os.path.join(self.tmp.path, "work")],
                cwd=self.tmp.path)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--changed-since no-such-ref", p.stderr)


FOCUS = """#!/bin/sh
# Reads the diff on stdin; names a target when the lexer changed.
if grep -q '^+++ b/src/lex/' ; then
  echo '{"targets": ["PARSE:c"], "seeds": {}}'
else
  echo '{"targets": []}'
fi
"""


class ExecChanges(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {
            "cfo.ini": '[cfo]\nfocus_command = ./focus.sh\n\n'
                       '[fuzzer "PARSE"]\nkind = exec\nneeds_working_dir = false\n'
                       'discover = ./list.sh\nrun = ./run.sh {target}\n'
                       'paths = src/a/* -> a, src/b/** -> b\n',
            "list.sh": ("#!/bin/sh\nprintf 'a\\nb\\nc\\n'\n", 0o755),
            "run.sh": ("#!/bin/sh\nexit 0\n", 0o755),
            "focus.sh": (FOCUS, 0o755),
            "src/a/one.c": "a\n", "src/b/deep/two.c": "b\n", "src/lex/lex.c": "l\n"})

    def tearDown(self):
        self.tmp.cleanup()

    def change(self, path):
        with open(os.path.join(self.repo, path), "a") as f:
            f.write("changed\n")
        git(self.repo, "commit", "-qam", "change " + path)

    def targets(self, *args):
        p = run([binary("cfo"), "--repo", self.repo, "--dry-run", "--changed-since", "HEAD~1",
                 "--workdir", os.path.join(self.tmp.path, "w"), *args], cwd=self.tmp.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        return tasks(p.stdout).get(("PARSE", "main"), set()), p.stderr

    def test_path_map_and_focus_command(self):
        self.change("src/b/deep/two.c")
        got, _ = self.targets()
        self.assertEqual(got, {"b"})  # "**" reaches into subdirectories
        self.change("src/lex/lex.c")  # no path maps it; the focus command names c
        got, err = self.targets()
        self.assertEqual(got, {"c"})
        self.assertIn("focus_command named 1 target\n", err)

    def test_bad_focus_output_falls_back_to_the_rules(self):
        with open(os.path.join(self.repo, "focus.sh"), "w") as f:
            f.write("#!/bin/sh\necho 'not json'\n")
        git(self.repo, "commit", "-qam", "broken focus")
        self.change("src/a/one.c")
        got, err = self.targets()
        self.assertEqual(got, {"a"})
        self.assertIn("focus output is not JSON", err)
        self.assertIn("built-in rules decide alone", err)


SHALLOW_CONFIG = """
[fuzzer "PATHS"]
kind = exec
needs_working_dir = false
discover = ./list.sh
run = true
paths = a/* -> ta, b/* -> tb
"""


class ShallowClones(unittest.TestCase):
    """A CI checkout is shallow by default: the merge base --changed-since
    needs is fetched when the remote can be reached, and otherwise the error
    names the cause and the fix; a bad ref is named as such."""

    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.origin = os.path.join(self.tmp.path, "origin")
        cfotest.make_repo(self.origin, {"cfo.ini": SHALLOW_CONFIG,
                                        "list.sh": ("#!/bin/sh\necho ta\necho tb\n", 0o755),
                                        "a/x": "1\n", "b/y": "1\n"})
        for i in range(3):
            with open(os.path.join(self.origin, "b", "y"), "w") as f:
                f.write("%d\n" % i)
            git(self.origin, "commit", "-qam", "main %d" % i)
        git(self.origin, "checkout", "-qb", "feature")
        with open(os.path.join(self.origin, "a", "x"), "w") as f:
            f.write("changed\n")
        git(self.origin, "commit", "-qam", "feature touches a/")
        self.clone = os.path.join(self.tmp.path, "clone")
        run(["git", "clone", "-q", "--depth", "1", "--no-single-branch", "-b", "feature",
             "file://" + self.origin, self.clone], check=0)

    def tearDown(self):
        self.tmp.cleanup()

    def dry_run(self, ref):
        return run([binary("cfo"), "--repo", self.clone, "--dry-run", "--changed-since", ref])

    def test_a_shallow_clone_is_deepened(self):
        p = self.dry_run("origin/main")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([line.split("\t")[3] for line in p.stdout.splitlines()], ["ta"])
        self.assertIn("the clone is shallow", p.stderr)

    def test_a_shallow_clone_that_cannot_be_deepened_names_the_fix(self):
        git(self.clone, "remote", "set-url", "origin", "file:///nonexistent/origin")
        p = self.dry_run("origin/main")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("fetch-depth: 0", p.stderr)
        self.assertNotIn("no merge base", p.stderr)

    def test_a_bad_ref_is_named(self):
        p = self.dry_run("no-such-branch")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--changed-since no-such-branch: no such commit, branch or tag", p.stderr)
        self.assertNotIn("Use '--' to separate paths", p.stderr)


if __name__ == "__main__":
    cfotest.main()
