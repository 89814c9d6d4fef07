"""Shared helpers for CFO's integration tests: where the binaries are, scratch
git repositories, running a program with a bound, and a unittest runner that
ends with the plain 'N passed, M failed' line."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.path.join(os.environ.get("CFO_BINARY_DIR", "build"), "bin")
SRC = os.environ.get("CFO_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def binary(name):
    return os.path.join(BIN, name)


def run(argv, cwd=None, env=None, timeout=300, check=None, input=None):
    """Runs argv to completion (bounded), returns CompletedProcess with text."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run(argv, cwd=cwd, env=full_env, timeout=timeout, input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       errors="replace")
    if check is not None and p.returncode != check:
        raise AssertionError("%s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(argv), p.returncode, check, p.stdout[-4000:], p.stderr[-4000:]))
    return p


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(repo, *args):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return run(["git", *args], cwd=repo, env=env, check=0).stdout.strip()


class TempDir:
    """A scratch directory removed at the end (kept when CFO_KEEP_TMP is set)."""

    def __init__(self, prefix="cfo-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def cleanup(self):
        if not os.environ.get("CFO_KEEP_TMP"):
            shutil.rmtree(self.path, ignore_errors=True)


def make_repo(path, files, branch="main"):
    """A git repository at path with files {relpath: text or (text, mode)}
    committed on branch. Returns the commit sha."""
    os.makedirs(path, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    write_files(path, files)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return git(path, "rev-parse", "HEAD")


def write_files(root, files):
    for rel, content in files.items():
        mode = None
        if isinstance(content, tuple):
            content, mode = content
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)
        if mode is not None:
            os.chmod(p, mode)


def processes_with(token):
    """Pids whose command line contains token (other than this process)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token in cmd and state != "Z":
            found.append((int(pid), cmd))
    return found


def wait_for(predicate, timeout=30.0, what="condition"):
    """Polls predicate until true; raises after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def main():
    """unittest main that prints 'N passed, M failed' last and sets the status."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    # A failing subTest is reported once per subtest: count the tests.
    failed = len({id(getattr(t, "test_case", t)) for t, _ in result.failures + result.errors})
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.exit(1 if failed or result.testsRun == 0 else 0)
