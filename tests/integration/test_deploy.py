"""test_deploy.py -- the deployment files against the real programs: compose.yaml
validated by docker-compose and its services' commands, ports and key paths
checked against the binaries' --help and run as-is outside containers; the
Dockerfile, the systemd unit and the CI configurations checked the same way."""

import glob
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import time
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import binary, git, run, wait_for  # noqa: E402

SRC = cfotest.SRC
COMPOSE = os.path.join(SRC, "compose.yaml")
DEPLOY = os.path.join(SRC, "deploy")
PROGRAMS = {"cfo", "cfo-coordinator", "cfo-worker", "cfo-keygen", "cfo-dataset", "cfo-fuzz"}
SHELL_OPERATORS = {";", "&&", "||", "|", "&"}

_help_cache = {}


def help_flags(prog):
    """The --options a program's --help names."""
    if prog not in _help_cache:
        path = binary(prog)
        if not os.access(path, os.X_OK):
            raise AssertionError("%s is not built (%s): the deployment files use it" % (prog, path))
        p = run([path, "--help"], timeout=30)
        if p.returncode != 0:
            raise AssertionError("%s --help exited %d: %s" % (prog, p.returncode, p.stderr))
        _help_cache[prog] = set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", p.stdout + p.stderr))
    return _help_cache[prog]


def shell_commands(script):
    """Simple commands of a shell script, as argv lists (no expansion)."""
    script = script.replace("\\\n", " ")
    commands = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current = []
        for token in lexer:
            if token in SHELL_OPERATORS:
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
        if current:
            commands.append(current)
    return commands


def invocations(argv_or_script):
    """(program, args) of every CFO program an argv or a shell script runs."""
    if isinstance(argv_or_script, str):
        commands = shell_commands(argv_or_script)
    elif argv_or_script[:1] == ["sh"] or argv_or_script[:1] == ["/bin/sh"]:
        commands = shell_commands(argv_or_script[-1])
    else:
        commands = [list(argv_or_script)]
    found = []
    for argv in commands:
        words = [w for w in argv if not re.match(r"^\w+=", w)] if argv else []
        while words and words[0] in ("exec", "test", "!"):
            words = words[1:]
        for i, w in enumerate(words):
            name = os.path.basename(w)
            if name in PROGRAMS:
                found.append((name, words[i + 1:]))
                break
    return found


def option(args, name):
    """The value of --name in args (--name VALUE or --name=VALUE), or None."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def port_targets(service):
    """Container ports a resolved service publishes (short or long syntax)."""
    out = []
    for p in service.get("ports", []):
        out.append(int(p["target"]) if isinstance(p, dict) else int(str(p).rsplit(":", 1)[-1].split("/")[0]))
    return out


free_port = cfotest.free_port


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def compose_config():
    """compose.yaml as docker-compose resolves it (variables at their defaults)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        raise AssertionError("docker-compose is not installed (Debian package docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CFO_", "FAKE_GCS_"))
           and k != "TERRAFORM_VERSION"}
    p = subprocess.run([exe, "-f", COMPOSE, "config"], cwd=SRC, env=env, capture_output=True,
                       text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("docker-compose config rejected compose.yaml:\n" + p.stderr)
    return yaml.safe_load(p.stdout)


def mounts(service):
    """{container path: volume name or host path} of a resolved service."""
    out = {}
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out[v["target"]] = v["source"]
        else:
            parts = v.split(":")
            out[parts[1]] = parts[0]
    return out


class Remap:
    """Maps container paths to host directories, one per volume, so a service's
    command can run here with the files it would see in its container."""

    def __init__(self, root, binds):
        self.root = root
        self.binds = binds  # host paths for bind mounts, by container path

    def dir_of(self, source):
        path = os.path.join(self.root, "vol-" + re.sub(r"[^\w.-]", "_", source))
        os.makedirs(path, exist_ok=True)
        return path

    def table(self, service):
        table = {}
        for target, source in mounts(service).items():
            table[target] = self.binds.get(target) or self.dir_of(source)
        return sorted(table.items(), key=lambda kv: -len(kv[0]))

    def path(self, service, p):
        for target, host in self.table(service):
            if p == target or p.startswith(target + "/"):
                return host + p[len(target):]
        raise AssertionError("%s is on no volume of the service" % p)

    def text(self, service, text):
        for target, host in self.table(service):
            text = re.sub(r"(?<![\w/.-])" + re.escape(target) + r"(?=/|\b|$)", host, text)
        return text


class ComposeFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.config = compose_config()
        cls.services = cls.config["services"]

    def cmd(self, name):
        # `docker-compose config` keeps $$ (a literal $) escaped.
        return [a.replace("$$", "$") for a in self.services[name]["command"]]

    def one(self, name, prog):
        found = [args for p, args in invocations(self.cmd(name)) if p == prog]
        self.assertEqual(len(found), 1, "%s runs %s once" % (name, prog))
        return found[0]

    def test_services_volumes_restart_healthchecks(self):
        self.assertEqual(set(self.services), {"gcs", "keygen", "repo", "coordinator", "worker"})
        declared = set(self.config.get("volumes", {}))
        for name, svc in self.services.items():
            self.assertIn("restart", svc, name + " has a restart policy")
            for target, source in mounts(svc).items():
                if not source.startswith(("/", ".")):
                    self.assertIn(source, declared, "%s: volume %s is declared" % (name, source))
        for name in ("gcs", "coordinator", "worker"):
            self.assertIn("healthcheck", self.services[name], name + " has a health check")
        for name in ("keygen", "repo", "coordinator"):
            self.assertEqual(self.services[name]["restart"], "no", name + " runs once")
        self.assertIn(self.services["worker"]["restart"], ("unless-stopped", "always"))
        # A service that scales has no fixed name and publishes no host port.
        self.assertNotIn("container_name", self.services["worker"])
        self.assertNotIn("ports", self.services["worker"])
        for name in ("coordinator", "worker"):
            deps = self.services[name]["depends_on"]
            self.assertEqual(deps["keygen"]["condition"], "service_completed_successfully")
            self.assertEqual(deps["repo"]["condition"], "service_completed_successfully")
        self.assertEqual(self.services["coordinator"]["depends_on"]["gcs"]["condition"],
                         "service_healthy")

    def test_every_flag_exists(self):
        expected = {"keygen": "cfo-keygen", "coordinator": "cfo-coordinator", "worker": "cfo-worker"}
        for name, svc in self.services.items():
            if svc.get("image", "").startswith("fsouza/"):
                continue
            progs = invocations(svc["command"])
            if name in expected:
                self.assertIn(expected[name], [p for p, _ in progs], name)
            for prog, args in progs:
                known = help_flags(prog)
                for a in args:
                    if a.startswith("--"):
                        self.assertIn(a.split("=", 1)[0], known,
                                      "%s: %s %s is not in its --help" % (name, prog, a))

    def test_ports_and_endpoints_agree(self):
        coord = self.one("coordinator", "cfo-coordinator")
        worker = self.one("worker", "cfo-worker")
        bind = re.fullmatch(r"tcp://([^:]+):(\d+)", option(coord, "--bind"))
        connect = re.fullmatch(r"tcp://([^:]+):(\d+)", option(worker, "--connect"))
        self.assertIsNotNone(bind)
        self.assertIsNotNone(connect)
        self.assertEqual(connect.group(1), "coordinator", "workers reach the coordinator service")
        self.assertEqual(connect.group(2), bind.group(2))
        port = int(bind.group(2))
        self.assertEqual(port_targets(self.services["coordinator"]), [port])
        hexport = "%04X" % port
        for name in ("coordinator", "worker"):
            test = " ".join(self.services[name]["healthcheck"]["test"])
            self.assertIn(":" + hexport, test, name + "'s health check looks at the bound port")
        # The dataset is in the emulator's bucket, where the coordinator looks for it.
        gcs = self.services["gcs"]
        gport = int(gcs["command"][gcs["command"].index("-port") + 1])
        env = self.services["coordinator"]["environment"]
        self.assertEqual(env["STORAGE_EMULATOR_HOST"], "http://gcs:%d" % gport)
        self.assertEqual(port_targets(gcs), [gport])
        dataset = re.fullmatch(r"gs://([^/]+)/(.+)", option(coord, "--dataset"))
        self.assertIsNotNone(dataset)
        data_dir = mounts(gcs)["/data"]
        self.assertTrue(os.path.isdir(os.path.join(data_dir, dataset.group(1))),
                        "the bucket %s is a directory of %s" % (dataset.group(1), data_dir))
        self.assertIn("/storage/v1/b/%s" % dataset.group(1), " ".join(gcs["healthcheck"]["test"]))
        self.assertIn(":%d/" % gport, " ".join(gcs["healthcheck"]["test"]))
        version = gcs["image"].split(":", 1)[1]
        self.assertGreaterEqual(tuple(int(x) for x in version.split(".")), (1, 56, 1))

    def worker_script(self, remap, port=None):
        """The worker service's start script with its volumes mapped to
        directories here (and the coordinator on 127.0.0.1:port)."""
        script = remap.text(self.services["worker"], self.cmd("worker")[-1])
        if port is not None:
            script = script.replace("tcp://coordinator:5555", "tcp://127.0.0.1:%d" % port)
        return script

    def test_key_paths_are_what_keygen_writes(self):
        """The keygen service's script and two worker replicas' start scripts,
        run with each volume a directory here (a stand-in cfo-worker notes its
        arguments): every key file the coordinator and the workers name is
        where their mounts put it, each replica has a key pair of its own whose
        public key is in the coordinator's allow-dir, the shared pair of older
        versions is gone, and a second start keeps every key."""
        tmp = cfotest.TempDir("cfo-deploy-keys-")
        self.addCleanup(tmp.cleanup)
        remap = Remap(tmp.path, {})
        stub_dir = os.path.join(tmp.path, "stub")
        os.makedirs(stub_dir)
        with open(os.path.join(stub_dir, "cfo-worker"), "w") as f:
            f.write('#!/bin/sh\nfor a in "$@"; do printf \'%s\\n\' "$a"; done > "$ARGS_OUT"\n')
        os.chmod(os.path.join(stub_dir, "cfo-worker"), 0o755)
        keygen_script = remap.text(self.services["keygen"], self.cmd("keygen")[-1])
        path = stub_dir + ":" + os.path.dirname(binary("cfo-keygen")) + ":" + os.environ["PATH"]
        # What an older compose.yaml left: one pair every replica shared.
        old = remap.path(self.services["keygen"], "/keys/worker")
        run([binary("cfo-keygen"), "--dir", old, "worker"], check=0)

        def start_all():
            run(["sh", "-ec", keygen_script], env={"PATH": path}, check=0)
            argvs = {}
            for name in ("replica-1", "replica-2"):
                out = os.path.join(tmp.path, name + ".args")
                run(["sh", "-ec", self.worker_script(remap)],
                    env={"PATH": path, "HOSTNAME": name, "ARGS_OUT": out,
                         "HOME": os.path.join(tmp.path, "home-" + name)}, check=0)
                with open(out) as f:
                    argvs[name] = f.read().splitlines()
            return argvs

        argvs = start_all()
        self.assertFalse(os.path.exists(os.path.join(old, "worker.key")), "the shared pair is gone")
        coord = self.one("coordinator", "cfo-coordinator")
        csecret = remap.path(self.services["coordinator"], option(coord, "--curve-secret"))
        allow = remap.path(self.services["coordinator"], option(coord, "--allow-dir"))
        with open(csecret[:-len(".key")] + ".pub") as f:
            coordinator_pub = f.read()
        allowed = {}
        for p in glob.glob(os.path.join(allow, "*.pub")):
            with open(p) as f:
                allowed[os.path.basename(p)] = f.read()
        self.assertEqual(set(allowed), {"replica-1.pub", "replica-2.pub"})
        self.assertNotIn(coordinator_pub, allowed.values())
        secrets = {}
        for name, argv in argvs.items():
            self.assertEqual(option(argv, "--id"), name, "a replica is named by its host name")
            wsecret = option(argv, "--curve-secret")
            self.assertTrue(wsecret.startswith(os.path.join(tmp.path, "home-" + name) + "/"),
                            "%s keeps its secret key in its own home: %s" % (name, wsecret))
            self.assertEqual(stat.S_IMODE(os.stat(wsecret).st_mode), 0o600, wsecret)
            with open(wsecret[:-len(".key")] + ".pub") as f:
                self.assertEqual(allowed[name + ".pub"], f.read(), name + "'s key is allowed")
            with open(option(argv, "--server-key")) as f:
                self.assertEqual(f.read(), coordinator_pub, "workers pin the coordinator's key")
            with open(wsecret) as f:
                secrets[name] = f.read()
        self.assertNotEqual(secrets["replica-1"], secrets["replica-2"], "one key pair per replica")
        self.assertEqual(stat.S_IMODE(os.stat(csecret).st_mode), 0o600, csecret)
        before = {p: open(p).read() for p in [csecret] + glob.glob(os.path.join(allow, "*"))}
        start_all()
        self.assertEqual(before, {p: open(p).read() for p in [csecret] +
                                  glob.glob(os.path.join(allow, "*"))},
                         "keys are made once: a restarted replica keeps its own")

    def test_services_run_outside_containers(self):
        """keygen, repo, the coordinator and two workers run with their compose
        commands (paths mapped to directories here, the coordinator on a free
        loopback port, a file dataset in place of the emulator's bucket): the
        run completes, and the health checks say healthy while it runs."""
        tmp = cfotest.TempDir("cfo-deploy-run-")
        self.addCleanup(tmp.cleanup)
        release = os.path.join(tmp.path, "release")
        src = os.path.join(tmp.path, "src")
        cfotest.make_repo(src, {
            "cfo.ini": "[fuzzer \"CANARY\"]\nkind = canary\nmerge = accumulate\ncritical = false\n\n"
                       "[fuzzer \"HOLD\"]\nkind = exec\nrun = ./hold.sh\nmerge = accumulate\n"
                       "critical = true\n",
            "hold.sh": ("#!/bin/sh\nwhile [ ! -e %s ]; do sleep 0.05; done\n" % release, 0o755),
        })
        remap = Remap(tmp.path, {"/src": src})
        path_env = os.path.dirname(binary("cfo")) + ":" + os.environ["PATH"]
        env = {"PATH": path_env}
        run(["sh", "-ec", remap.text(self.services["keygen"], self.cmd("keygen")[-1])],
            env=env, check=0)
        repo_svc = self.services["repo"]
        run(["sh", "-ec", remap.text(repo_svc, self.cmd("repo")[-1])],
            env={"PATH": path_env, "CFO_REPO_URL": remap.path(repo_svc, "/src")}, check=0)

        port = free_port()
        data = os.path.join(tmp.path, "data.json")

        def argv(name, prog):
            svc = self.services[name]
            args = [a for p, a in invocations(self.cmd(name)) if p == prog][0]
            out = [binary(prog)]
            for a in args:
                a = a.replace(":5555", ":%d" % port)
                a = a.replace("tcp://0.0.0.0:", "tcp://127.0.0.1:")
                a = a.replace("tcp://coordinator:", "tcp://127.0.0.1:")
                if a.startswith("gs://"):
                    a = "file://" + data
                elif a.startswith("/"):
                    a = remap.path(svc, a)
                out.append(a)
            return out

        def healthy(name):
            test = self.services[name]["healthcheck"]["test"]
            self.assertEqual(test[0], "CMD-SHELL")
            cmd = test[1].replace(":15B3", ":%04X" % port)
            return subprocess.run(["sh", "-c", cmd], timeout=30).returncode == 0

        procs = []

        def spawn(name, cmd, env=None):
            log = open(os.path.join(tmp.path, name + ".log"), "w")
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                 env=dict(os.environ, PATH=path_env, **(env or {})))
            procs.append((p, log))
            return p

        def stop_all():
            for p, log in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                log.close()
        self.addCleanup(stop_all)

        self.assertFalse(healthy("coordinator"))
        coord = spawn("coordinator", argv("coordinator", "cfo-coordinator"))
        wait_for(lambda: healthy("coordinator") or coord.poll() is not None, 120,
                 "the coordinator to listen")
        self.assertIsNone(coord.poll(), self.log(tmp, "coordinator"))
        # Each worker runs its service's start script as a replica would, with
        # a home and a host name of its own; the coordinator, started with an
        # empty allow-dir, takes each key as it appears.
        workers = [spawn("worker%d" % i, ["sh", "-ec", self.worker_script(remap, port)],
                         env={"HOSTNAME": "worker%d" % i,
                              "HOME": os.path.join(tmp.path, "home-worker%d" % i)})
                   for i in (1, 2)]
        wait_for(lambda: healthy("worker") or coord.poll() is not None, 120,
                 "a worker to be connected")
        self.assertIsNone(coord.poll(), self.log(tmp, "coordinator"))
        open(release, "w").close()
        try:
            status = coord.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.fail("the coordinator did not finish\n" + self.log(tmp, "coordinator"))
        self.assertEqual(status, 0, self.log(tmp, "coordinator"))
        for w in workers:
            self.assertEqual(w.wait(timeout=60), 0)
        self.assertTrue(os.path.isfile(data), "--upload wrote the dataset")
        with open(data) as f:
            self.assertIn('"HOLD"', f.read())
        report = remap.path(self.services["coordinator"],
                            option(self.one("coordinator", "cfo-coordinator"), "--report"))
        self.assertTrue(os.path.isfile(report))

    @staticmethod
    def log(tmp, name):
        try:
            with open(os.path.join(tmp.path, name + ".log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""


class YamlFiles(unittest.TestCase):
    def test_every_yaml_file_parses(self):
        files = [COMPOSE, os.path.join(SRC, "action.yml")] + sorted(
            glob.glob(os.path.join(DEPLOY, "**", "*.y*ml"), recursive=True))
        self.assertGreaterEqual(len(files), 4)
        for path in files:
            # Kubernetes manifests hold several documents (---).
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            self.assertTrue(docs, path)
            for d in docs:
                self.assertIsInstance(d, dict, path)


class CircleCI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = os.path.join(DEPLOY, "circleci", "config.yml")
        cls.config = load_yaml(cls.path)

    def test_hourly_weekdays_seven_to_five_central(self):
        workflows = [w for k, w in self.config["workflows"].items() if isinstance(w, dict)]
        schedules = [t["schedule"] for w in workflows for t in w.get("triggers", [])]
        self.assertEqual(len(schedules), 1)
        minute, hour, dom, month, dow = schedules[0]["cron"].split()
        self.assertEqual(minute, "0", "once an hour, on the hour")
        self.assertEqual((dom, month), ("*", "*"))
        self.assertEqual(dow, "1-5", "Monday to Friday")
        first, last = (int(x) for x in hour.split("-"))
        utc_hours = set(range(first, last + 1))
        # CircleCI's cron is UTC; the file says which Central offset it uses.
        with open(self.path) as f:
            text = f.read()
        offset = 6 if "UTC-6" in text and "CST" in text else 5
        local = {h - offset for h in utc_hours}
        self.assertEqual(local, set(range(7, 18)), "7 AM to 5 PM, every hour")
        self.assertTrue(all(h < 24 for h in utc_hours), "no run moves to the next UTC day")
        self.assertEqual(schedules[0]["filters"]["branches"]["only"], "plan")

    def job_scripts(self):
        scripts = []
        for job in self.config["jobs"].values():
            for step in job["steps"]:
                if isinstance(step, dict) and "run" in step:
                    r = step["run"]
                    scripts.append(r["command"] if isinstance(r, dict) else r)
        return scripts

    def test_reusable_job_builds_cfo_outside_the_repository(self):
        """The job gets CFO from its own checkout of CFO's source, with the
        GitHub Action's script (tests/integration/test_action.py runs it), and
        the scheduled workflow runs it with --concurrency 4 --upload."""
        scripts = "\n".join(self.job_scripts())
        self.assertNotRegex(scripts, r"(^|\s)(\./)?(scripts/build\.sh|build/bin/)")
        calls = re.findall(r"action-run\.sh\"? (\w+)", scripts)
        self.assertEqual(calls, ["deps", "build", "run"])
        jobs = [j for w in self.config["workflows"].values() if isinstance(w, dict)
                for j in w.get("jobs", [])]
        self.assertEqual(len(jobs), 1)
        params = jobs[0]["cfo"]
        self.assertEqual(str(params["concurrency"]), "4")
        self.assertIs(params["upload"], True)
        self.assertTrue(params.get("cfo-ref"), "the workflow names the CFO ref it builds")
        for prog, args in [inv for s in self.job_scripts() for inv in invocations(s)]:
            for a in args:
                if a.startswith("--"):
                    self.assertIn(a.split("=", 1)[0], help_flags(prog), "%s %s" % (prog, a))


class GitHubActions(unittest.TestCase):
    def test_workflow(self):
        """The scheduled run, single-host or as a coordinator plus a matrix of
        workers; CFO itself comes from the action (test_action.py checks how)."""
        paths = glob.glob(os.path.join(DEPLOY, "github", "workflows", "*.yml"))
        self.assertEqual(len(paths), 1)
        wf = load_yaml(paths[0])
        on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
        self.assertIn("schedule", on)
        jobs = wf["jobs"]
        runs = {name: "\n".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
        progs = {n: [p for p, _ in invocations(r)] for n, r in runs.items()}
        self.assertEqual(len([n for n in progs if "cfo-coordinator" in progs[n]]), 1)
        matrix_workers = [n for n in progs if "cfo-worker" in progs[n]
                          and "matrix" in jobs[n].get("strategy", {})]
        self.assertEqual(len(matrix_workers), 1, "the workers are a matrix job")
        single = [n for n, j in jobs.items()
                  if any(s.get("with", {}).get("command", "cfo") == "cfo"
                         for s in j["steps"] if "/cfo@" in s.get("uses", ""))]
        self.assertEqual(len(single), 1, "one job runs cfo through the action")
        with_ = [s["with"] for s in jobs[single[0]]["steps"] if "/cfo@" in s.get("uses", "")][0]
        self.assertEqual(str(with_["concurrency"]), "4")
        self.assertIs(with_["upload"], True)
        for r in runs.values():
            for prog, args in invocations(r):
                for a in args:
                    if a.startswith("--"):
                        self.assertIn(a.split("=", 1)[0], help_flags(prog), "%s %s" % (prog, a))


class SystemdUnit(unittest.TestCase):
    def test_exec_start(self):
        path = os.path.join(DEPLOY, "systemd", "cfo-worker.service")
        with open(path) as f:
            lines = [ln.strip() for ln in f if "=" in ln and not ln.startswith("#")]
        keys = dict(ln.split("=", 1) for ln in lines)
        argv = shlex.split(keys["ExecStart"])
        self.assertEqual(os.path.basename(argv[0]), "cfo-worker")
        self.assertTrue(os.path.isabs(argv[0]), "systemd needs an absolute ExecStart")
        known = help_flags("cfo-worker")
        for a in argv[1:]:
            if a.startswith("--"):
                self.assertIn(a.split("=", 1)[0], known, a)
        for required in ("--connect", "--curve-secret", "--server-key"):
            self.assertIn(required, argv)
        self.assertEqual(keys["KillMode"], "mixed", "SIGTERM goes to the worker, which stops its tasks")
        self.assertIn(keys.get("Restart"), ("always", "on-success"))
        analyze = shutil.which("systemd-analyze")
        if analyze:
            p = run([analyze, "verify", "--man=no", path], timeout=60)
            self.assertNotIn("Unknown key", p.stderr + p.stdout)


class Dockerfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SRC, "Dockerfile")) as f:
            text = f.read().replace("\\\n", " ")
        cls.instructions = []
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                word, _, rest = line.partition(" ")
                cls.instructions.append((word.upper(), rest.strip()))

    def stages(self):
        stages = []
        for word, rest in self.instructions:
            if word == "FROM":
                stages.append([])
            if stages:
                stages[-1].append((word, rest))
        return stages

    def test_stages_bookworm_and_non_root(self):
        froms = [rest for word, rest in self.instructions if word == "FROM"]
        self.assertGreaterEqual(len(froms), 2, "multi-stage")
        for f in froms:
            self.assertRegex(f, r"^debian:bookworm(-slim)?( AS \w+)?$")
        final = self.stages()[-1]
        users = [rest for word, rest in final if word == "USER"]
        self.assertTrue(users and users[-1] not in ("root", "0"), "the image runs as a non-root user")

    def test_copies_and_scripts_exist(self):
        for word, rest in self.instructions:
            if word == "COPY" and "--from=" not in rest:
                for srcpath in rest.split()[:-1]:
                    self.assertTrue(os.path.exists(os.path.join(SRC, srcpath)), srcpath)
            if word == "RUN":
                for script in re.findall(r"\./(scripts/[\w.-]+\.sh)", rest):
                    self.assertTrue(os.access(os.path.join(SRC, script), os.X_OK), script)
        build = " ".join(rest for word, rest in self.stages()[0] if word == "RUN")
        self.assertIn("scripts/deps.sh", build, "the build stage uses the README's dependency script")

    def test_run_instructions_are_valid_shell(self):
        for word, rest in self.instructions:
            if word == "RUN":
                p = subprocess.run(["sh", "-n", "-c", rest], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, rest + "\n" + p.stderr)

    def test_build_stage_dependencies_without_terraform(self):
        """The build stage runs deps.sh where no terraform is installed."""
        build = " ".join(rest for word, rest in self.stages()[0] if word == "RUN")
        m = re.search(r"((?:\w+=\S+ )*)\./scripts/deps\.sh", build)
        self.assertIsNotNone(m)
        env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
        if shutil.which("terraform", path=env["PATH"]) or shutil.which("tofu", path=env["PATH"]):
            self.skipTest("terraform is installed in a system directory here")
        for assignment in m.group(1).split():
            k, v = assignment.split("=", 1)
            env[k] = v
        script = os.path.join(SRC, "scripts", "deps.sh")
        p = subprocess.run([script], env=env, capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, "deps.sh as the build stage runs it:\n" + p.stderr)

    def test_runtime_packages_hold_the_linked_libraries(self):
        final = " ".join(rest for word, rest in self.stages()[-1] if word == "RUN")
        installed = set(re.findall(r"\b(lib[\w.+-]+|git|tini)\b", final))
        self.assertIn("git", installed)
        needed = set()
        for prog in sorted(PROGRAMS):
            path = binary(prog)
            if not os.path.exists(path):
                continue
            out = run(["ldd", path], check=0).stdout
            for lib in re.findall(r"=> (/\S+)", out):
                if re.search(r"/lib(asan|ubsan|lsan|tsan)\.", lib):
                    continue  # sanitizer builds only; the image is built without
                direct = run(["readelf", "-d", path], check=0).stdout
                if os.path.basename(lib) not in direct:
                    continue
                p = run(["dpkg", "-S", os.path.realpath(lib)])
                if p.returncode != 0:
                    p = run(["dpkg", "-S", lib], check=0)
                needed.add(p.stdout.split(":")[0])
        base = {"libc6", "libgcc-s1", "libstdc++6"}
        self.assertTrue(needed, "the programs link shared libraries")
        self.assertEqual(needed - base - installed, set(),
                         "libraries the programs link that the runtime image lacks")


if __name__ == "__main__":
    cfotest.main()
