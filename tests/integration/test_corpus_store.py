#!/usr/bin/env python3
"""test_corpus_store.py -- corpora and blob folders on gs:// against the GCS
fixture: put-if-absent, paginated listing, hostile listings, get limits,
delete, retries, push/pull, and two pushers racing. Driven through the
'drive' mode of the test_corpus unit-test program (build/test_corpus)."""

import hashlib
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cfotest  # noqa: E402
from gcs_fixture import FakeGCS  # noqa: E402

DRIVER = os.path.join(os.environ.get("CFO_BINARY_DIR", "build"), "test_corpus")
BUCKET = "bucket"
SCRUB = ("STORAGE_EMULATOR_HOST", "CFO_GCS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN",
         "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG",
         "GCE_METADATA_HOST", "CFO_GCS_ENDPOINT", "CFO_GCS_RETRY_MAX", "CFO_GCS_RETRY_BASE_MS")


def sha1(data):
    return hashlib.sha1(data).hexdigest()


class CorpusStoreTest(cfotest.unittest.TestCase):
    PAGE = 3  # small pages, so every listing here spans several

    def setUp(self):
        self.fx = FakeGCS(buckets=[BUCKET], list_page_size=self.PAGE)
        self.fx.start()
        self.tmp = cfotest.TempDir(prefix="cfo-corpus-store-")
        self.env = {k: v for k, v in os.environ.items() if k not in SCRUB}
        self.env["STORAGE_EMULATOR_HOST"] = self.fx.url
        self.env["CFO_GCS_RETRY_BASE_MS"] = "10"

    def tearDown(self):
        self.fx.stop()
        self.tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.tmp.path, *parts)

    def drive(self, *args, ok=True):
        p = subprocess.run([DRIVER, "drive", *args], env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        if ok and p.returncode != 0:
            self.fail("drive %s exited %d\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def write(self, path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def stats(self, out):
        return dict((k, int(v)) for k, v in (kv.split("=") for kv in out.split()))

    # --- blob folders -------------------------------------------------------

    def test_put_new_never_replaces(self):
        url = "gs://%s/crashes/libfuzzer/t" % BUCKET
        src = self.path("src")
        self.write(src, b"first")
        self.assertEqual(self.drive("put", url, "sig.tar.gz", src).stdout, "created\n")
        self.write(src, b"second")
        self.assertEqual(self.drive("put", url, "sig.tar.gz", src).stdout, "exists\n")
        data, gen = self.fx.get_object(BUCKET, "crashes/libfuzzer/t/sig.tar.gz")
        self.assertEqual(data, b"first")
        self.assertEqual(self.fx.stat("uploads"), 1)
        self.assertEqual(self.fx.stat("precondition_failed"), 1)

    def test_put_loses_race_between_listing_and_upload(self):
        """Another writer stores the name just before our upload is judged:
        ours is refused (412), theirs stays."""
        url = "gs://%s/p" % BUCKET
        src = self.path("src")
        self.write(src, b"mine")
        self.fx.race_next_upload(b"theirs")
        self.assertEqual(self.drive("put", url, "n", src).stdout, "exists\n")
        self.assertEqual(self.fx.get_object(BUCKET, "p/n")[0], b"theirs")

    def test_list_paginates_and_keeps_to_the_folder(self):
        names = sorted("%02d-%s" % (i, sha1(b"%d" % i)[:8]) for i in range(10))
        for n in reversed(names):
            self.fx.put_object(BUCKET, "c/f/t/" + n, b"x")
        # A sub-folder, a sibling whose name extends the prefix, the parent.
        self.fx.put_object(BUCKET, "c/f/t/sub/inner", b"x")
        self.fx.put_object(BUCKET, "c/f/t2/other", b"x")
        self.fx.put_object(BUCKET, "c/f/tx", b"x")
        self.fx.put_object(BUCKET, "c/f/top", b"x")
        out = self.drive("list", "gs://%s/c/f/t" % BUCKET, "100").stdout
        self.assertEqual(out.split("\n")[:-1], names)
        # 10 files and one sub-folder prefix in pages of 3.
        self.assertGreaterEqual(self.fx.stat("list_pages"), 4)
        # The same listing with a trailing slash in the URL.
        out = self.drive("list", "gs://%s/c/f/t/" % BUCKET, "100").stdout
        self.assertEqual(out.split("\n")[:-1], names)
        # A cap below the count fails rather than truncate silently.
        p = self.drive("list", "gs://%s/c/f/t" % BUCKET, "9", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("error ELIMIT", p.stdout)
        # An empty prefix lists the bucket's top level.
        self.fx.put_object(BUCKET, "toplevel", b"x")
        out = self.drive("list", "gs://%s" % BUCKET, "100").stdout
        self.assertEqual(out, "toplevel\n")
        # A missing folder is empty; a missing bucket is an error.
        self.assertEqual(self.drive("list", "gs://%s/nothing/here" % BUCKET, "10").stdout, "")
        p = self.drive("list", "gs://nobucket/x", "10", ok=False)
        self.assertIn("does not exist", p.stdout)

    def test_get_and_delete(self):
        url = "gs://%s/d" % BUCKET
        self.fx.put_object(BUCKET, "d/obj", b"0123456789")
        dest = self.path("out", "dest")
        os.makedirs(os.path.dirname(dest))
        p = self.drive("get", url, "absent", dest, "100", ok=False)
        self.assertIn("error ENOTFOUND", p.stdout)
        p = self.drive("get", url, "obj", dest, "9", ok=False)
        self.assertIn("error ELIMIT", p.stdout)
        self.assertEqual(os.listdir(self.path("out")), [])  # nothing half-written
        self.drive("get", url, "obj", dest, "10")
        self.assertEqual(self.read(dest), b"0123456789")
        self.assertEqual(self.drive("delete", url, "obj").stdout, "ok\n")
        self.assertIsNone(self.fx.get_object(BUCKET, "d/obj"))
        self.assertEqual(self.drive("delete", url, "obj").stdout, "ok\n")  # absent: fine
        p = self.drive("get", url, "../d/obj", dest, "10", ok=False)
        self.assertIn("error EINVAL", p.stdout)

    def test_transient_failures_are_retried(self):
        url = "gs://%s/r" % BUCKET
        src = self.path("src")
        self.write(src, b"payload")
        self.fx.add_fault("upload", status=503)
        self.assertEqual(self.drive("put", url, "n", src).stdout, "created\n")
        self.fx.add_fault("list", status=500, count=2)
        self.assertEqual(self.drive("list", url, "10").stdout, "n\n")
        self.fx.add_fault("download", drop=True)
        dest = self.path("dest")
        self.drive("get", url, "n", dest, "100")
        self.assertEqual(self.read(dest), b"payload")
        # A reply lost after the upload was stored: the retry finds the name
        # taken (412) by our own bytes, which is all put-if-absent promises.
        self.fx.add_fault("upload", lost_reply=True)
        self.assertEqual(self.drive("put", url, "m", src).stdout, "exists\n")
        self.assertEqual(self.fx.get_object(BUCKET, "r/m")[0], b"payload")
        self.fx.add_fault("delete", status=429)
        self.drive("delete", url, "n")
        self.assertIsNone(self.fx.get_object(BUCKET, "r/n"))

    # --- corpora --------------------------------------------------------------

    def test_push_pull_roundtrip(self):
        url = "gs://%s/corpus/libfuzzer/fuzz_parse" % BUCKET
        queue = self.path("queue")
        inputs = [b"seed %d" % i for i in range(8)] + [b""]
        for i, data in enumerate(inputs):
            self.write(os.path.join(queue, "id:%06d,src:000000" % i), data)
        self.write(os.path.join(queue, "dup"), inputs[0])
        st = self.stats(self.drive("push", url, queue).stdout)
        self.assertEqual(st, {"present": 1, "transferred": 9, "skipped": 0})
        stored = self.fx.names(BUCKET, "corpus/libfuzzer/fuzz_parse/")
        self.assertEqual(stored, sorted("corpus/libfuzzer/fuzz_parse/" + sha1(d)
                                        for d in inputs))
        for d in inputs:
            self.assertEqual(self.fx.get_object(
                BUCKET, "corpus/libfuzzer/fuzz_parse/" + sha1(d))[0], d)
        pulled = self.path("pulled", "corpus")
        st = self.stats(self.drive("pull", url, pulled).stdout)
        self.assertEqual(st, {"present": 0, "transferred": 9, "skipped": 0})
        self.assertEqual(sorted(os.listdir(pulled)), sorted(sha1(d) for d in inputs))
        for d in inputs:
            self.assertEqual(self.read(os.path.join(pulled, sha1(d))), d)
        # Nothing new either way the second time.
        uploads = self.fx.stat("uploads")
        st = self.stats(self.drive("push", url, queue).stdout)
        self.assertEqual(st, {"present": 10, "transferred": 0, "skipped": 0})
        self.assertEqual(self.fx.stat("uploads"), uploads)
        st = self.stats(self.drive("pull", url, pulled).stdout)
        self.assertEqual(st, {"present": 9, "transferred": 0, "skipped": 0})

    def test_oversize_inputs_skipped(self):
        url = "gs://%s/corpus/x/t" % BUCKET
        queue = self.path("queue")
        big = b"A" * ((1 << 20) + 1)
        self.write(os.path.join(queue, "big"), big)
        self.write(os.path.join(queue, "small"), b"small")
        st = self.stats(self.drive("push", url, queue).stdout)
        self.assertEqual(st, {"present": 0, "transferred": 1, "skipped": 1})
        self.fx.put_object(BUCKET, "corpus/x/t/" + sha1(big), big)
        pulled = self.path("pulled")
        st = self.stats(self.drive("pull", url, pulled).stdout)
        self.assertEqual(st, {"present": 0, "transferred": 1, "skipped": 1})
        self.assertEqual(os.listdir(pulled), [sha1(b"small")])

    def test_hostile_listing_cannot_escape(self):
        """Names a hostile listing reports (outside the prefix, with '..',
        slashes, hidden) are ignored; the good ones are pulled."""
        url = "gs://%s/corpus/x/t" % BUCKET
        good = sha1(b"good")
        self.fx.put_object(BUCKET, "corpus/x/t/" + good, b"good")
        for evil in ("corpus/x/t/../../../../escape", "../escape", "corpus/x/t/..",
                     "corpus/x/t/.hidden", "corpus/x/t/a/../../escape", "/abs/escape",
                     "corpus/x/t/", "corpus/x/t2/escape", "corpus/x/t/sp ace"):
            self.fx.list_extra.append(evil)
            self.fx.put_object(BUCKET, evil, b"evil")
        root = self.path("deep", "er")
        local = os.path.join(root, "local")
        st = self.stats(self.drive("pull", url, local).stdout)
        self.assertEqual(st, {"present": 0, "transferred": 1, "skipped": 0})
        self.assertEqual(os.listdir(local), [good])
        self.assertEqual(os.listdir(root), ["local"])
        found = []
        for dirpath, _, files in os.walk(self.tmp.path):
            found += [os.path.join(dirpath, f) for f in files]
        self.assertEqual(found, [os.path.join(local, good)])

    def test_two_pushers_race(self):
        """Two processes push overlapping corpora at once: every input is
        stored exactly once and neither fails."""
        url = "gs://%s/corpus/libfuzzer/race" % BUCKET
        per, overlap = 40, 25
        dirs = []
        for w in range(2):
            d = self.path("w%d" % w)
            for i in range(per):
                k = w * (per - overlap) + i
                self.write(os.path.join(d, "id:%06d" % i), b"input %d" % k)
            dirs.append(d)
        # Hold every upload until both pushers have listed: then each believes
        # the overlap is missing and both upload it.
        self.fx.upload_gate = threading.Event()
        procs = [subprocess.Popen([DRIVER, "drive", "push", url, d], env=self.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for d in dirs]
        try:
            cfotest.wait_for(lambda: self.fx.stat("list_pages") >= 2, timeout=60,
                             what="both pushers listed the corpus")
        finally:
            self.fx.upload_gate.set()
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (out, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, out + err)
        sts = [self.stats(out) for out, _ in outs]
        total = 2 * per - overlap
        self.assertEqual(sum(s["transferred"] for s in sts), total)
        self.assertEqual(sum(s["present"] for s in sts), overlap)
        want = sorted("corpus/libfuzzer/race/" + sha1(b"input %d" % k) for k in range(total))
        self.assertEqual(self.fx.names(BUCKET, "corpus/libfuzzer/race/"), want)
        # Stored once each: no upload replaced another; each shared input was
        # uploaded by both and refused to the second.
        self.assertEqual(self.fx.stat("uploads"), total)
        self.assertEqual(self.fx.stat("precondition_failed"), overlap)


if __name__ == "__main__":
    cfotest.main()
