"""test_infra_drift.py -- infra_drift against the bundled example repository,
built into a real git repository with the real terraform: discovery, each
module's verdict on each branch, and terraform's errors."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CFO_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BINARY_DIR = os.environ.get("CFO_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
CFO_FUZZ = os.path.join(BINARY_DIR, "bin", "cfo-fuzz")
CFO = os.path.join(BINARY_DIR, "bin", "cfo")
MAKE_REPO = os.path.join(SOURCE_DIR, "examples", "make-example-repo.sh")
TERRAFORM = shutil.which("terraform")

MODULES = ["envs/dev/app", "envs/prod/app", "envs/prod/network", "envs/staging/network"]
BRANCHES = ["main", "staging", "plan"]
DRIFTING = ("staging", "envs/prod/app", "terraform_data.config")

tmp = None  # the suite's temporary directory: repository, plugin cache, worktrees


def fuzz_env(**extra):
    env = dict(os.environ)
    for name in ("CFO_CONFIG", "CFO_RESULT_FD"):
        env.pop(name, None)
    env["TF_PLUGIN_CACHE_DIR"] = os.path.join(tmp, "plugins")
    env.update(extra)
    return env


def run_fuzz(args, cwd, env=None, timeout=300):
    """Runs cfo-fuzz with a result pipe; returns (exit, stdout, stderr, result)."""
    r, w = os.pipe()
    try:
        env = dict(env or fuzz_env(), CFO_RESULT_FD=str(w))
        p = subprocess.Popen([CFO_FUZZ] + args, cwd=cwd, env=env, pass_fds=(w,),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.close(w)
        w = -1
        out, err = p.communicate(timeout=timeout)
        data = b""
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            data += b
        return p.returncode, out, err, json.loads(data) if data else None
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def git(*args, cwd):
    return subprocess.run(["git"] + list(args), cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def deployed_resources(module_dir):
    """Resource instances in the module's committed state: what a clean plan
    of that module must count."""
    with open(os.path.join(module_dir, "terraform.tfstate")) as f:
        state = json.load(f)
    return sum(len(r["instances"]) for r in state["resources"] if r["mode"] == "managed")


def setUpModule():
    global tmp
    if TERRAFORM is None:
        raise unittest.SkipTest("terraform is not installed")
    tmp = tempfile.mkdtemp(prefix="cfo-drift-it-")
    os.mkdir(os.path.join(tmp, "plugins"))
    p = subprocess.run([MAKE_REPO, os.path.join(tmp, "repo")], env=fuzz_env(),
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"make-example-repo.sh failed:\n{p.stdout}\n{p.stderr}")


def tearDownModule():
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


class ExampleRepository(unittest.TestCase):
    def repo(self):
        return os.path.join(tmp, "repo")

    def test_script_builds_three_branches_and_refuses_a_full_dest(self):
        branches = git("for-each-ref", "--format=%(refname:short)", "refs/heads",
                       cwd=self.repo()).split()
        self.assertEqual(sorted(branches), sorted(BRANCHES))
        self.assertEqual(git("branch", "--show-current", cwd=self.repo()).strip(), "main")
        self.assertEqual(git("status", "--porcelain", cwd=self.repo()), "")
        tracked = git("ls-files", cwd=self.repo()).split()
        for m in MODULES:
            self.assertIn(f"{m}/terraform.tfstate", tracked)
        self.assertFalse([t for t in tracked if "/.terraform/" in t], tracked)
        # Only the planted module differs between main and staging.
        changed = git("diff", "--name-only", "main", "staging", cwd=self.repo()).split()
        self.assertEqual(changed, [DRIFTING[1] + "/main.tf"])
        p = subprocess.run([MAKE_REPO, self.repo()], capture_output=True, text=True,
                           timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not empty", p.stderr)

    def test_discover_lists_the_root_modules(self):
        code, out, err, _ = run_fuzz(["INFRA_DRIFT", "--discover"], self.repo())
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines(), MODULES)
        # Every listed module has state of its own; modules/ never does.
        for m in MODULES:
            self.assertTrue(os.path.isfile(os.path.join(self.repo(), m, "terraform.tfstate")))

    def test_each_branch_verdicts(self):
        for branch in BRANCHES:
            wt = os.path.join(tmp, "wt-" + branch)
            git("worktree", "add", "--detach", wt, branch, cwd=self.repo())
            for m in MODULES:
                with self.subTest(branch=branch, module=m):
                    code, out, err, res = run_fuzz(["INFRA_DRIFT", m], wt)
                    self.assertIsNotNone(res, "no result on CFO_RESULT_FD")
                    expected = deployed_resources(os.path.join(wt, m))
                    self.assertEqual(res["count"], expected, out + err)
                    if (branch, m) == DRIFTING[:2]:
                        self.assertEqual(code, 1, out + err)
                        self.assertGreaterEqual(res["findings"], 1)
                        self.assertIn(DRIFTING[2], out)
                        self.assertIn("update", out)
                    else:
                        self.assertEqual(code, 0, out + err)
                        self.assertEqual(res["findings"], 0)
            # A run leaves the worktree as it found it.
            self.assertEqual(git("status", "--porcelain", "--ignored", cwd=wt), "")

    def test_dry_run_lists_every_module_on_every_branch(self):
        work = tempfile.mkdtemp(prefix="work-", dir=tmp)
        p = subprocess.run([CFO, "--dry-run", "--fuzzer", "INFRA_DRIFT", "--workdir", work],
                           cwd=self.repo(),
                           env=fuzz_env(), capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = sorted(tuple(line.split("\t")) for line in p.stdout.splitlines() if line)
        want = sorted(("INFRA_DRIFT", b, git("rev-parse", b, cwd=self.repo()).strip(), m)
                      for b in BRANCHES for m in MODULES)
        self.assertEqual(got, want)


class TerraformErrors(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="copy-", dir=tmp)
        shutil.copytree(os.path.join(tmp, "repo", "envs", "dev", "app"),
                        os.path.join(self.dir, "envs", "dev", "app"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_syntax_error_is_an_error_with_terraforms_message(self):
        with open(os.path.join(self.dir, "envs", "dev", "app", "broken.tf"), "w") as f:
            f.write('resource "terraform_data" "broken" {\n  input = \n')
        code, out, err, res = run_fuzz(["INFRA_DRIFT", "envs/dev/app"], self.dir)
        self.assertEqual(code, 3, out + err)
        self.assertIn("terraform init failed in envs/dev/app", err)
        self.assertIn("broken.tf", err)
        self.assertIn("Error:", err)
        self.assertEqual((res["count"], res["findings"]), (0, 0))
        self.assertIn("terraform init failed", res["summary"])

    def test_missing_binary_is_an_error(self):
        with open(os.path.join(self.dir, "cfo.ini"), "w") as f:
            f.write('[fuzzer "INFRA_DRIFT"]\nkind = infra_drift\nterraform = tofu\n')
        env = fuzz_env(PATH=os.path.join(self.dir, "empty-bin"))
        code, out, err, res = run_fuzz(["INFRA_DRIFT", "envs/dev/app"], self.dir, env=env)
        self.assertEqual(code, 3, out + err)
        self.assertIn("'tofu' not found", err)

    def test_tofu_selects_the_binary_and_commands_follow_the_contract(self):
        # A "tofu" that logs how it is called and hands over to terraform.
        bindir = os.path.join(self.dir, "bin")
        os.mkdir(bindir)
        log = os.path.join(self.dir, "tofu.log")
        tofu = os.path.join(bindir, "tofu")
        with open(tofu, "w") as f:
            f.write("#!/bin/sh\n"
                    f"{{ printf '%s|' \"$@\"; echo \"cache=$TF_PLUGIN_CACHE_DIR"
                    f" auto=$TF_IN_AUTOMATION cwd=$PWD\"; }} >> '{log}'\n"
                    f"exec '{TERRAFORM}' \"$@\"\n")
        os.chmod(tofu, os.stat(tofu).st_mode | stat.S_IXUSR)
        with open(os.path.join(self.dir, "cfo.ini"), "w") as f:
            f.write('[fuzzer "INFRA_DRIFT"]\nkind = infra_drift\nterraform = tofu\n')
        xdg = os.path.join(tmp, "xdg")
        env = fuzz_env(PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                       XDG_CACHE_HOME=xdg)
        env.pop("TF_PLUGIN_CACHE_DIR")
        code, out, err, res = run_fuzz(["INFRA_DRIFT", "envs/dev/app"], self.dir, env=env)
        self.assertEqual(code, 0, out + err)
        self.assertEqual((res["count"], res["findings"]), (1, 0))
        with open(log) as f:
            calls = f.read().splitlines()
        self.assertEqual(len(calls), 3, calls)
        init, plan, show = (c.split("|") for c in calls)
        self.assertEqual(init[:3], ["init", "-input=false", "-no-color"])
        self.assertEqual(plan[0], "plan")
        for flag in ("-input=false", "-no-color", "-detailed-exitcode", "-lock=false"):
            self.assertIn(flag, plan)
        planfile = [a for a in plan if a.startswith("-out=")][0][len("-out="):]
        self.assertTrue(os.path.isabs(planfile))
        self.assertFalse(planfile.startswith(self.dir), "plan file inside the worktree")
        self.assertFalse(os.path.exists(planfile), "plan file left behind")
        self.assertEqual(show[:3], ["show", "-json", planfile])
        cache = os.path.join(xdg, "cfo", "terraform-plugins")
        module = os.path.realpath(os.path.join(self.dir, "envs", "dev", "app"))
        for c in calls:
            self.assertIn(f"cache={cache} auto=1 cwd={module}", c)
        self.assertTrue(os.path.isdir(cache))


class DriftOutsideGit(unittest.TestCase):
    """State changed outside git on a commit that has not moved (someone
    scales a deployment by hand): the next scheduled run finds it, with no
    --force, since INFRA_DRIFT plans every module on every run."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="outside-", dir=tmp)
        self.state = os.path.join(self.dir, "state", "app.tfstate")
        self.repo = os.path.join(self.dir, "repo")
        os.makedirs(os.path.join(self.repo, "envs", "app"))
        # The state lives where the module's backend says, outside the
        # repository, as a deployed system's does.
        with open(os.path.join(self.repo, "envs", "app", "main.tf"), "w") as f:
            f.write('terraform {\n  backend "local" {\n    path = "%s"\n  }\n}\n'
                    'resource "terraform_data" "app" {\n  input = { replicas = 2 }\n}\n'
                    % self.state)
        with open(os.path.join(self.repo, "cfo.ini"), "w") as f:
            f.write('[fuzzer "INFRA_DRIFT"]\nkind = infra_drift\nbranches = main\n'
                    'critical = true\nmerge = supersede\n')
        with open(os.path.join(self.repo, ".gitignore"), "w") as f:
            f.write(".terraform/\n.terraform.lock.hcl\n")
        git("init", "-q", "-b", "main", cwd=self.repo)
        git("add", "-A", cwd=self.repo)
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "app",
            cwd=self.repo)
        # Deploy it from a copy, so the repository's checkout stays clean.
        deploy = os.path.join(self.dir, "deploy")
        shutil.copytree(os.path.join(self.repo, "envs", "app"), deploy)
        for argv in (["init", "-input=false", "-no-color"],
                     ["apply", "-input=false", "-no-color", "-auto-approve"]):
            p = subprocess.run([TERRAFORM] + argv, cwd=deploy, env=fuzz_env(),
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def cfo_upload(self, with_doc=False):
        dataset = os.path.join(self.dir, "data.json")
        p = subprocess.run([CFO, "--repo", self.repo, "--upload", "--quiet",
                            "--dataset", "file://" + dataset,
                            "--workdir", os.path.join(self.dir, "work")],
                           cwd=self.repo, env=fuzz_env(), capture_output=True, text=True,
                           timeout=300)
        with open(dataset) as f:
            doc = json.load(f)
        return (p, doc) if with_doc else (p, doc["records"])

    def set_replicas(self, n):
        with open(self.state) as f:
            state = json.load(f)
        attrs = state["resources"][0]["instances"][0]["attributes"]
        for key in ("input", "output"):
            attrs[key]["value"]["replicas"] = n
        state["serial"] += 1
        with open(self.state, "w") as f:
            json.dump(state, f)

    def test_b_drift_then_clean_leaves_a_fixed_finding(self):
        # Drifts on one run, plans cleanly on the next (same commit: drift
        # happens outside git). SUPERSEDE removes the failing record; the
        # finding keeps it, fixed, with its range.
        self.set_replicas(5)
        first, doc = self.cfo_upload(with_doc=True)
        self.assertEqual(first.returncode, 1, first.stdout + first.stderr)
        commit = doc["records"][0]["commit"]
        self.assertEqual([(f["id"], f["kind"], f["state"]) for f in doc["findings"]],
                         [("INFRA_DRIFT/envs/app", "fail", "open")])
        self.set_replicas(2)
        second, doc = self.cfo_upload(with_doc=True)
        self.assertEqual(second.returncode, 0, second.stdout + second.stderr)
        self.assertEqual([r["status"] for r in doc["records"]], ["pass"])  # superseded
        (f,) = doc["findings"]
        self.assertEqual(f["state"], "fixed")
        self.assertEqual(f["fixed"]["commit"], commit)
        self.assertEqual(f["fixed"]["last_bad"], commit)
        self.assertEqual(f["branches"], {"main": "fixed"})
        self.assertLess(f["first"]["time"], f["fixed"]["time"])

    def test_a_drift_made_outside_git_is_found_on_the_next_run(self):
        first, records = self.cfo_upload()
        self.assertEqual(first.returncode, 0, first.stdout + first.stderr)
        self.assertEqual([(r["status"], r["findings"]) for r in records], [("pass", 0)])
        commit = records[0]["commit"]

        # replicas 2 -> 5 by hand: the deployed system no longer matches the code.
        with open(self.state) as f:
            state = json.load(f)
        attrs = state["resources"][0]["instances"][0]["attributes"]
        for key in ("input", "output"):
            attrs[key]["value"]["replicas"] = 5
        state["serial"] += 1
        with open(self.state, "w") as f:
            json.dump(state, f)

        second, records = self.cfo_upload()
        self.assertEqual(second.returncode, 1, second.stdout + second.stderr)
        self.assertNotIn("already passed", second.stderr)
        self.assertEqual([(r["commit"], r["status"]) for r in records], [(commit, "fail")])
        self.assertGreaterEqual(records[0]["findings"], 1)


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
