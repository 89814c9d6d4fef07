"""CURVE authentication with the real binaries: only workers whose public key
is in --allow-dir get a session, traffic without the right keys gets nothing,
a key removed from the directory is refused after SIGHUP, a key added to it
is accepted without one."""

import os
import shutil
import signal
import stat
import sys
import time
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run, wait_for  # noqa: E402
from test_distributed import Cluster, once_each  # noqa: E402


def keygen(keys, name):
    run([binary("cfo-keygen"), "--dir", keys, name], check=0)
    return os.path.join(keys, name + ".key"), os.path.join(keys, name + ".pub")


class Curve(unittest.TestCase):
    def setUp(self):
        self.c = None

    def tearDown(self):
        if self.c is not None:
            self.c.close()

    def cluster(self, env):
        self.c = c = Cluster(env)
        self.keys = os.path.join(c.tmp.path, "keys")
        self.allow = os.path.join(c.tmp.path, "allowed")
        os.makedirs(self.allow)
        self.coord_key, self.coord_pub = keygen(self.keys, "coordinator")
        return c

    def allowed_worker_key(self, name):
        secret, public = keygen(self.keys, name)
        os.link(public, os.path.join(self.allow, name + ".pub"))
        return secret

    def coordinator(self, *args, bind=None):
        c = self.c
        if bind is not None:
            c.endpoint = bind
        return c.coordinator("--curve-secret", self.coord_key, "--allow-dir", self.allow, *args)

    def curve_worker(self, wid, secret, server_pub, *args):
        return self.c.worker(wid, "--curve-secret", secret, "--server-key", server_pub, *args)

    def test_only_allowed_keys_get_tasks(self):
        c = self.cluster({"NTASKS": "6"})
        good = self.allowed_worker_key("good")
        stranger, _ = keygen(self.keys, "stranger")
        _, impostor_pub = keygen(self.keys, "impostor")
        coord = self.coordinator()
        c.worker("plain", "--slots", "1")                              # no encryption
        self.curve_worker("stranger", stranger, self.coord_pub)        # key not allowed
        self.curve_worker("misled", good, impostor_pub)                 # wrong server key
        wait_for(lambda: "is not in %s" % self.allow in c.log("coordinator"), 30,
                 "the ZAP handler to refuse the unknown key")
        self.curve_worker("good", good, self.coord_pub, "--slots", "2")
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        recs = c.records()
        once_each(self, recs, [("SEQ", "t%d" % i) for i in range(1, 7)] + [("OTHER", "default")])
        self.assertEqual({r["worker"] for r in recs}, {"good"})
        log = c.log("coordinator")
        for name in ("plain", "stranger", "misled"):
            self.assertNotIn("worker %s joined" % name, log)

    def test_no_allowed_worker_means_no_worker(self):
        c = self.cluster({"NTASKS": "2"})
        stranger, _ = keygen(self.keys, "stranger")
        coord = self.coordinator("--wait-workers", "3s")
        self.curve_worker("stranger", stranger, self.coord_pub)
        c.worker("plain")
        self.assertEqual(c.wait(coord, 60), 3, c.log("coordinator"))
        self.assertIn("no worker connected", c.log("coordinator"))
        self.assertEqual(c.records(), [])

    def test_key_removed_is_refused_after_sighup(self):
        c = self.cluster({"NTASKS": "30", "TASK_SLEEP": "0.3"})
        a = self.allowed_worker_key("a")
        b = self.allowed_worker_key("b")
        coord = self.coordinator()
        wa = self.curve_worker("a", a, self.coord_pub, "--slots", "1")
        wait_for(lambda: "worker a joined" in c.log("coordinator"), 30, "worker a")
        os.unlink(os.path.join(self.allow, "a.pub"))
        coord.send_signal(signal.SIGHUP)
        wait_for(lambda: "worker a lost its key's permission" in c.log("coordinator"), 30,
                 "the coordinator to drop worker a")
        self.assertEqual(c.wait(wa, 30), 0)  # told to leave
        # Back with the same key: the handshake itself is refused now.
        self.curve_worker("a-again", a, self.coord_pub, "--slots", "1")
        wait_for(lambda: c.log("coordinator").count("is not in %s" % self.allow) >= 1, 30,
                 "the ZAP handler to refuse the removed key")
        self.curve_worker("b", b, self.coord_pub, "--slots", "2")
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        once_each(self, c.records(),
                  [("SEQ", "t%d" % i) for i in range(1, 31)] + [("OTHER", "default")])
        self.assertNotIn("worker a-again joined", c.log("coordinator"))

    def test_key_added_later_is_accepted_without_sighup(self):
        """A worker whose key is not in the allow-dir yet is refused; once its
        .pub is there, its next handshake makes the ZAP handler read the
        directory again and it joins, with no SIGHUP sent."""
        c = self.cluster({"NTASKS": "4"})
        late, late_pub = keygen(self.keys, "late")
        coord = self.coordinator()
        self.curve_worker("late", late, self.coord_pub, "--slots", "2")
        wait_for(lambda: "is not in %s" % self.allow in c.log("coordinator"), 30,
                 "the ZAP handler to refuse the key it does not know yet")
        # Put in place whole, as a new replica's start script does (cp to a
        # name the handler skips, then rename).
        shutil.copy(late_pub, os.path.join(self.allow, ".late.pub.tmp"))
        os.rename(os.path.join(self.allow, ".late.pub.tmp"), os.path.join(self.allow, "late.pub"))
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        log = c.log("coordinator")
        self.assertIn("worker late joined", log)
        self.assertIn("allow-dir re-read for an unknown key: 1 worker key(s) allowed now", log)
        self.assertNotIn("SIGHUP", log)
        once_each(self, c.records(),
                  [("SEQ", "t%d" % i) for i in range(1, 5)] + [("OTHER", "default")])

    def test_unknown_keys_reread_the_allow_dir_at_most_once_a_second(self):
        """A flood of handshakes with keys nobody allowed: each is refused,
        and the allow-dir is read again at most once a second while it lasts."""
        c = self.cluster({"NTASKS": "1"})
        self.allowed_worker_key("absent")
        coord = self.coordinator("--wait-workers", "120s")
        wait_for(lambda: "worker key(s) allowed from" in c.log("coordinator"), 30,
                 "the ZAP handler to start")
        ctx = zmq.Context()
        socks = []
        self.addCleanup(ctx.term)
        self.addCleanup(lambda: [s.close(linger=0) for s in socks])
        flood = 40
        start = time.monotonic()
        before = len(c.log("coordinator"))
        for _ in range(flood):
            public, secret = zmq.curve_keypair()
            s = ctx.socket(zmq.DEALER)
            s.curve_publickey, s.curve_secretkey = public, secret
            with open(self.coord_pub, "rb") as f:
                s.curve_serverkey = f.read().strip()
            s.setsockopt(zmq.RECONNECT_IVL, 60000)  # one handshake each
            s.connect(c.endpoint)
            socks.append(s)
        wait_for(lambda: c.log("coordinator")[before:].count("is not in %s" % self.allow) >= flood,
                 60, "every stranger to be refused")
        # Every re-read counted was logged between start and now.
        log = c.log("coordinator")[before:]
        elapsed = time.monotonic() - start
        rereads = log.count("allow-dir re-read for an unknown key")
        self.assertGreaterEqual(rereads, 1, "an unknown key makes the handler look again")
        self.assertLessEqual(rereads, int(elapsed) + 1,
                             "%d re-reads in %.1fs of %d refusals" % (rereads, elapsed, flood))
        self.assertIsNone(coord.poll())
        coord.send_signal(signal.SIGTERM)
        c.wait(coord, 60)

    def test_deleting_the_allow_dir_revokes_everyone(self):
        c = self.cluster({"NTASKS": "30", "TASK_SLEEP": "0.3"})
        a = self.allowed_worker_key("a")
        coord = self.coordinator("--wait-workers", "60s")
        wa = self.curve_worker("a", a, self.coord_pub, "--slots", "1")
        wait_for(lambda: "worker a joined" in c.log("coordinator"), 30, "worker a")
        shutil.rmtree(self.allow)
        coord.send_signal(signal.SIGHUP)
        wait_for(lambda: "every worker key is revoked" in c.log("coordinator"), 30,
                 "the coordinator to revoke every key")
        # Worker a is dropped if it is connected then, or refused at its
        # next handshake if (under load) it was between connections.
        wait_for(lambda: ("worker a lost its key's permission" in c.log("coordinator") or
                          "is not in %s" % self.allow in c.log("coordinator")), 60,
                 "the coordinator to drop or refuse worker a")
        coord.send_signal(signal.SIGTERM)
        c.wait(coord, 60)
        wa.kill()
        c.wait(wa, 30)
        self.assertNotIn("keeping the old allowed keys", c.log("coordinator"))

    def test_each_refusal_says_why_on_the_worker(self):
        c = self.cluster({"NTASKS": "1"})
        stranger, _ = keygen(self.keys, "stranger")
        good = self.allowed_worker_key("good")
        _, impostor_pub = keygen(self.keys, "impostor")
        coord = self.coordinator("--wait-workers", "60s")
        cases = [
            ("stranger", self.curve_worker("stranger", stranger, self.coord_pub,
                                           "--connect-timeout", "5s"),
             "refused: the coordinator does not accept this key"),
            ("misled", self.curve_worker("misled", good, impostor_pub,
                                         "--connect-timeout", "5s"),
             "handshake failed: server key mismatch"),
        ]
        for name, proc, why in cases:
            self.assertEqual(c.wait(proc, 60), 3, c.log(name))
            log = c.log(name)
            self.assertIn(why, log)
            self.assertIn("accepted this worker within 5s", log)
            self.assertNotIn("went silent", log)
        # Nothing listening: a port no coordinator is on.
        c.endpoint = "tcp://127.0.0.1:%d" % cfotest.free_port()
        lonely = c.worker("lonely", "--connect-timeout", "5s")
        self.assertEqual(c.wait(lonely, 60), 3, c.log("lonely"))
        self.assertIn("nothing listening there", c.log("lonely"))
        coord.send_signal(signal.SIGTERM)
        c.wait(coord, 60)

    def test_without_keys_only_loopback_unless_insecure(self):
        c = self.cluster({"NTASKS": "1"})
        p = run([binary("cfo-coordinator"), "--repo", c.repo, "--bind", "tcp://0.0.0.0:%d" % c.port,
                 "--dry-run"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("without CURVE keys", p.stderr)
        p = run([binary("cfo-coordinator"), "--repo", c.repo, "--bind", "tcp://*:%d" % c.port,
                 "--curve-secret", self.coord_key])
        self.assertEqual(p.returncode, 2)
        self.assertIn("go together", p.stderr)
        # --insecure serves anyone, and says so.
        c.endpoint = "tcp://0.0.0.0:%d" % c.port
        coord = c.coordinator("--insecure")
        c.endpoint = "tcp://127.0.0.1:%d" % c.port
        c.worker("w", "--slots", "2")
        self.assertEqual(c.wait(coord), 0, c.log("coordinator"))
        self.assertIn("WITHOUT authentication", c.log("coordinator"))

    def test_key_files(self):
        c = self.cluster({})
        mode = stat.S_IMODE(os.stat(self.coord_key).st_mode)
        self.assertEqual(mode, 0o600)
        with open(self.coord_pub) as f:
            self.assertEqual(len(f.read().strip()), 40)
        p = run([binary("cfo-keygen"), "--dir", self.keys, "coordinator"])
        self.assertEqual(p.returncode, 3)
        self.assertIn("--force", p.stderr)
        run([binary("cfo-keygen"), "--dir", self.keys, "--force", "coordinator"], check=0)
        # A secret key others can read is refused.
        os.chmod(self.coord_key, 0o644)
        p = run([binary("cfo-worker"), "--connect", c.endpoint, "--repo", c.repo,
                 "--curve-secret", self.coord_key, "--server-key", self.coord_pub])
        self.assertEqual(p.returncode, 2)
        self.assertIn("readable by others", p.stderr)
        with open(os.path.join(self.keys, "bad.pub"), "w") as f:
            f.write("not a key\n")
        p = run([binary("cfo-worker"), "--connect", c.endpoint, "--repo", c.repo,
                 "--curve-secret", keygen(self.keys, "w")[0], "--server-key",
                 os.path.join(self.keys, "bad.pub")])
        self.assertEqual(p.returncode, 2)
        self.assertIn("Z85", p.stderr)


if __name__ == "__main__":
    cfotest.main()
