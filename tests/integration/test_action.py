"""test_action.py -- CFO's GitHub Action (action.yml) and reusable CircleCI job
(deploy/circleci/config.yml) run outside CFO's repository: their shell steps,
read from the YAML, executed as the CI would (its variables set, expressions
and parameters substituted) against a fresh repository of the test's own,
with the dependency step run for real (it only checks what is installed)
and the build step pointed at the build under test. Also a structural check
of action.yml and of the workflow that uses it (actionlint is not packaged
by Debian bookworm)."""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import git  # noqa: E402

SRC = cfotest.SRC
BUILD = os.path.dirname(cfotest.BIN)
ACTION = os.path.join(SRC, "action.yml")
WORKFLOW = os.path.join(SRC, "deploy", "github", "workflows", "cfo.yml")
CIRCLECI = os.path.join(SRC, "deploy", "circleci", "config.yml")

CONFIG = """[fuzzer "CANARY"]
kind = canary
merge = accumulate
critical = false

[fuzzer "PARSER"]
kind = exec
discover = ./fuzz/list.sh
run = ./fuzz/run.sh {target}
critical = true

[fuzzer "BROKEN"]
kind = exec
run = ./fuzz/broken.sh
critical = true
"""

TARGETS = ["alpha", "beta"]


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def user_repo(root):
    """A repository of the user's, with an origin as CI checkouts have:
    two PARSER targets that pass and a BROKEN fuzzer that fails."""
    origin = os.path.join(root, "origin")
    cfotest.make_repo(origin, {
        "cfo.ini": CONFIG,
        "fuzz/list.sh": ("#!/bin/sh\nprintf '%s\\n' " + " ".join(TARGETS) + "\n", 0o755),
        "fuzz/run.sh": ("#!/bin/sh\necho \"fuzzing $1\"\nexit 0\n", 0o755),
        "fuzz/broken.sh": ("#!/bin/sh\necho 'found a bug'\nexit 1\n", 0o755),
    })
    work = os.path.join(root, "work")
    cfotest.run(["git", "clone", "-q", origin, work], check=0)
    return work


def expressions(text):
    return re.findall(r"\$\{\{\s*(.*?)\s*\}\}", text)


def substitute(text, context):
    """Replaces each ${{ name }} with context[name]; an unknown one fails."""
    def one(m):
        name = m.group(1).strip()
        if name not in context:
            raise AssertionError("unknown expression ${{ %s }} in %r" % (name, text))
        return str(context[name])
    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", one, text)


def run_script(script, shell_argv, env, cwd, tmp, name):
    path = os.path.join(tmp, re.sub(r"\W+", "_", name) + ".sh")
    with open(path, "w") as f:
        f.write(script)
    p = subprocess.run(shell_argv + [path], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace", timeout=900)
    return p.returncode, p.stdout


def step_env():
    """The environment a CI step starts from: this one, less CFO's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CFO_", "GITHUB_", "CIRCLE"))}


class ActionFile(unittest.TestCase):
    """What actionlint would check of a composite action, as far as it applies."""

    def test_composite_action_schema(self):
        action = load(ACTION)
        for key in ("name", "description", "runs"):
            self.assertTrue(action.get(key), "action.yml has " + key)
        self.assertEqual(action["runs"]["using"], "composite")
        inputs = action.get("inputs", {})
        for name, spec in inputs.items():
            self.assertRegex(name, r"^[a-z][a-z0-9-]*$")
            self.assertTrue(spec.get("description"), name + " has a description")
            self.assertIsInstance(spec.get("default", ""), str, name + "'s default is a string")
        for need in ("fuzzers", "budget", "dataset", "upload", "concurrency", "report", "junit",
                     "args", "repository", "build-dir"):
            self.assertIn(need, inputs)
        steps = action["runs"]["steps"]
        ids = set()
        for step in steps:
            self.assertTrue(("run" in step) != ("uses" in step), "a step runs or uses: %s" % step)
            if "run" in step:
                self.assertIn(step.get("shell"), ("bash", "sh"), "a composite run step names its shell")
                # Inputs reach the scripts through env, never spliced into the
                # script text, where a value could run as shell code.
                self.assertNotRegex(step["run"], r"\$\{\{\s*inputs\.")
                self.assertIn("scripts/action-run.sh", step["run"])
            if "id" in step:
                ids.add(step["id"])
            for text in [step.get("run", "")] + [str(v) for v in step.get("env", {}).values()]:
                for e in expressions(text):
                    m = re.fullmatch(r"inputs\.([\w-]+)", e)
                    if m:
                        self.assertIn(m.group(1), inputs, "inputs.%s is declared" % m.group(1))
                    else:
                        self.assertIn(e, ("github.action_path", "github.workspace"), e)
        for name, spec in action.get("outputs", {}).items():
            m = re.fullmatch(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}", spec["value"])
            self.assertIsNotNone(m, name)
            self.assertIn(m.group(1), ids, "output %s comes from a step that exists" % name)
        script = os.path.join(SRC, "scripts", "action-run.sh")
        self.assertTrue(os.access(script, os.X_OK), script)
        self.assertEqual(subprocess.run(["bash", "-n", script]).returncode, 0)

    def test_workflow_uses_the_action(self):
        """deploy/github's workflow builds CFO through the action (so it works
        in any repository), with inputs the action declares, on the schedule
        the seed gives."""
        inputs = load(ACTION)["inputs"]
        wf = load(WORKFLOW)
        on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
        self.assertEqual([s["cron"] for s in on["schedule"]], ["0 13-23 * * 1-5"])
        with open(WORKFLOW) as f:
            text = f.read()
        self.assertNotRegex(text, r"\./scripts/build\.sh|\.ci/run|build/bin/",
                            "nothing assumes CFO's own repository")
        uses = 0
        for name, job in wf["jobs"].items():
            self.assertIn("runs-on", job, name)
            self.assertIsInstance(job["steps"], list, name)
            builds = 0
            for step in job["steps"]:
                self.assertTrue(("run" in step) != ("uses" in step), "%s: %s" % (name, step))
                ref = step.get("uses", "")
                if re.fullmatch(r"[\w-]+/cfo@[\w.-]+", ref):
                    builds += 1
                    for key in step.get("with", {}):
                        self.assertIn(key, inputs, "%s: input %s is in action.yml" % (name, key))
            self.assertEqual(builds, 1, "job %s gets CFO from the action" % name)
            uses += builds
            # The action's checkout holds no repository for cfo: the job
            # checks out its own, with history, before it.
            refs = [s.get("uses", "") for s in job["steps"]]
            first_cfo = next(i for i, r in enumerate(refs) if re.search(r"/cfo@", r))
            self.assertTrue(any(r.startswith("actions/checkout@") for r in refs[:first_cfo]), name)
        self.assertGreaterEqual(uses, 1)


class GitHubAction(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir("cfo-action-")
        self.addCleanup(self.tmp.cleanup)
        self.repo = user_repo(self.tmp.path)
        self.data = os.path.join(self.tmp.path, "data.json")

    def run_action(self, inputs):
        """Runs action.yml's steps as GitHub runs a composite action's; returns
        [(step name, status, output)] up to the first that fails."""
        action = load(ACTION)
        unknown = set(inputs) - set(action["inputs"])
        self.assertEqual(unknown, set(), "inputs the action declares")
        values = {"inputs." + k: v.get("default", "") for k, v in action["inputs"].items()}
        values.update({"inputs." + k: v for k, v in inputs.items()})
        files = {name: os.path.join(self.tmp.path, name.lower())
                 for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")}
        for path in files.values():
            open(path, "a").close()
        values.update({"github.action_path": SRC, "github.workspace": self.repo})
        base = dict(step_env(), GITHUB_ACTIONS="true", CI="true", GITHUB_ACTION_PATH=SRC,
                    GITHUB_WORKSPACE=self.repo, RUNNER_TEMP=self.tmp.path, **files)
        results = []
        for step in action["runs"]["steps"]:
            if "run" not in step:
                continue
            env = dict(base)
            env.update({k: substitute(str(v), values) for k, v in step.get("env", {}).items()})
            # GitHub's `shell: bash`: bash --noprofile --norc -eo pipefail {0}
            shell = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
                     "sh": ["sh", "-e"]}[step["shell"]]
            cwd = substitute(step.get("working-directory", "${{ github.workspace }}"), values)
            status, out = run_script(substitute(step["run"], values), shell, env, cwd,
                                     self.tmp.path, step.get("name", "step"))
            results.append((step.get("name"), status, out))
            if status != 0:
                break
        self.files = files
        return results

    def outputs(self):
        with open(self.files["GITHUB_OUTPUT"]) as f:
            return dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)

    def test_action_runs_cfo_on_a_repository_of_its_own(self):
        steps = self.run_action({"fuzzers": "CANARY PARSER", "budget": "5m", "upload": "true",
                                 "dataset": "file://" + self.data, "concurrency": "2",
                                 "build-dir": BUILD, "save-logs": "cfo-results/logs"})
        for name, status, out in steps:
            self.assertEqual(status, 0, "step %s failed:\n%s" % (name, out[-4000:]))
        self.assertEqual(len(steps), 3, "dependencies, build and run")
        head = git(self.repo, "rev-parse", "HEAD")
        with open(self.data) as f:
            records = json.load(f)["records"]
        parser = sorted(r["target"] for r in records if r["fuzzer"] == "PARSER")
        self.assertEqual(parser, TARGETS)
        self.assertTrue(all(r["commit"] == head for r in records))
        self.assertTrue(all(r["ok"] for r in records if r["fuzzer"] == "PARSER"))
        with open(self.files["GITHUB_STEP_SUMMARY"]) as f:
            summary = f.read()
        self.assertIn("PARSER", summary)
        junit = os.path.join(self.repo, "cfo-results", "junit.xml")
        cases = ET.parse(junit).getroot().iter("testcase")
        names = {c.get("name") for c in cases if c.get("classname", "").startswith("PARSER.")}
        self.assertEqual(names, set(TARGETS))
        self.assertTrue(os.path.isfile(os.path.join(self.repo, "cfo-results", "report.json")))
        self.assertEqual(self.outputs().get("exit-code"), "0")
        self.assertEqual(self.outputs().get("bin-dir"), os.path.join(BUILD, "bin"))
        with open(self.files["GITHUB_PATH"]) as f:
            self.assertIn(os.path.join(BUILD, "bin"), f.read().split())

    def test_a_failing_critical_fuzzer_fails_the_step(self):
        steps = self.run_action({"fuzzers": "CANARY BROKEN", "budget": "5m",
                                 "dataset": "file://" + self.data, "build-dir": BUILD})
        self.assertEqual([s for _, s, _ in steps[:-1]], [0, 0], steps[-1][2][-2000:])
        name, status, out = steps[-1]
        self.assertEqual(name, "Run CFO")
        self.assertEqual(status, 1, out[-4000:])
        self.assertEqual(self.outputs().get("exit-code"), "1")
        junit = ET.parse(os.path.join(self.repo, "cfo-results", "junit.xml")).getroot()
        failed = [c for c in junit.iter("testcase") if c.find("failure") is not None]
        # The failing fuzzer, and the finding its failure is.
        self.assertEqual(sorted(c.get("classname").split(".")[0] for c in failed),
                         ["BROKEN", "findings"])
        self.assertTrue(all("BROKEN" in ET.tostring(c, encoding="unicode") for c in failed))
        self.assertFalse(os.path.exists(self.data), "without upload the dataset is not written")


class CircleCIJob(unittest.TestCase):
    def setUp(self):
        self.tmp = cfotest.TempDir("cfo-circleci-")
        self.addCleanup(self.tmp.cleanup)
        self.config = load(CIRCLECI)
        self.job = self.config["jobs"]["cfo"]

    def parameters(self, overrides):
        """The job's parameters: defaults, then the scheduled workflow's, then
        overrides."""
        declared = self.job["parameters"]
        values = {k: v.get("default") for k, v in declared.items()}
        invocations = [j for w in self.config["workflows"].values() if isinstance(w, dict)
                       for j in w.get("jobs", [])]
        self.assertEqual(len(invocations), 1)
        for k, v in invocations[0]["cfo"].items():
            if k not in ("context", "requires", "filters", "name"):
                self.assertIn(k, declared, "the workflow passes a declared parameter")
                values[k] = v
        values.update(overrides)
        for k, v in values.items():
            if declared[k]["type"] == "boolean":
                values[k] = "true" if v else "false"
            self.assertIsNotNone(values[k], k)
        return values

    def substitute(self, text, params):
        def one(m):
            name = m.group(1)
            self.assertIn(name, params, "<< parameters.%s >> is declared" % name)
            return str(params[name])
        return re.sub(r"<<\s*parameters\.([\w-]+)\s*>>", one, str(text))

    def run_steps(self, params, only=None, node=0):
        """Runs the job's run steps (CircleCI's bash -eo pipefail, $BASH_ENV
        sourced by each) in the user's repository; checkout is the clone."""
        repo = self.repo
        bash_env = os.path.join(self.tmp.path, "bash_env")
        open(bash_env, "a").close()
        base = dict(step_env(), CI="true", CIRCLECI="true", CIRCLE_JOB="cfo",
                    CIRCLE_BRANCH="main", CIRCLE_SHA1=git(repo, "rev-parse", "HEAD"),
                    CIRCLE_WORKING_DIRECTORY=repo, BASH_ENV=bash_env, HOME=self.tmp.path,
                    # Set on every job: which of its parallelism containers
                    # this is.
                    CIRCLE_NODE_INDEX=str(node),
                    CIRCLE_NODE_TOTAL=str(params.get("parallelism", 1)))
        base.update({k: self.substitute(v, params) for k, v in self.job.get("environment", {}).items()})
        results, checked_out = [], False
        for step in self.job["steps"]:
            if step == "checkout":
                checked_out = True
                continue
            if not isinstance(step, dict) or "run" not in step:
                continue
            r = step["run"]
            r = {"command": r} if isinstance(r, str) else r
            name = self.substitute(r.get("name", r["command"][:40]), params)
            if only is not None and not only(name):
                continue
            if not checked_out and not (shutil.which("git") and shutil.which("ssh")):
                continue  # the image's tools for the checkout: apt-get, not ours
            env = dict(base)
            env.update({k: self.substitute(v, params) for k, v in r.get("environment", {}).items()})
            status, out = run_script(self.substitute(r["command"], params), ["bash", "-eo", "pipefail"],
                                     env, repo, self.tmp.path, name)
            results.append((name, status, out, checked_out))
            if status != 0:
                break
        return results

    def test_job_runs_cfo_on_a_repository_of_its_own(self):
        self.repo = user_repo(self.tmp.path)
        data = os.path.join(self.tmp.path, "data.json")
        # CFO's source is this checkout (already there, so not fetched again:
        # the next test fetches), built where the suite's build is.
        params = self.parameters({"cfo-dir": SRC, "build-dir": BUILD, "budget": "5m",
                                  "fuzzers": "CANARY PARSER", "dataset": "file://" + data})
        self.assertEqual(params["upload"], "true")
        self.assertEqual(params["concurrency"], "4")
        steps = self.run_steps(params)
        for name, status, out, checked_out in steps:
            self.assertEqual(status, 0, "step %s failed:\n%s" % (name, out[-4000:]))
            if "CFO" in name:
                self.assertTrue(checked_out, "%s comes after the checkout" % name)
        self.assertTrue(any(n == "CFO" for n, _, _, _ in steps))
        # The workflow's other parallelism containers (--shard auto) run their
        # shares into the same dataset.
        for node in range(1, int(params["parallelism"])):
            for name, status, out, _ in self.run_steps(params, only=lambda n: n == "CFO",
                                                        node=node):
                self.assertEqual(status, 0, "container %d: %s:\n%s" % (node, name, out[-4000:]))
        with open(data) as f:
            records = json.load(f)["records"]
        self.assertEqual(sorted(r["target"] for r in records if r["fuzzer"] == "PARSER"), TARGETS)
        stored = [s for s in self.job["steps"] if isinstance(s, dict) and "store_test_results" in s]
        junit_dir = os.path.join(self.repo, stored[0]["store_test_results"]["path"])
        self.assertTrue(os.path.isfile(os.path.join(junit_dir, "junit.xml")))
        with open(os.path.join(self.tmp.path, "bash_env")) as f:
            self.assertIn(os.path.join(BUILD, "bin"), f.read(), "later steps find CFO's programs")

    def test_job_fails_with_a_failing_critical_fuzzer(self):
        self.repo = user_repo(self.tmp.path)
        params = self.parameters({"cfo-dir": SRC, "build-dir": BUILD, "budget": "5m",
                                  "fuzzers": "BROKEN", "upload": "false", "parallelism": 1,
                                  "dataset": "file://" + os.path.join(self.tmp.path, "d.json")})
        steps = self.run_steps(params)
        self.assertEqual(steps[-1][0], "CFO")
        self.assertEqual(steps[-1][1], 1, steps[-1][2][-3000:])

    def test_fetches_the_pinned_source(self):
        """The fetch step brings CFO's source at the pinned commit into a
        folder of its own (here from this checkout's repository)."""
        self.repo = user_repo(self.tmp.path)
        if not os.path.exists(os.path.join(SRC, ".git")):
            self.skipTest("CFO's source here is not a git checkout")
        commit = git(SRC, "rev-parse", "HEAD")
        dest = os.path.join(self.tmp.path, "cfo-src")
        params = self.parameters({"cfo-dir": dest, "cfo-repo": SRC, "cfo-ref": commit})
        steps = self.run_steps(params, only=lambda n: n.startswith("CFO's source"))
        self.assertEqual(len(steps), 1)
        self.assertEqual(steps[0][1], 0, steps[0][2])
        self.assertEqual(git(dest, "rev-parse", "HEAD"), commit)
        self.assertTrue(os.access(os.path.join(dest, "scripts", "action-run.sh"), os.X_OK))


if __name__ == "__main__":
    cfotest.main()
