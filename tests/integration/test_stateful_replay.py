"""Stateful replay of a persistent AFL++ target (examples/fuzz-stateful): a
crash that needs the inputs before it is triaged with the inputs AFL++
recorded (AFL_PERSISTENT_RECORD), bundled with the ones it needs, and
`cfo-crash reproduce` of the bundle feeds them first: it reproduces, also
after gaps are made in the RECORD numbering, and the last input alone does
not.

Debian's afl-fuzz 4.04c is built without AFL_PERSISTENT_RECORD and refuses
to start with it, so an `afl-fuzz` on PATH stands in for the fuzzing step:
it writes what a recording afl-fuzz leaves in its output folder (a crash
input id:000000,..., the inputs before it as RECORD:000000,cnt:N, a queue
and fuzzer_stats). Everything after it is real: the target built with
afl-clang-fast, CFO's triage, its bundle, reproduce.sh and cfo-crash."""

import glob
import json
import os
import subprocess
import sys
import tarfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run  # noqa: E402

EXAMPLE = os.path.join(cfotest.SRC, "examples", "fuzz-stateful")

# The inputs before the crash, as cnt -> bytes: the key set (1) and dropped
# (3) are needed; the others are what else the process ran meanwhile.
RECORDS = {0: "X", 1: "Kabc", 2: "U", 3: "D", 4: "Y"}
CRASH = "U"

STAND_IN = r"""#!/bin/sh
# Stands in for a recording afl-fuzz: -o OUT -M NAME, the rest ignored.
out= name=default
while [ $# -gt 0 ]; do
    case "$1" in
    -o) out=$2; shift ;;
    -M) name=$2; shift ;;
    --) break ;;
    esac
    shift
done
d=$out/$name
mkdir -p "$d/crashes" "$d/queue" "$d/hangs"
printf 'X' > "$d/queue/id:000000,time:0,execs:0,orig:a"
%(records)s
printf '%(crash)s' > "$d/crashes/id:000000,sig:06,src:000000,time:1,execs:6,op:havoc,rep:1"
printf 'execs_done        : 6\ncorpus_count      : 1\nexecs_per_sec     : 1234.56\nbitmap_cvg        : 0.01%%%%\nedges_found       : 7\n' > "$d/fuzzer_stats"
"""

CONFIG = """
[fuzzer "SESSION"]
kind = afl
build = ./build.sh
targets_dir = out/afl
fuzz_time = 2s
input_timeout = 2s
reproduce_runs = 2
corpus = %(store)s
"""


def stand_in():
    lines = ["printf '%s' > \"$d/crashes/RECORD:000000,cnt:%06d\"" % (v, k)
             for k, v in sorted(RECORDS.items())]
    return STAND_IN % {"records": "\n".join(lines), "crash": CRASH}


class StatefulReplay(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir()
        t = self.tmp.path
        self.repo = os.path.join(t, "repo")
        files = {}
        for name in ("session.c", "build.sh"):
            with open(os.path.join(EXAMPLE, name)) as f:
                files[name] = (f.read(), 0o755 if name.endswith(".sh") else 0o644)
        self.commit = cfotest.make_repo(self.repo, files)
        self.store = os.path.join(t, "store")
        self.cfg = os.path.join(t, "cfo.ini")
        with open(self.cfg, "w") as f:
            f.write(CONFIG % {"store": self.store})
        self.bin = os.path.join(t, "bin")
        cfotest.write_files(self.bin, {"afl-fuzz": (stand_in(), 0o755)})

    def tearDown(self):
        self.tmp.cleanup()

    def reproduce(self, bundle, cwd, env=None):
        return run([binary("cfo-crash"), "reproduce", bundle], cwd=cwd, env=env, timeout=300)

    def repack(self, src_dir, dest):
        with tarfile.open(dest, "w:gz") as tar:
            tar.add(src_dir, arcname=".")

    def test_a_crash_that_needs_earlier_inputs_reproduces_from_its_bundle(self):
        rfd, wfd = os.pipe()
        env = dict(os.environ, CFO_RESULT_FD=str(wfd), CFO_TASK_TIMEOUT_MS="240000",
                   CFO_REPO_ROOT=self.repo, PATH=self.bin + os.pathsep + os.environ["PATH"])
        p = subprocess.run([binary("cfo-fuzz"), "--config", self.cfg, "SESSION", "fuzz_session"],
                           cwd=self.repo, env=env, pass_fds=(wfd,), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=300)
        os.close(wfd)
        with os.fdopen(rfd) as f:
            result = json.loads(f.read() or "{}")
        self.assertEqual(p.returncode, 1, p.stdout[-3000:])
        self.assertIn("crashes after the 5 inputs recorded before it, not alone", p.stdout)
        self.assertIn("needs 2 of the 5 inputs recorded before it", p.stdout)
        [crash] = result["crashes"]
        # A heap-use-after-free read in session_use, however the type is worded.
        self.assertRegex(crash["signature"], r"^crash:[^:]*use-after-free[^:]*:session_use")
        self.assertEqual(crash["repro"], "2/2")
        # fuzzer_stats's figures make the summary.
        self.assertIn("edges 7 (0.01% of the map), corpus 1, 1235 exec/s", result["summary"])
        [bundle] = glob.glob(os.path.join(self.store, "crashes", "SESSION", "fuzz_session",
                                          "*.tar.gz"))

        # A clean clone at the same commit; reproduce.sh builds the target.
        clone = os.path.join(self.tmp.path, "clone")
        git(self.tmp.path, "clone", "-q", self.repo, clone)
        self.assertEqual(git(clone, "rev-parse", "HEAD"), self.commit)
        r = self.reproduce(bundle, clone)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        self.assertIn("reproduced: " + crash["signature"], r.stdout)
        self.assertIn("feeding the 2 inputs recorded before the crash first", r.stdout + r.stderr)

        # The last input alone does not crash.
        alone = self.reproduce(bundle, clone, env={"CFO_NO_RECORDS": "1"})
        self.assertEqual(alone.returncode, 1, alone.stdout[-2000:])
        self.assertIn("not reproduced: the input ran without a crash", alone.stdout)

        # The bundle kept the two records the crash needs, under their names.
        unpacked = os.path.join(self.tmp.path, "unpacked")
        with tarfile.open(bundle) as tar:
            tar.extractall(unpacked)
        pdir = os.path.join(unpacked, "persistent")
        self.assertEqual(sorted(os.listdir(pdir)),
                         ["RECORD:000000,cnt:000001", "RECORD:000000,cnt:000003"])
        with open(os.path.join(unpacked, "manifest.json")) as f:
            self.assertEqual(json.load(f)["records"], 2)

        # Gaps in the numbering, and numbers of different widths: the order
        # is the numbers', not the names' (cnt:12 sorts before cnt:7 as text,
        # and the key dropped before it is set does not crash).
        os.rename(os.path.join(pdir, "RECORD:000000,cnt:000001"),
                  os.path.join(pdir, "RECORD:000000,cnt:7"))
        os.rename(os.path.join(pdir, "RECORD:000000,cnt:000003"),
                  os.path.join(pdir, "RECORD:000000,cnt:12"))
        gapped = os.path.join(self.tmp.path, "gapped.tar.gz")
        self.repack(unpacked, gapped)
        r = self.reproduce(gapped, clone)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        self.assertIn("reproduced: " + crash["signature"], r.stdout)


if __name__ == "__main__":
    cfotest.main()
