#!/usr/bin/env python3
"""test_gcs.py -- gs:// datasets with the real cfo-dataset and cfo against a fake
GCS on 127.0.0.1: concurrent writers lose nothing, 412 redoes the merge, a lost
reply adds no duplicates, retries and final errors, a corrupt object stays, and
every credential source (service-account JWT, refresh token, metadata server,
fixed token) with token renewal after a 401."""

import json
import os
import subprocess
import sys
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import cfotest  # noqa: E402
from cfotest import binary  # noqa: E402
from gcs_fixture import FakeGCS  # noqa: E402

TIMEOUT = 120
OBJECT = "devhivedb/infrahive/fuzzing/data.json"
URL = "gs://bucket/" + OBJECT

# Whatever the machine has, the tests choose every credential source themselves.
SCRUB = ("STORAGE_EMULATOR_HOST", "CFO_GCS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN",
         "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG",
         "GCE_METADATA_HOST", "CFO_GCS_ENDPOINT", "CFO_GCS_RETRY_MAX", "CFO_GCS_RETRY_BASE_MS",
         "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def sha(n):
    return "%040x" % (0xC0FFEE0000 + n)


def rec(commit, target, hour=1, ok=True, fuzzer="INFRA_DRIFT", run="run-1"):
    return {"commit": sha(commit), "fuzzer": fuzzer, "ok": ok, "count": 3,
            "findings": 0 if ok else 1, "branch": "main", "target": target, "duration": 1.5,
            "command": "cfo-fuzz %s %s" % (fuzzer, target), "status": "pass" if ok else "fail",
            "time": "2026-11-21T%02d:00:00Z" % hour, "run": run, "worker": "w1", "attempt": 1}


def keys(doc):
    return sorted((r["commit"], r["target"], r["run"]) for r in doc["records"])


class GcsTest(unittest.TestCase):
    fixture_args = {}

    def setUp(self):
        self.tmp = cfotest.TempDir(prefix="cfo-gcs-")
        self.home = os.path.join(self.tmp.path, "home")
        os.makedirs(self.home)
        self.fx = FakeGCS(buckets=["bucket"], **self.fixture_args)
        self.fx.start()
        self.env = {k: v for k, v in os.environ.items() if k not in SCRUB}
        self.env.update({
            "HOME": self.home,
            "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1",
            "CFO_GCS_RETRY_BASE_MS": "20",
            # Never the real metadata server, whatever a test forgets.
            "GCE_METADATA_HOST": "127.0.0.1:1",
        })
        self.n = 0

    def tearDown(self):
        self.fx.stop()
        self.tmp.cleanup()

    def control(self, what, spec):
        """Drives the fixture through its HTTP control API."""
        req = urllib.request.Request(self.fx.url + "/_control/" + what, method="POST",
                                     data=json.dumps(spec).encode())
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=30) as r:
            self.assertEqual(r.status, 200)

    def emulator(self):
        self.env["STORAGE_EMULATOR_HOST"] = self.fx.url

    def records_file(self, records):
        self.n += 1
        path = os.path.join(self.tmp.path, "in%d.json" % self.n)
        with open(path, "w") as f:
            json.dump(records, f)
        return path

    def dataset(self, *argv, env=None):
        return subprocess.run([binary("cfo-dataset"), *argv], env=env or self.env,
                              cwd=self.tmp.path, capture_output=True, text=True,
                              timeout=TIMEOUT)

    def merge(self, records, url=URL, check=0):
        p = self.dataset("merge", "--into", url, self.records_file(records))
        if check is not None:
            self.assertEqual(p.returncode, check, p.stderr)
        return p

    def doc(self, name=OBJECT):
        obj = self.fx.get_object("bucket", name)
        self.assertIsNotNone(obj, name)
        return json.loads(obj[0])


class EmulatorTest(GcsTest):
    def setUp(self):
        super().setUp()
        self.emulator()

    def test_eight_concurrent_merges_keep_every_record(self):
        # Reads are slowed so the writers' read-merge-write rounds overlap.
        self.fx.download_delay = 0.05
        self.env["CFO_GCS_RETRY_BASE_MS"] = "50"
        self.merge([rec(0, "seed")])
        files = [self.records_file([rec(w, "w%d-r%d" % (w, i), run="run-%d" % w)
                                    for i in range(5)]) for w in range(1, 9)]
        procs = [subprocess.Popen([binary("cfo-dataset"), "merge", "--into", URL, f],
                                  env=self.env, cwd=self.tmp.path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for f in files]
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, err)
        want = [(sha(0), "seed", "run-1")] + [(sha(w), "w%d-r%d" % (w, i), "run-%d" % w)
                                              for w in range(1, 9) for i in range(5)]
        self.assertEqual(keys(self.doc()), sorted(want))
        # Every writer's upload landed once; any other try met 412 and merged again.
        self.assertEqual(self.fx.stat("uploads"), 9)
        print("eight writers: %d uploads met 412" % self.fx.stat("precondition_failed"))
        self.assertEqual(self.fx.stat("req_upload"), 9 + self.fx.stat("precondition_failed"))

    def test_concurrent_uploads_of_different_findings_lose_neither(self):
        # Two writers, each with a failure that opens a finding of its own; the
        # reads are slowed so their read-merge-write rounds overlap, and
        # whichever meets 412 merges its findings into the other's again.
        self.fx.download_delay = 0.05
        self.env["CFO_GCS_RETRY_BASE_MS"] = "50"
        self.merge([rec(0, "seed")])
        files = [self.records_file([rec(w, "module-%d" % w, hour=2, ok=False, run="run-%d" % w)])
                 for w in (1, 2)]
        procs = [subprocess.Popen([binary("cfo-dataset"), "merge", "--into", URL, f],
                                  env=self.env, cwd=self.tmp.path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for f in files]
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, err)
        doc = self.doc()
        self.assertEqual(doc["version"], 2)
        self.assertEqual(sorted((f["id"], f["state"]) for f in doc["findings"]),
                         [("INFRA_DRIFT/module-1", "open"), ("INFRA_DRIFT/module-2", "open")])
        # And when a write is raced for certain: the other writer's finding,
        # stored between our read and our write, survives our redone merge.
        other = self.doc()
        other["records"].append(rec(3, "module-3", hour=3, ok=False, run="run-3"))
        other["findings"].append(dict(other["findings"][0], id="INFRA_DRIFT/module-3",
                                      target="module-3", title="INFRA_DRIFT fails on module-3"))
        self.fx.race_next_upload(json.dumps(other).encode())
        self.merge([rec(4, "module-4", hour=4, ok=False, run="run-4")])
        self.assertGreaterEqual(self.fx.stat("precondition_failed"), 1)
        self.assertEqual(sorted(f["id"] for f in self.doc()["findings"]),
                         ["INFRA_DRIFT/module-%d" % n for n in (1, 2, 3, 4)])

    def test_write_meeting_412_redoes_its_merge(self):
        self.merge([rec(1, "a")])
        # Another writer stores its records between our read and our write.
        other = {"version": 1, "window": 32, "records": [rec(1, "a"), rec(2, "other")]}
        self.fx.race_next_upload(json.dumps(other).encode())
        p = self.merge([rec(3, "ours")])
        self.assertEqual(self.fx.stat("precondition_failed"), 1)
        self.assertIn("changed since it was read", p.stderr)
        self.assertEqual(keys(self.doc()), sorted([(sha(1), "a", "run-1"),
                                                   (sha(2), "other", "run-1"),
                                                   (sha(3), "ours", "run-1")]))

    def test_lost_reply_adds_no_duplicates(self):
        self.merge([rec(1, "a")])
        self.fx.add_fault("upload", lost_reply=True)
        self.merge([rec(2, "b"), rec(2, "c")])
        self.assertEqual(self.fx.stat("lost_replies"), 1)
        # The retried upload met 412 (its twin had landed); merging again
        # found the records present and wrote nothing more.
        self.assertEqual(self.fx.stat("uploads"), 2)
        self.assertEqual(self.fx.stat("precondition_failed"), 1)
        doc = self.doc()
        self.assertEqual(len(doc["records"]), 3)
        self.assertEqual(keys(doc), sorted([(sha(1), "a", "run-1"), (sha(2), "b", "run-1"),
                                            (sha(2), "c", "run-1")]))

    def test_503_and_dropped_connection_then_success(self):
        name = "odd names/sub dir/data+v1 ü?.json"
        self.fx.add_fault("download", drop=True)
        self.fx.add_fault("any", status=503, count=2)
        self.control("fault", {"match": "upload", "status": 429, "count": 1})
        self.merge([rec(1, "a")], url="gs://bucket/" + name)
        self.assertEqual(self.fx.stat("dropped"), 1)
        self.assertEqual(self.fx.stat("status_503"), 2)
        self.assertEqual(self.fx.stat("status_429"), 1)
        # The name travelled percent-encoded: the object is stored under it exactly.
        self.assertEqual(keys(self.doc(name)), [(sha(1), "a", "run-1")])

    def test_persistent_503_exits_3_and_leaves_object_untouched(self):
        self.merge([rec(1, "a")])
        before = self.fx.get_object("bucket", OBJECT)
        self.fx.add_fault("upload", status=503, count=1000)
        self.env["CFO_GCS_RETRY_MAX"] = "3"
        p = self.merge([rec(2, "b")], check=3)
        self.assertIn("after 3 attempts", p.stderr)
        self.assertIn("HTTP 503", p.stderr)
        self.assertEqual(self.fx.stat("req_upload"), 1 + 3)
        self.assertEqual(self.fx.get_object("bucket", OBJECT), before)

    def test_corrupt_object_is_not_overwritten(self):
        self.fx.put_object("bucket", OBJECT, b'{"version": 1, "records": [ {"commit": ')
        before = self.fx.get_object("bucket", OBJECT)
        p = self.merge([rec(1, "a")], check=3)
        self.assertIn(URL, p.stderr)
        self.assertIn("not valid", p.stderr)
        self.assertEqual(self.fx.stat("req_upload"), 0)
        self.assertEqual(self.fx.get_object("bucket", OBJECT), before)

    def test_final_errors_are_not_retried(self):
        for status in (400, 403):
            with self.subTest(status=status):
                self.fx.clear_faults()
                n = self.fx.stat("req_download")
                self.fx.add_fault("download", status=status, count=100)
                p = self.merge([rec(1, "a")], check=3)
                self.assertIn("HTTP %d" % status, p.stderr)
                self.assertEqual(self.fx.stat("req_download"), n + 1)
        self.fx.clear_faults()
        p = self.merge([rec(1, "a")], url="gs://nobucket/data.json", check=3)
        self.assertIn("bucket 'nobucket' does not exist", p.stderr)
        self.assertEqual(self.fx.stat("status_404"), 1)

    def test_generation_from_metadata_when_header_absent(self):
        self.merge([rec(1, "a")])
        self.fx.omit_generation_header = True
        self.merge([rec(2, "b")])
        self.assertGreaterEqual(self.fx.stat("req_metadata"), 1)
        self.assertEqual(self.fx.stat("precondition_failed"), 0)
        self.assertEqual(len(self.doc()["records"]), 2)

    def test_emulator_host_without_scheme_and_read_only_show(self):
        self.env["STORAGE_EMULATOR_HOST"] = "127.0.0.1:%d" % self.fx.port
        self.merge([rec(1, "a")])
        p = self.dataset("show", URL)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("INFRA_DRIFT", p.stdout)
        p = self.dataset("stats", "gs://bucket/missing.json")
        self.assertEqual(p.returncode, 3)
        self.assertIn("does not exist", p.stderr)
        self.assertEqual(self.fx.stat("req_upload"), 1)


FIGURES = "#!/bin/sh\nprintf '{\"count\": 4, \"findings\": 0, \"summary\": \"ok\"}' " \
          ">&\"$CFO_RESULT_FD\"\n"
INI = """
[fuzzer "CANARY"]
kind = canary

[fuzzer "FIGURES"]
kind = exec
run = ./fz/figures.sh
needs_seed = true
critical = true
"""


class CfoUploadTest(GcsTest):
    def setUp(self):
        super().setUp()
        self.emulator()
        self.repo = os.path.join(self.tmp.path, "repo")
        cfotest.make_repo(self.repo, {"fz/figures.sh": (FIGURES, 0o755), "cfo.ini": INI})

    def cfo(self, *args):
        return subprocess.run([binary("cfo"), "--repo", self.repo, "--workdir",
                               os.path.join(self.tmp.path, "work"), "--dataset", URL, *args],
                              env=self.env, cwd=self.tmp.path, capture_output=True, text=True,
                              timeout=TIMEOUT)

    def test_only_upload_writes(self):
        p = self.cfo()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreaterEqual(self.fx.stat("req_download"), 1)  # needs_seed read it
        self.assertEqual(self.fx.stat("req_upload"), 0)
        self.assertIsNone(self.fx.get_object("bucket", OBJECT))
        p = self.cfo("--upload")
        self.assertEqual(p.returncode, 0, p.stderr)
        fuzzers = sorted(r["fuzzer"] for r in self.doc()["records"])
        self.assertEqual(fuzzers, ["CANARY", "FIGURES"])

    def test_upload_that_cannot_write_exits_3(self):
        self.merge([rec(1, "a")])
        before = self.fx.get_object("bucket", OBJECT)
        self.fx.add_fault("upload", status=503, count=1000)
        self.env["CFO_GCS_RETRY_MAX"] = "2"
        p = self.cfo("--upload")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("upload failed", p.stderr)
        self.assertEqual(self.fx.get_object("bucket", OBJECT), before)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


class ServiceAccountTest(GcsTest):
    EMAIL = "cfo-test@project.iam.gserviceaccount.com"

    def setUp(self):
        self.keydir = cfotest.TempDir(prefix="cfo-gcs-key-")
        self.key = os.path.join(self.keydir.path, "key.pem")
        self.pub = os.path.join(self.keydir.path, "pub.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                self.key)
        openssl("pkey", "-in", self.key, "-pubout", "-out", self.pub)
        self.fixture_args = {"require_auth": True, "sa_email": self.EMAIL,
                             "sa_pubkey": self.pub}
        super().setUp()
        self.env["CFO_GCS_ENDPOINT"] = self.fx.url
        self.env["GOOGLE_APPLICATION_CREDENTIALS"] = self.key_file(self.key)

    def tearDown(self):
        super().tearDown()
        self.keydir.cleanup()

    def key_file(self, pem_path):
        with open(pem_path) as f:
            self.pem = f.read()
        path = os.path.join(self.keydir.path, "sa-%d.json" % len(os.listdir(self.keydir.path)))
        with open(path, "w") as f:
            json.dump({"type": "service_account", "project_id": "p",
                       "private_key_id": "0123abcd", "private_key": self.pem,
                       "client_email": self.EMAIL, "client_id": "1",
                       "token_uri": self.fx.url + "/token"}, f)
        return path

    def assert_no_secrets(self, text):
        self.assertNotIn("ya29.", text)
        self.assertNotIn("PRIVATE KEY", text)
        self.assertNotIn(self.pem.splitlines()[1], text)

    def test_key_is_exchanged_for_a_verified_token(self):
        p = self.merge([rec(1, "a")])
        self.assertEqual(self.fx.stat("jwt_verified"), 1)
        self.assertEqual(self.fx.stat("jwt_rejected"), 0)
        self.assertEqual(self.fx.stat("unauthorized"), 0)
        self.assertEqual(keys(self.doc()), [(sha(1), "a", "run-1")])
        self.assert_no_secrets(p.stderr + p.stdout)

    def test_key_the_server_does_not_know_is_refused(self):
        other = os.path.join(self.keydir.path, "other.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                other)
        self.env["GOOGLE_APPLICATION_CREDENTIALS"] = self.key_file(other)
        p = self.merge([rec(1, "a")], check=3)
        self.assertEqual(self.fx.stat("jwt_rejected"), 1)
        self.assertIn("invalid_grant", p.stderr)
        self.assertIsNone(self.fx.get_object("bucket", OBJECT))
        self.assert_no_secrets(p.stderr)

    def test_expired_token_is_renewed_after_401(self):
        # The token dies right after the first storage request (the read):
        # the upload meets 401, a new token is fetched, the upload goes through.
        self.fx.expire_tokens(after_requests=1)
        p = self.merge([rec(1, "a")])
        self.assertEqual(self.fx.stat("unauthorized"), 1)
        self.assertEqual(self.fx.stat("tokens_issued"), 2)
        self.assertEqual(self.fx.stat("uploads"), 1)
        self.assertIn("renewing the access token", p.stderr)
        self.assert_no_secrets(p.stderr)

    def test_short_lived_token_is_renewed_before_use(self):
        # A token with 1 s to live is renewed once half its life is gone, so
        # the upload after a 0.6 s read carries a new one.
        self.fx.put_object("bucket", OBJECT, json.dumps([rec(1, "a")]).encode())
        self.fx.token_lifetime = 1
        self.fx.download_delay = 0.6
        self.merge([rec(2, "b")])
        self.assertEqual(self.fx.stat("unauthorized"), 0)
        self.assertGreaterEqual(self.fx.stat("tokens_issued"), 2)


class OtherCredentialsTest(GcsTest):
    fixture_args = {"require_auth": True,
                    "refresh_grant": ("client-1.apps", "s3cr3t-client", "1//refresh-tok")}

    def setUp(self):
        super().setUp()
        self.env["CFO_GCS_ENDPOINT"] = self.fx.url

    def test_gcloud_application_default_credentials(self):
        adc = os.path.join(self.home, ".config", "gcloud")
        os.makedirs(adc)
        with open(os.path.join(adc, "application_default_credentials.json"), "w") as f:
            json.dump({"type": "authorized_user", "client_id": "client-1.apps",
                       "client_secret": "s3cr3t-client", "refresh_token": "1//refresh-tok",
                       "token_uri": self.fx.url + "/token"}, f)
        p = self.merge([rec(1, "a")])
        self.assertEqual(self.fx.stat("refresh_grants"), 1)
        self.assertEqual(len(self.doc()["records"]), 1)
        for secret in ("s3cr3t-client", "1//refresh-tok", "ya29."):
            self.assertNotIn(secret, p.stderr)

    def test_metadata_server(self):
        self.env["GCE_METADATA_HOST"] = "127.0.0.1:%d" % self.fx.port
        self.merge([rec(1, "a")])
        self.assertEqual(self.fx.stat("metadata_tokens"), 1)
        self.assertEqual(self.fx.stat("status_403"), 0)  # Metadata-Flavor was sent

    def test_no_credentials_is_a_clear_error(self):
        p = self.merge([rec(1, "a")], check=3)
        self.assertIn("metadata server", p.stderr)
        self.assertIn("GOOGLE_APPLICATION_CREDENTIALS", p.stderr)

    def test_fixed_token(self):
        self.env["CFO_GCS_TOKEN"] = self.fx.issue_token()["access_token"]
        self.merge([rec(1, "a")])
        self.env["CFO_GCS_TOKEN"] = "ya29.not-a-valid-token"
        p = self.merge([rec(2, "b")], check=3)
        self.assertIn("HTTP 401", p.stderr)
        self.assertNotIn("ya29.", p.stderr)
        self.assertEqual(len(self.doc()["records"]), 1)


if __name__ == "__main__":
    cfotest.main()
