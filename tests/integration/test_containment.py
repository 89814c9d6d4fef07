"""Containment on a real cfo-worker: a task's daemon that clears its
environment, leaves its process group and forks twice ends with its task,
while another task of the same worker still runs."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402
from test_cfo_single_host import DAEMON_WATCH, TOKEN, scripts  # noqa: E402

CONFIG = """
[fuzzer "ENV_DAEMON"]
kind = exec
run = ./fz/env_daemon.sh

[fuzzer "DAEMON_WATCH"]
kind = exec
task_timeout = 2m
run = ./fz/daemon_watch.sh
"""


class WorkerContainment(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.tmp.path, *parts)

    def read(self, name):
        try:
            with open(self.path(name)) as f:
                return f.read()
        except OSError as e:
            return str(e)

    def spawn(self, argv, log, env):
        with open(log, "w") as out:
            p = subprocess.Popen(argv, cwd=self.tmp.path, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def test_daemon_ends_with_its_task_beside_another(self):
        files = {k: v for k, v in scripts().items()
                 if k in ("fz/env_daemon.sh", "fz/daemon_watch.sh")}
        self.assertIn("fz/daemon_watch.sh", files)
        self.assertEqual(files["fz/daemon_watch.sh"][0], DAEMON_WATCH)
        repo = self.path("repo")
        cfotest.make_repo(repo, dict(files, **{"cfo.ini": CONFIG}))
        env = dict(os.environ, DAEMON_PIDFILE=self.path("daemon.pid"))
        endpoint = "tcp://127.0.0.1:%d" % cfotest.free_port()
        data = self.path("data.json")
        coord = self.spawn(
            [binary("cfo-coordinator"), "--repo", repo, "--bind", endpoint,
             "--dataset", "file://" + data, "--upload", "--workdir", self.path("cwork"),
             "--wait-workers", "60s", "--report", self.path("report.json")],
            self.path("coordinator.log"), env=env)
        worker = self.spawn(
            [binary("cfo-worker"), "--connect", endpoint, "--id", "w", "--repo", repo,
             "--slots", "2", "--workdir", self.path("wwork")], self.path("w.log"), env=env)
        if coord.wait(timeout=240) != 0:
            self.fail(self.read("coordinator.log") + self.read("report.json"))
        self.assertEqual(worker.wait(timeout=60), 0)
        log = self.read("w.log")
        with open(data) as f:
            recs = {r["fuzzer"]: r for r in json.load(f)["records"]}
        self.assertEqual(recs["ENV_DAEMON"]["status"], "pass")
        if "tasks run in cgroups of their own" not in log:
            self.assertEqual(cfotest.processes_with(TOKEN + "6"), [])
            self.skipTest("no writable cgroup v2: " + log[:300])
        self.assertEqual(recs["DAEMON_WATCH"]["status"], "pass", recs["DAEMON_WATCH"])
        self.assertEqual(cfotest.processes_with(TOKEN), [])


if __name__ == "__main__":
    cfotest.main()
