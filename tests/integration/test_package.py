"""The Debian package: `cpack -G DEB` in the build folder makes
cfo_VERSION_ARCH.deb with the programs in /usr/bin, their manual pages and
the shared libraries they link as Depends, and it installs into a clean
Debian bookworm root (a chroot made here, as scripts/clean-root.sh makes
one) with `dpkg -i` then `apt-get -f install`, after which `cfo --version`
runs there.

The root needs root, debootstrap, chroot and mounts, and Debian's archive
for the dependencies; where any of them is missing the test skips and says
which. $CFO_CLEAN_ROOT_CACHE (or /var/tmp/cfo-bookworm-base when
scripts/clean-root.sh left one there) is a base root to copy instead of
bootstrapping one."""

import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, run  # noqa: E402

BUILD = os.path.dirname(cfotest.BIN)
DEFAULT_CACHE = "/var/tmp/cfo-bookworm-base"
MIRROR = os.environ.get("CFO_CLEAN_ROOT_MIRROR", "http://deb.debian.org/debian")


def why_no_root():
    if os.geteuid() != 0:
        return "not root (debootstrap, chroot and mounts need it)"
    for tool in ("chroot", "mount", "umount", "cpack", "dpkg-deb"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    cache = os.environ.get("CFO_CLEAN_ROOT_CACHE", DEFAULT_CACHE)
    if not os.path.isfile(os.path.join(cache, ".cfo-clean-root-base")) and \
            shutil.which("debootstrap") is None:
        return "debootstrap is not installed and there is no cached root"
    # chroot needs CAP_SYS_CHROOT, which a container may not grant.
    if subprocess.run(["chroot", "/", "true"], stderr=subprocess.DEVNULL).returncode != 0:
        return "chroot cannot run here"
    return None


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = cfotest.TempDir("cfo-package-")
        out = os.path.join(cls.tmp.path, "out")
        p = run(["cpack", "-G", "DEB", "-B", out, "--config",
                 os.path.join(BUILD, "CPackConfig.cmake")], cwd=BUILD, timeout=600)
        if p.returncode != 0:
            raise AssertionError("cpack failed:\n" + p.stdout + p.stderr)
        debs = glob.glob(os.path.join(out, "*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def field(self, name):
        return run(["dpkg-deb", "-f", self.deb, name], check=0).stdout.strip()

    def test_contents_and_control(self):
        version = run([binary("cfo"), "--version"], check=0).stdout.split()[1]
        self.assertEqual(os.path.basename(self.deb), "cfo_%s_amd64.deb" % version)
        self.assertEqual(self.field("Package"), "cfo")
        files = run(["dpkg-deb", "-c", self.deb], check=0).stdout
        for prog in ("cfo", "cfo-coordinator", "cfo-worker", "cfo-fuzz", "cfo-keygen",
                     "cfo-dataset", "cfo-crash", "cfo-corpus"):
            self.assertRegex(files, r" \./usr/bin/%s\n" % re.escape(prog))
            if shutil.which("help2man"):
                self.assertIn("./usr/share/man/man1/%s.1" % prog, files)
        depends = self.field("Depends")
        for lib in ("libzmq5", "libmsgpackc2", "libcurl4", "libyajl2", "libinih1", "libssl3",
                    "libmicrohttpd12", "git"):
            self.assertRegex(depends, r"(^|, )%s( |,|$)" % lib, depends)

    def test_installs_into_a_clean_bookworm_root(self):
        why = why_no_root()
        if why:
            self.skipTest(why)
        root = os.path.join(self.tmp.path, "root")
        os.makedirs(root)
        os.chmod(root, 0o755)
        cache = os.environ.get("CFO_CLEAN_ROOT_CACHE", DEFAULT_CACHE)
        if os.path.isfile(os.path.join(cache, ".cfo-clean-root-base")):
            # The same lock scripts/clean-root.sh holds while it refreshes it.
            with open(cache + ".lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_SH)
                run(["cp", "-a", cache + "/.", root + "/"], check=0, timeout=600)
        else:
            p = run(["debootstrap", "--variant=minbase", "bookworm", root, MIRROR], timeout=1800)
            if p.returncode != 0:
                self.skipTest("debootstrap could not make a root (no archive?): " +
                              p.stdout[-500:] + p.stderr[-500:])
        rm_cached = glob.glob(os.path.join(root, "var/cache/apt/archives/*.deb"))
        for f in rm_cached:
            os.unlink(f)
        with open(os.path.join(root, "usr/sbin/policy-rc.d"), "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(os.path.join(root, "usr/sbin/policy-rc.d"), 0o755)
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
        shutil.copy(self.deb, os.path.join(root, "tmp", os.path.basename(self.deb)))
        proc = os.path.join(root, "proc")
        run(["mount", "-t", "proc", "proc", proc], check=0)
        try:
            self.install(root)
        finally:
            run(["umount", "-l", proc])

    def chroot(self, root, script, timeout=900):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
               "DEBIAN_FRONTEND": "noninteractive"}
        return subprocess.run(["chroot", root, "sh", "-c", script], env=env, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def install(self, root):
        deb = "/tmp/" + os.path.basename(self.deb)
        self.assertNotEqual(self.chroot(root, "command -v cfo").returncode, 0,
                            "the root is not clean: cfo is already there")
        # dpkg alone leaves it unconfigured for want of its libraries...
        p = self.chroot(root, "dpkg -i %s" % deb)
        self.assertIn("dependency problems", p.stdout)
        p = self.chroot(root, "apt-get update -qq")
        if p.returncode != 0:
            self.skipTest("the Debian archive cannot be reached: " + p.stdout[-500:])
        # ...which apt-get -f install brings from the archive.
        p = self.chroot(root, "apt-get -f install -y -qq --no-install-recommends")
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        p = self.chroot(root, "dpkg-query -W -f='${Status}' cfo")
        self.assertEqual(p.stdout, "install ok installed", p.stdout)
        version = run([binary("cfo"), "--version"], check=0).stdout.strip()
        p = self.chroot(root, "cfo --version")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, version), p.stdout)
        for prog in ("cfo-coordinator", "cfo-worker", "cfo-fuzz"):
            p = self.chroot(root, "%s --help" % prog)
            self.assertEqual(p.returncode, 0, p.stdout)
        # The single-host run works there too: the canary fails as it must.
        p = self.chroot(root, "cd /tmp && git init -q -b main r && cd r && "
                              "git -c user.name=t -c user.email=t@t commit -q --allow-empty "
                              "-m x && cfo --fuzzer CANARY --quiet")
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        self.assertIn("canary failed as it must", p.stdout)


if __name__ == "__main__":
    cfotest.main()
