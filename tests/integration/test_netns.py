"""Several machines: the coordinator and two workers each in a network
namespace of their own, joined by veth links. One worker's link is cut in the
middle of the run; the other finishes its tasks, each recorded once.

All addresses live only inside namespaces this test makes and deletes."""

import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary  # noqa: E402
from test_distributed import Cluster, once_each  # noqa: E402

PORT = 5555


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=30)


def can_make_namespaces():
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    probe = "cfo-probe-%d" % os.getpid()
    try:
        sh("ip", "netns", "add", probe)
        sh("ip", "netns", "del", probe)
    except (OSError, subprocess.CalledProcessError) as e:
        return "cannot create network namespaces here: %s" % e
    return None


class Machines:
    """Three namespaces: c (coordinator) linked to w1 and w2 by veth pairs."""

    def __init__(self):
        tag = "cfo%d" % (os.getpid() % 100000)
        self.ns = {name: "%s-%s" % (tag, name) for name in ("c", "w1", "w2")}
        self.links = {}
        for name in self.ns.values():
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        for i, w in enumerate(("w1", "w2"), start=1):
            c_end, w_end = "c%d-%s" % (i, tag[-4:]), "%s-%s" % (w, tag[-4:])
            sh("ip", "link", "add", c_end, "netns", self.ns["c"], "type", "veth",
               "peer", "name", w_end, "netns", self.ns[w])
            sh("ip", "-n", self.ns["c"], "addr", "add", "10.231.%d.1/24" % i, "dev", c_end)
            sh("ip", "-n", self.ns[w], "addr", "add", "10.231.%d.2/24" % i, "dev", w_end)
            sh("ip", "-n", self.ns["c"], "link", "set", c_end, "up")
            sh("ip", "-n", self.ns[w], "link", "set", w_end, "up")
            self.links[w] = w_end

    def prefix(self, machine):
        return ["ip", "netns", "exec", self.ns[machine]]

    def cut(self, worker):
        sh("ip", "-n", self.ns[worker], "link", "set", self.links[worker], "down")

    def close(self):
        for name in self.ns.values():
            subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL, timeout=30)


class SeveralMachines(unittest.TestCase):
    def test_link_cut_mid_run_other_worker_finishes(self):
        reason = can_make_namespaces()
        if reason:
            print("skipped: " + reason)
            self.skipTest(reason)
        m = Machines()
        c = Cluster({"WITH_VICTIM": "1", "NTASKS": "20", "TASK_SLEEP": "0.2"})
        try:
            # Machines that are not loopback to each other talk CURVE only.
            keys, allow = os.path.join(c.tmp.path, "keys"), os.path.join(c.tmp.path, "allow")
            for name in ("coordinator", "w1", "w2"):
                cfotest.run([binary("cfo-keygen"), "--dir", keys, name], check=0)
            os.makedirs(allow)
            for name in ("w1", "w2"):
                os.link(os.path.join(keys, name + ".pub"), os.path.join(allow, name + ".pub"))
            coord = c.spawn("coordinator", m.prefix("c") + [
                binary("cfo-coordinator"), "--repo", c.repo, "--bind", "tcp://*:%d" % PORT,
                "--curve-secret", os.path.join(keys, "coordinator.key"), "--allow-dir", allow,
                "--heartbeat", "300ms", "--dataset", "file://" + c.data, "--upload",
                "--workdir", os.path.join(c.tmp.path, "cwork"), "--wait-workers", "60s"])
            workers = {}
            for i, w in enumerate(("w1", "w2"), start=1):
                workers[w] = c.spawn(w, m.prefix(w) + [
                    binary("cfo-worker"), "--connect", "tcp://10.231.%d.1:%d" % (i, PORT),
                    "--id", w, "--repo", c.repo, "--slots", "1", "--heartbeat", "300ms",
                    "--curve-secret", os.path.join(keys, w + ".key"),
                    "--server-key", os.path.join(keys, "coordinator.pub"),
                    "--workdir", os.path.join(c.tmp.path, "work-" + w)])
            worker_pid, task_pid = c.mark()
            # `ip netns exec` execs the worker, so the marker's parent is the worker.
            holder = [w for w, p in workers.items() if p.pid == worker_pid][0]
            m.cut(holder)
            os.killpg(task_pid, signal.SIGKILL)  # the task on the cut-off machine
            self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
            recs = c.records()
            once_each(self, recs, [("SEQ", "t%d" % i) for i in range(1, 21)] +
                      [("SEQ", "a-victim"), ("OTHER", "default")])
            victim = [r for r in recs if r["target"] == "a-victim"][0]
            self.assertNotEqual(victim["worker"], holder)
            self.assertEqual(victim["attempt"], 2)
            self.assertIn("worker %s went silent" % holder, c.log("coordinator"))
        finally:
            c.close()
            m.close()


if __name__ == "__main__":
    cfotest.main()
