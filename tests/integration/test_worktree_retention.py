"""Worktree retention on a long-lived worker: a cfo-worker that serves one
run after another (restarted after each, as deploy/systemd does) keeps at
most one worktree per configured branch in its workdir, and a worktree a
running task uses is never removed, whoever retires old worktrees."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run, wait_for  # noqa: E402

HB = "300ms"

# A task that, when told to and in a worktree of main (only main's commits
# have n.txt), says where it runs and waits for its release: a worktree held
# by a running task, for as long as the test needs.
RUN_SH = """#!/bin/sh
if [ -n "$HOLD_DIR" ] && [ -e n.txt ]; then
  pwd > "$HOLD_DIR/started.tmp" && mv "$HOLD_DIR/started.tmp" "$HOLD_DIR/started"
  while [ ! -e "$HOLD_DIR/release" ]; do sleep 0.05; done
fi
exit 0
"""

CONFIG = """
[fuzzer "TREE"]
kind = exec
needs_working_dir = true
branches = main staging
discover = ./list.sh
run = ./run.sh {target}
"""


class Retention(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        t = self.tmp.path
        self.repo = os.path.join(t, "repo")
        cfotest.make_repo(self.repo, {
            "cfo.ini": CONFIG,
            "list.sh": ("#!/bin/sh\necho one\necho two\n", 0o755),
            "run.sh": (RUN_SH, 0o755),
        })
        git(self.repo, "branch", "staging")
        # The worker has a clone of its own: its `git worktree list` shows
        # only what the worker made, and it fetches each new commit.
        self.origin = os.path.join(t, "origin.git")
        git(t, "clone", "-q", "--bare", self.repo, self.origin)
        git(self.repo, "remote", "add", "origin", self.origin)
        self.clone = os.path.join(t, "clone")
        git(t, "clone", "-q", self.origin, self.clone)
        self.work = os.path.join(t, "w-work")
        self.data = os.path.join(t, "data.json")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.tmp.cleanup()

    def spawn(self, name, argv, env=None):
        log = open(os.path.join(self.tmp.path, name + ".log"), "w")
        p = subprocess.Popen(argv, cwd=self.tmp.path, env=dict(os.environ, **(env or {})),
                             stdout=log, stderr=subprocess.STDOUT)
        log.close()
        p.log_path = log.name
        self.procs.append(p)
        return p

    def log(self, p):
        with open(p.log_path) as f:
            return f.read()

    def wait(self, p, timeout=120):
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit; its log:\n%s" % (p.args[0], self.log(p)[-3000:]))

    def new_commit(self, i):
        with open(os.path.join(self.repo, "n.txt"), "w") as f:
            f.write("%d\n" % i)
        git(self.repo, "add", "n.txt")
        git(self.repo, "commit", "-qm", "commit %d" % i)
        git(self.repo, "push", "-q", "origin", "main", "staging")
        return git(self.repo, "rev-parse", "HEAD")

    def start_run(self, name, *worker_args, env=None):
        """A coordinator and the worker, each a new process, for one run."""
        endpoint = "tcp://127.0.0.1:%d" % cfotest.free_port()
        coord = self.spawn(name, [
            binary("cfo-coordinator"), "--repo", self.repo, "--bind", endpoint,
            "--heartbeat", HB, "--dataset", "file://" + self.data, "--upload",
            "--workdir", os.path.join(self.tmp.path, "cwork"), "--wait-workers", "60s",
            "--grace", "300ms"])
        worker = self.spawn(name + "-worker", [
            binary("cfo-worker"), "--connect", endpoint, "--id", "w", "--repo", self.clone,
            "--workdir", self.work, "--heartbeat", HB, "--grace", "300ms", "--slots", "2",
            *worker_args], env=env)
        return coord, worker

    def serve_run(self, name, *worker_args):
        coord, worker = self.start_run(name, *worker_args)
        self.assertEqual(self.wait(coord), 0, self.log(coord) + self.log(worker))
        self.assertEqual(self.wait(worker, 30), 0, self.log(worker))
        return worker

    def worktrees(self):
        """The worker's clone's worktrees other than the clone itself."""
        listed = git(self.clone, "worktree", "list", "--porcelain").splitlines()
        paths = [line[len("worktree "):] for line in listed if line.startswith("worktree ")]
        return sorted(os.path.basename(p) for p in paths if p != self.clone)

    def test_five_commits_leave_one_worktree_per_branch(self):
        staging = git(self.repo, "rev-parse", "staging")
        for i in range(5):
            head = self.new_commit(i)
            worker = self.serve_run("run%d" % i)
            # Both branches were tested on the worker, each in a worktree.
            self.assertEqual(sorted(os.listdir(self.work)), sorted([head, staging]),
                             self.log(worker))
            self.assertEqual(self.worktrees(), sorted([head, staging]))
        self.assertIn("removed 1 worktree(s)", self.log(worker))

    def test_keep_worktrees_keeps_them(self):
        heads = [self.new_commit(i) for i in range(1)]
        self.serve_run("run0", "--keep-worktrees")
        heads.append(self.new_commit(1))
        self.serve_run("run1", "--keep-worktrees")
        staging = git(self.repo, "rev-parse", "staging")
        self.assertEqual(sorted(os.listdir(self.work)), sorted(heads + [staging]))
        self.assertEqual(self.worktrees(), sorted(heads + [staging]))

    def test_a_worktree_a_running_task_holds_is_never_removed(self):
        # A run whose task holds the worktree of main's head...
        held = self.new_commit(0)
        hold = os.path.join(self.tmp.path, "hold")
        os.makedirs(hold)
        coord, worker = self.start_run("held", env={"HOLD_DIR": hold})
        started = os.path.join(hold, "started")
        wait_for(lambda: os.path.exists(started), 60, "a task to start")
        with open(started) as f:
            held_dir = f.read().strip()
        # ...while a single-host run of a newer commit, sharing the clone and
        # the workdir, retires the worktrees of commits it did not test.
        self.new_commit(1)
        git(self.clone, "pull", "-q", "--ff-only", "origin", "main")
        p = run([binary("cfo"), "--repo", self.clone, "--workdir", self.work, "--quiet"],
                cwd=self.tmp.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.isdir(held_dir), p.stderr)
        self.assertEqual(os.path.basename(held_dir), held)
        self.assertIn(held, self.worktrees())
        # Released, the held task ends; its run does too.
        open(os.path.join(hold, "release"), "w").close()
        self.assertEqual(self.wait(coord), 0, self.log(coord) + self.log(worker))
        self.assertEqual(self.wait(worker, 30), 0, self.log(worker))


if __name__ == "__main__":
    cfotest.main()
