"""deploy/kubernetes: the manifests parse, pass a structural schema check of
the Kubernetes API objects they use, agree with each other (selectors,
volumes, ConfigMap, Service ports), and every flag their commands give a CFO
program is in its --help.

`kubectl apply --dry-run=client` needs an API server to discover the kinds
from, which the machines this runs on do not have (and Debian's
kubernetes-client is 1.20, without Indexed Jobs or policy/v1), so the
schema is checked here: each object's fields against the subset of the
Kubernetes API reference (v1.24+) that the manifests may use, unknown fields
refused, as the API server's strict field validation would."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from test_deploy import help_flags, invocations, option  # noqa: E402

import yaml  # noqa: E402

DIR = os.path.join(cfotest.SRC, "deploy", "kubernetes")

# Types: str, int, bool; a dict is an object with those keys (REQUIRED ones
# marked); [x] a list of x; MAP a string-to-string map; INT_OR_STR; QUANTITY.
MAP, INT_OR_STR, QUANTITY, ANY_OBJECT = "map", "int-or-string", "quantity", "object"
REQUIRED = "!"

METADATA = {"name": str, "namespace": str, "labels": MAP, "annotations": MAP}
SELECTOR = {"matchLabels": MAP}
KEY_TO_PATH = {"key!": str, "path!": str, "mode": int}
VOLUME = {
    "name!": str,
    "emptyDir": {"medium": str, "sizeLimit": QUANTITY},
    "secret": {"secretName!": str, "defaultMode": int, "items": [KEY_TO_PATH],
               "optional": bool},
    "configMap": {"name!": str, "defaultMode": int, "items": [KEY_TO_PATH],
                  "optional": bool},
}
CONTAINER = {
    "name!": str, "image!": str, "command": [str], "args": [str], "workingDir": str,
    "env": [{"name!": str, "value": str,
             "valueFrom": {"fieldRef": {"fieldPath!": str},
                           "secretKeyRef": {"name!": str, "key!": str},
                           "configMapKeyRef": {"name!": str, "key!": str}}}],
    "envFrom": [{"configMapRef": {"name!": str}, "secretRef": {"name!": str}}],
    "ports": [{"name": str, "containerPort!": int, "protocol": str}],
    "resources": {"requests": {"cpu": QUANTITY, "memory": QUANTITY},
                  "limits": {"cpu": QUANTITY, "memory": QUANTITY}},
    "volumeMounts": [{"name!": str, "mountPath!": str, "readOnly": bool, "subPath": str}],
    "readinessProbe": ANY_OBJECT, "livenessProbe": ANY_OBJECT,
    "securityContext": {"allowPrivilegeEscalation": bool, "readOnlyRootFilesystem": bool,
                        "runAsNonRoot": bool, "capabilities": ANY_OBJECT},
}
POD_SPEC = {
    "containers!": [CONTAINER], "initContainers": [CONTAINER], "volumes": [VOLUME],
    "restartPolicy": str, "terminationGracePeriodSeconds": int,
    "serviceAccountName": str, "nodeSelector": MAP,
    "securityContext": {"runAsUser": int, "runAsGroup": int, "fsGroup": int,
                        "runAsNonRoot": bool},
}
POD_TEMPLATE = {"metadata": METADATA, "spec!": POD_SPEC}
KINDS = {
    ("v1", "ConfigMap"): {"data": MAP},
    ("v1", "Service"): {"spec!": {
        "selector": MAP, "type": str, "clusterIP": str,
        "ports!": [{"name": str, "port!": int, "targetPort": INT_OR_STR, "protocol": str}]}},
    ("batch/v1", "Job"): {"spec!": {
        "template!": POD_TEMPLATE, "completions": int, "parallelism": int,
        "completionMode": str, "backoffLimit": int, "activeDeadlineSeconds": int,
        "ttlSecondsAfterFinished": int, "selector": SELECTOR}},
    ("apps/v1", "Deployment"): {"spec!": {
        "replicas": int, "selector!": SELECTOR, "template!": POD_TEMPLATE,
        "strategy": ANY_OBJECT}},
    ("policy/v1", "PodDisruptionBudget"): {"spec!": {
        "selector!": SELECTOR, "minAvailable": INT_OR_STR, "maxUnavailable": INT_OR_STR}},
}
ENUMS = {
    "restartPolicy": {"Always", "OnFailure", "Never"},
    "completionMode": {"NonIndexed", "Indexed"},
    "protocol": {"TCP", "UDP", "SCTP"},
    "medium": {"", "Memory"},
}
QUANTITY_RE = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check(value, schema, path, errors):
    if schema is ANY_OBJECT:
        if not isinstance(value, dict):
            errors.append("%s: not an object" % path)
    elif schema is MAP:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            errors.append("%s: not a map of strings to strings" % path)
    elif schema is INT_OR_STR:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            errors.append("%s: not an integer or a string" % path)
    elif schema is QUANTITY:
        if isinstance(value, bool) or not QUANTITY_RE.match(str(value)):
            errors.append("%s: %r is not a quantity" % (path, value))
    elif isinstance(schema, list):
        if not isinstance(value, list):
            errors.append("%s: not a list" % path)
            return
        for i, item in enumerate(value):
            check(item, schema[0], "%s[%d]" % (path, i), errors)
    elif isinstance(schema, dict):
        if not isinstance(value, dict):
            errors.append("%s: not an object" % path)
            return
        fields = {k.rstrip(REQUIRED): v for k, v in schema.items()}
        for k in schema:
            if k.endswith(REQUIRED) and k[:-1] not in value:
                errors.append("%s.%s: required" % (path, k[:-1]))
        for k, v in value.items():
            if k not in fields:
                errors.append("%s.%s: unknown field" % (path, k))
                continue
            check(v, fields[k], "%s.%s" % (path, k), errors)
            if k in ENUMS and v not in ENUMS[k]:
                errors.append("%s.%s: %r is not one of %s" % (path, k, v, sorted(ENUMS[k])))
    elif schema is int:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append("%s: not an integer" % path)
    elif not isinstance(value, schema):
        errors.append("%s: not a %s" % (path, schema.__name__))


def validate(doc):
    """The schema errors of one object."""
    errors = []
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key not in KINDS:
        return ["%s/%s: not a kind these manifests may use" % key]
    schema = dict(KINDS[key], **{"apiVersion!": str, "kind!": str, "metadata!": METADATA})
    check(doc, schema, doc["kind"], errors)
    name = doc.get("metadata", {}).get("name", "")
    if not NAME_RE.match(name) or len(name) > 63:
        errors.append("%s: metadata.name %r is not a DNS label" % (doc["kind"], name))
    return errors


def load_all():
    docs = []
    for name in sorted(os.listdir(DIR)):
        if name.endswith(".yaml"):
            with open(os.path.join(DIR, name)) as f:
                docs += [(name, d) for d in yaml.safe_load_all(f) if d is not None]
    return docs


def pod_specs(docs):
    for _, d in docs:
        if d["kind"] in ("Job", "Deployment"):
            yield d, d["spec"]["template"]


def scripts(pod):
    for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
        cmd = c.get("command", []) + c.get("args", [])
        yield c, cmd


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = load_all()

    def kind(self, kind):
        return [d for _, d in self.docs if d["kind"] == kind]

    def test_schema(self):
        self.assertTrue(self.docs)
        for name, d in self.docs:
            self.assertEqual(validate(d), [], name)

    def test_the_check_refuses_what_the_api_would(self):
        job = next(d for d in self.kind("Job"))
        bad = yaml.safe_load(yaml.safe_dump(job))
        bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
        bad["spec"]["completions"] = "four"
        del bad["spec"]["template"]["spec"]["containers"][0]["image"]
        bad["spec"]["template"]["spec"]["restartPolicy"] = "Sometimes"
        errors = "\n".join(validate(bad))
        for want in ("imagePullPolicyy: unknown field", "completions: not an integer",
                     "image: required", "'Sometimes' is not one of"):
            self.assertIn(want, errors)

    def test_coordinator_job_service_and_workers(self):
        def running(prog):
            return [d for d, pod in pod_specs(self.docs)
                    if any(p == prog for _, cmd in scripts(pod) for p, _ in invocations(cmd))]
        coord = running("cfo-coordinator")
        self.assertEqual(len(coord), 1)
        self.assertEqual(coord[0]["kind"], "Job", "a run ends: its coordinator is a Job")
        workers = running("cfo-worker")
        self.assertEqual(len(workers), 1)
        w = workers[0]
        if w["kind"] == "Job":
            self.assertEqual(w["spec"].get("completionMode"), "Indexed",
                             "each worker picks its own key pair by its index")
            self.assertEqual(w["spec"]["completions"], w["spec"]["parallelism"])
        for job in self.kind("Job"):
            self.assertIn(job["spec"]["template"]["spec"]["restartPolicy"],
                          ("Never", "OnFailure"))
        services = self.kind("Service")
        self.assertEqual(len(services), 1)
        svc = services[0]
        pod_labels = coord[0]["spec"]["template"]["metadata"]["labels"]
        self.assertTrue(matches(svc["spec"]["selector"], pod_labels))
        self.assertFalse(matches(svc["spec"]["selector"],
                                 w["spec"]["template"]["metadata"]["labels"]))
        ports = {p["port"] for p in svc["spec"]["ports"]}
        container_ports = {p["containerPort"] for c in
                           coord[0]["spec"]["template"]["spec"]["containers"]
                           for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            self.assertIn(p.get("targetPort", p["port"]), container_ports)
        # The workers connect to the Service, on its port; the coordinator
        # binds that port and serves /metrics on the other.
        args = {prog: a for _, pod in pod_specs(self.docs) for _, cmd in scripts(pod)
                for prog, a in invocations(cmd)}
        connect = option(args["cfo-worker"], "--connect")
        m = re.fullmatch(r"tcp://([\w.-]+):(\d+)", connect)
        self.assertEqual(m.group(1), svc["metadata"]["name"])
        self.assertIn(int(m.group(2)), ports)
        bind = option(args["cfo-coordinator"], "--bind")
        self.assertEqual(int(bind.rsplit(":", 1)[1]), int(m.group(2)))
        metrics = option(args["cfo-coordinator"], "--metrics")
        self.assertIn(int(metrics.rsplit(":", 1)[1]), ports)
        # CURVE on both ends.
        self.assertTrue(option(args["cfo-coordinator"], "--curve-secret"))
        self.assertTrue(option(args["cfo-coordinator"], "--allow-dir"))
        self.assertTrue(option(args["cfo-worker"], "--server-key"))

    def test_grace_covers_the_hand_back(self):
        """A worker given SIGTERM stops its tasks (--grace, then SIGKILL) and
        hands them back; the pod's grace period must leave room for it."""
        for _, pod in pod_specs(self.docs):
            for _, cmd in scripts(pod):
                for prog, a in invocations(cmd):
                    if prog != "cfo-worker":
                        continue
                    grace = option(a, "--grace") or "5s"
                    seconds = int(re.fullmatch(r"(\d+)s", grace).group(1))
                    self.assertGreaterEqual(pod["spec"]["terminationGracePeriodSeconds"],
                                            seconds + 5)

    def test_disruption_budgets_select_pods(self):
        pdbs = self.kind("PodDisruptionBudget")
        self.assertEqual(len(pdbs), 2)
        for pdb in pdbs:
            sel = pdb["spec"]["selector"]["matchLabels"]
            hits = [d for d, pod in pod_specs(self.docs)
                    if matches(sel, pod["metadata"]["labels"])]
            self.assertEqual(len(hits), 1, pdb["metadata"]["name"])

    def test_volumes_configmaps_and_resources(self):
        configmaps = {d["metadata"]["name"]: d for d in self.kind("ConfigMap")}
        for d, pod in pod_specs(self.docs):
            spec = pod["spec"]
            volumes = {v["name"] for v in spec.get("volumes", [])}
            self.assertEqual(len(volumes), len(spec.get("volumes", [])), "unique volume names")
            for c, cmd in scripts(pod):
                for m in c.get("volumeMounts", []):
                    self.assertIn(m["name"], volumes, (d["metadata"]["name"], c["name"]))
                for e in c.get("envFrom", []):
                    self.assertIn(e["configMapRef"]["name"], configmaps)
                used = set(re.findall(r"\$\{?(CFO_[A-Z_]+)", " ".join(cmd)))
                provided = {k for e in c.get("envFrom", [])
                            for k in configmaps[e["configMapRef"]["name"]]["data"]}
                self.assertLessEqual(used, provided, c["name"])
            for c in spec["containers"]:
                self.assertIn("requests", c.get("resources", {}), c["name"])

    def test_every_flag_exists_and_scripts_are_valid_shell(self):
        seen = set()
        for _, pod in pod_specs(self.docs):
            for _, cmd in scripts(pod):
                if cmd[:2] == ["sh", "-ec"]:
                    p = subprocess.run(["sh", "-n", "-c", cmd[-1]], stderr=subprocess.PIPE,
                                       text=True)
                    self.assertEqual(p.returncode, 0, p.stderr)
                for prog, args in invocations(cmd):
                    seen.add(prog)
                    for a in args:
                        if a.startswith("--"):
                            self.assertIn(a.split("=", 1)[0], help_flags(prog),
                                          "%s %s" % (prog, a))
        self.assertEqual(seen, {"cfo-coordinator", "cfo-worker"})


if __name__ == "__main__":
    cfotest.main()
