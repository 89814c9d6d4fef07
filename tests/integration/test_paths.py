"""Paths as the contract says: a relative dataset in cfo.ini belongs to the
repository (whatever the current folder), one on the command line to the
current folder; the default workdir is the repository's; and --dry-run
creates nothing: no folder, no worktree, no dataset."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402

CONFIG = """
[cfo]
dataset = file://.cfo/data.json

[fuzzer "TREE"]
kind = exec
needs_working_dir = true
skip_passed = true
discover = ./list.sh
run = true
"""


def snapshot(root):
    """Every path under root (.git included), so that any file or worktree
    a command makes shows."""
    out = set()
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


class Paths(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {
            "cfo.ini": CONFIG,
            "list.sh": ("#!/bin/sh\necho one\necho two\n", 0o755),
            ".gitignore": ".cfo/\n",
        })
        self.elsewhere = os.path.join(self.tmp.path, "elsewhere")
        os.makedirs(self.elsewhere)

    def tearDown(self):
        self.tmp.cleanup()

    def test_the_configs_relative_dataset_is_the_repositorys(self):
        p = run([binary("cfo"), "--repo", self.repo, "--upload", "--quiet"], cwd=self.elsewhere)
        self.assertEqual(p.returncode, 0, p.stderr)
        data = os.path.join(self.repo, ".cfo", "data.json")
        with open(data) as f:
            self.assertEqual(len(json.load(f)["records"]), 2)
        self.assertEqual(os.listdir(self.elsewhere), [])
        # The worktrees are the repository's too.
        self.assertTrue(os.path.isdir(os.path.join(self.repo, ".cfo", "work")))

    def test_a_relative_dataset_on_the_command_line_is_the_current_folders(self):
        p = run([binary("cfo"), "--repo", self.repo, "--upload", "--quiet",
                 "--dataset", "file://mine.json"], cwd=self.elsewhere)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.elsewhere, "mine.json")))

    def test_dry_run_from_elsewhere_reads_the_dataset_and_creates_nothing(self):
        p = run([binary("cfo"), "--repo", self.repo, "--upload", "--quiet"], cwd=self.repo)
        self.assertEqual(p.returncode, 0, p.stderr)
        # A new commit: its targets are new; the old commit's passed.
        with open(os.path.join(self.repo, "list.sh"), "a") as f:
            f.write("echo three\n")
        git(self.repo, "commit", "-qam", "three")
        for wt in os.listdir(os.path.join(self.repo, ".cfo", "work")):
            git(self.repo, "worktree", "remove", "--force", os.path.join(".cfo", "work", wt))
        before_tree = snapshot(self.repo)
        before_worktrees = git(self.repo, "worktree", "list")
        before_elsewhere = snapshot(self.elsewhere)
        p = run([binary("cfo"), "--repo", self.repo, "--dry-run"], cwd=self.elsewhere)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [line.split("\t") for line in p.stdout.splitlines()]
        self.assertEqual(sorted(t for _, _, _, t in lines), ["one", "three", "two"])
        self.assertIn("dataset %s" % os.path.join(self.repo, ".cfo", "data.json"), p.stderr)
        self.assertEqual(snapshot(self.repo), before_tree)
        self.assertEqual(git(self.repo, "worktree", "list"), before_worktrees)
        self.assertEqual(snapshot(self.elsewhere), before_elsewhere)
        # Dry-running the same commit again: the passed targets are skipped.
        git(self.repo, "reset", "-q", "--hard", "HEAD~1")
        p = run([binary("cfo"), "--repo", self.repo, "--dry-run"], cwd=self.elsewhere)
        self.assertEqual(p.stdout, "", p.stderr)
        self.assertIn("2 targets already passed on their commit and are skipped", p.stderr)

    def test_old_worktrees_are_removed_after_a_run(self):
        work = os.path.join(self.repo, ".cfo", "work")
        for i in range(5):
            with open(os.path.join(self.repo, "n.txt"), "w") as f:
                f.write("%d\n" % i)
            git(self.repo, "add", "n.txt")
            git(self.repo, "commit", "-qm", "commit %d" % i)
            p = run([binary("cfo"), "--repo", self.repo, "--quiet"], cwd=self.repo)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(os.listdir(work), [git(self.repo, "rev-parse", "HEAD")])
        self.assertEqual(len(git(self.repo, "worktree", "list").splitlines()), 2)
        # --keep-worktrees keeps them.
        git(self.repo, "commit", "-q", "--allow-empty", "-m", "one more")
        p = run([binary("cfo"), "--repo", self.repo, "--quiet", "--keep-worktrees"],
                cwd=self.repo)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(os.listdir(work)), 2)


if __name__ == "__main__":
    cfotest.main()
