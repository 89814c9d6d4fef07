"""cfo-crash and cfo-corpus given garbage: a clear error and exit 3 (2 for
usage), nothing written outside their own temporary folder."""

import os
import sys
import tarfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402


class CrashBundleGarbage(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.path, name)

    def crash(self, *args):
        return run([binary("cfo-crash"), *args], cwd=self.tmp.path,
                   env={"TMPDIR": self.tmp.path})

    def test_random_bytes_are_not_a_bundle(self):
        with open(self.path("junk.tar.gz"), "wb") as f:
            f.write(os.urandom(4096))
        for cmd in ("show", "reproduce"):
            p = self.crash(cmd, self.path("junk.tar.gz"))
            self.assertEqual(p.returncode, 3, p.stderr)
            self.assertIn("is not a bundle", p.stderr)

    def test_missing_bundle(self):
        p = self.crash("show", self.path("nope.tar.gz"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("cannot read", p.stderr)

    def test_tarball_without_manifest(self):
        with open(self.path("x"), "w") as f:
            f.write("hello\n")
        with tarfile.open(self.path("plain.tar.gz"), "w:gz") as t:
            t.add(self.path("x"), arcname="x")
        p = self.crash("show", self.path("plain.tar.gz"))
        self.assertEqual(p.returncode, 3)
        self.assertIn("no manifest.json", p.stderr)

    def test_member_escaping_the_folder_is_refused(self):
        with open(self.path("manifest.json"), "w") as f:
            f.write('{"version": 1}')
        with tarfile.open(self.path("evil.tar.gz"), "w:gz") as t:
            t.add(self.path("manifest.json"), arcname="../../escaped.json")
        p = self.crash("show", self.path("evil.tar.gz"))
        self.assertEqual(p.returncode, 3, p.stderr)
        for d in (self.tmp.path, os.path.dirname(self.tmp.path)):
            self.assertFalse(os.path.exists(os.path.join(d, "escaped.json")))

    def test_garbage_manifest(self):
        with open(self.path("manifest.json"), "w") as f:
            f.write("{not json")
        with tarfile.open(self.path("bad.tar.gz"), "w:gz") as t:
            t.add(self.path("manifest.json"), arcname="manifest.json")
        p = self.crash("show", self.path("bad.tar.gz"))
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)

    def test_usage(self):
        self.assertEqual(self.crash().returncode, 2)
        self.assertEqual(self.crash("explode", "x").returncode, 2)
        self.assertEqual(self.crash("show").returncode, 2)
        self.assertEqual(self.crash("show", "--build", "x").returncode, 2)


class CorpusGarbage(unittest.TestCase):
    def test_bad_config_and_names(self):
        tmp = cfotest.TempDir()
        try:
            ini = os.path.join(tmp.path, "cfo.ini")
            with open(ini, "w") as f:
                f.write('[fuzzer "LF"]\nkind = libfuzzer\nfuzz_time = often\n')
            p = run([binary("cfo-corpus"), "--config", ini, "ls", "LF", "t"], cwd=tmp.path)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("fuzz_time", p.stderr)
            with open(ini, "w") as f:
                f.write('[fuzzer "LF"]\nkind = libfuzzer\ncorpus = file://%s/c\n' % tmp.path)
            p = run([binary("cfo-corpus"), "--config", ini, "ls", "LF", "../../etc"],
                    cwd=tmp.path)
            self.assertNotEqual(p.returncode, 0)
            p = run([binary("cfo-corpus"), "--config", ini, "ls", "NOPE", "t"], cwd=tmp.path)
            self.assertEqual(p.returncode, 2, p.stderr)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(cfotest.main())
