#!/usr/bin/env python3
"""test_findings_cli.py -- findings through the real cfo-dataset: merged from records, listed
(table, --state, --json), written as SARIF 2.1.0 that validates against the schema in
tests/schemas (Debian's python3-jsonschema), merged from documents deterministically, and the
strategies the document records used by a merge run from anywhere."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import jsonschema

BIN = os.path.abspath(os.path.join(os.environ.get("CFO_BINARY_DIR", "build"), "bin",
                                   "cfo-dataset"))
SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schemas",
                      "sarif-2.1.0-required.json")
SIG = "crash:out-of-bounds-read:json_string|json_value|LLVMFuzzerTestOneInput"


def sha(n):
    return "%040x" % (0xBADC0DE000 + n)


def rec(commit, fuzzer, target, minute, ok, branch="main", crashes=None, run=None):
    r = {"commit": sha(commit), "fuzzer": fuzzer, "ok": ok, "count": 1,
         "findings": 0 if ok else 1, "branch": branch, "target": target, "duration": 1.0,
         "command": "cfo-fuzz %s %s" % (fuzzer, target), "status": "pass" if ok else "fail",
         "time": "2026-11-21T10:%02d:00Z" % minute, "run": run or "run-%d" % minute,
         "attempt": 1}
    if crashes is not None:
        r["crashes"] = crashes
    return r


def crash(replay=None, reproduced=None):
    c = {"signature": SIG, "kind": "crash", "new": replay is None, "repro": "1/1",
         "bundle": "gs://b/crashes/LIBFUZZER/fuzz_json/0123456789abcdef.tar.gz",
         "location": "src/json.c:138"}
    if replay is not None:
        c["replay"] = True
        c["reproduced"] = reproduced
    return [c]


class FindingsCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cfo-findings-")
        self.url = "file://" + os.path.join(self.dir, "data.json")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def tool(self, *args, check=0):
        r = subprocess.run([BIN] + list(args), cwd=self.dir, capture_output=True, text=True,
                           timeout=60)
        if check is not None:
            self.assertEqual(r.returncode, check, r.stdout + r.stderr)
        return r

    def merge(self, name, records, into=None, *extra):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(records, f)
        self.tool("merge", "--into", into or self.url, *extra, path)
        return path

    def findings(self, url=None, *extra):
        return json.loads(self.tool("findings", url or self.url, "--json", *extra).stdout)

    def lifecycle(self):
        # A on main finds the crash; B fixes it on main; release keeps it; a
        # drifted module fails once and passes on the next run.
        self.merge("r1.json", [rec(1, "LIBFUZZER", "fuzz_json", 1, False, crashes=crash()),
                               rec(1, "LIBFUZZER", "fuzz_json", 2, False, branch="release",
                                   crashes=crash()),
                               rec(1, "INFRA_DRIFT", "envs/prod", 3, False)])
        self.merge("r2.json", [rec(2, "LIBFUZZER", "fuzz_json", 11, True,
                                   crashes=crash(replay=True, reproduced=False)),
                               rec(1, "LIBFUZZER", "fuzz_json", 12, False, branch="release",
                                   crashes=crash(replay=True, reproduced=True)),
                               rec(1, "INFRA_DRIFT", "envs/prod", 13, True)])

    def test_list_and_states(self):
        self.lifecycle()
        fs = {f["id"]: f for f in self.findings()}
        self.assertEqual(sorted(fs), ["INFRA_DRIFT/envs/prod",
                                      "LIBFUZZER/fuzz_json/" + fs[sorted(fs)[1]]["signature"]])
        drift = fs["INFRA_DRIFT/envs/prod"]
        self.assertEqual(drift["state"], "fixed")
        self.assertEqual(drift["fixed"]["last_bad"], sha(1))
        crash_f = [f for f in fs.values() if f["kind"] == "crash"][0]
        self.assertEqual(crash_f["state"], "open")
        self.assertEqual(crash_f["branches"], {"main": "fixed", "release": "open"})
        self.assertEqual(crash_f["history"]["main"]["fixed"],
                         {"commit": sha(2), "last_bad": sha(1), "time": "2026-11-21T10:11:00Z"})
        self.assertEqual(crash_f["title"],
                         "out-of-bounds-read in json_string < json_value < LLVMFuzzerTestOneInput")
        self.assertEqual([f["id"] for f in self.findings(None, "--state", "fixed")],
                         ["INFRA_DRIFT/envs/prod"])
        table = self.tool("findings", self.url, "--state", "open").stdout
        self.assertIn("open   LIBFUZZER/fuzz_json/", table)
        self.assertIn("branches: main=fixed (%s..%s) release=open" % (sha(1)[:12], sha(2)[:12]),
                      table)
        self.assertIn("reproduce: cfo-crash reproduce gs://b/crashes/LIBFUZZER/fuzz_json/", table)
        self.assertNotIn("INFRA_DRIFT", table)
        # bad input: a clear error and the usage or data exit status
        self.tool("findings", self.url, "--state", "closed", check=2)
        self.tool("findings", os.path.join(self.dir, "missing.json"), check=3)
        self.tool("sarif", self.url, check=2)

    def test_sarif_validates(self):
        self.lifecycle()
        out = os.path.join(self.dir, "cfo.sarif")
        self.tool("sarif", self.url, out)
        with open(out) as f:
            log = json.load(f)
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.validate(log, schema, format_checker=jsonschema.FormatChecker())
        # the schema bites: a log without its version does not validate
        broken = dict(log)
        del broken["version"]
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
        results = log["runs"][0]["results"]
        self.assertEqual(len(results), 1)  # one result per open finding
        r = results[0]
        self.assertEqual(r["ruleId"], "crash")
        rules = log["runs"][0]["tool"]["driver"]["rules"]
        self.assertEqual(rules[r["ruleIndex"]]["id"], "crash")
        loc = r["locations"][0]["physicalLocation"]
        self.assertEqual(loc["artifactLocation"]["uri"], "src/json.c")
        self.assertEqual(loc["region"]["startLine"], 138)
        fid = r["partialFingerprints"]["cfoFinding/v1"]
        self.assertTrue(fid.startswith("LIBFUZZER/fuzz_json/"))
        self.assertIn("cfo-crash reproduce gs://b/crashes/LIBFUZZER/fuzz_json/", r["message"]["text"])
        self.assertIn("fixed on main (last bad %s, fixed %s)" % (sha(1)[:12], sha(2)[:12]),
                      r["message"]["text"])
        # the same findings give the same fingerprints on the next run
        self.merge("r3.json", [rec(1, "LIBFUZZER", "fuzz_json", 21, False, branch="release",
                                   crashes=crash(replay=True, reproduced=True))])
        self.tool("sarif", self.url, out)
        with open(out) as f:
            again = json.load(f)["runs"][0]["results"]
        self.assertEqual([x["partialFingerprints"] for x in again], [r["partialFingerprints"]])

    def test_merge_documents_deterministic(self):
        self.lifecycle()
        data = os.path.join(self.dir, "data.json")
        other = "file://" + os.path.join(self.dir, "other.json")
        self.merge("o1.json", [rec(5, "LIBFUZZER", "fuzz_json", 30, False, branch="dev",
                                   crashes=crash())], into=other)
        # merging the two documents either way round gives the same findings
        ab = "file://" + os.path.join(self.dir, "ab.json")
        ba = "file://" + os.path.join(self.dir, "ba.json")
        self.tool("merge", "--into", ab, data, os.path.join(self.dir, "other.json"))
        self.tool("merge", "--into", ba, os.path.join(self.dir, "other.json"), data)
        self.assertEqual(self.findings(ab), self.findings(ba))
        fs = {f["kind"]: f for f in self.findings(ab)}
        self.assertEqual(fs["crash"]["branches"], {"dev": "open", "main": "fixed",
                                                   "release": "open"})
        # and merging again changes nothing
        before = self.findings(ab)
        self.tool("merge", "--into", ab, data, os.path.join(self.dir, "other.json"))
        self.assertEqual(self.findings(ab), before)

    def test_strategies_recorded(self):
        # A configuration names MYDRIFT supersede; the document records it, so a
        # merge run elsewhere, without that configuration, supersedes too.
        cfg = os.path.join(self.dir, "cfo.ini")
        with open(cfg, "w") as f:
            f.write('[fuzzer "MYDRIFT"]\nkind = exec\nmerge = supersede\n'
                    'run = true\n')
        self.merge("s1.json", [rec(1, "MYDRIFT", "m", 1, False)], None, "--config", cfg)
        with open(os.path.join(self.dir, "data.json")) as f:
            self.assertEqual(json.load(f)["strategies"]["MYDRIFT"], "supersede")
        elsewhere = tempfile.mkdtemp(prefix="cfo-findings-elsewhere-")
        try:
            path = os.path.join(elsewhere, "s2.json")
            with open(path, "w") as f:
                json.dump([rec(2, "MYDRIFT", "m", 2, True)], f)
            r = subprocess.run([BIN, "merge", "--into", self.url, path], cwd=elsewhere,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            shutil.rmtree(elsewhere, ignore_errors=True)
        with open(os.path.join(self.dir, "data.json")) as f:
            doc = json.load(f)
        self.assertEqual([x["ok"] for x in doc["records"]], [True])  # superseded
        self.assertEqual(doc["findings"][0]["state"], "fixed")

    def test_report_shows_findings(self):
        # The drifted module's failure is gone from the records (SUPERSEDE),
        # but the page and the text report still show it, fixed, with its range.
        self.lifecycle()
        with open(os.path.join(self.dir, "data.json")) as f:
            doc = json.load(f)
        self.assertEqual([r["ok"] for r in doc["records"] if r["fuzzer"] == "INFRA_DRIFT"],
                         [True])
        page = os.path.join(self.dir, "report.html")
        self.tool("report", self.url, "--html", page)
        with open(page) as f:
            html = f.read()
        self.assertIn('<tr class="finding fixed" data-id="INFRA_DRIFT/envs/prod">', html)
        self.assertIn("last bad <code>%s</code>, fixed <code>%s</code> on main"
                      % (sha(1)[:12], sha(1)[:12]), html)
        self.assertRegex(html, r'<tr class="finding open" data-id="LIBFUZZER/fuzz_json/[0-9a-f]{16}">'
                               r'<td>open</td><td>out-of-bounds-read in json_string &lt; json_value')
        self.assertIn("main fixed, release open", html)
        text = self.tool("report", self.url).stdout
        self.assertIn("2 findings: 1 open, 1 fixed", text)

    def test_bad_findings_not_overwritten(self):
        data = os.path.join(self.dir, "data.json")
        with open(data, "w") as f:
            f.write('{"version": 2, "findings": [{"id": "x"}], "records": []}')
        path = os.path.join(self.dir, "n.json")
        with open(path, "w") as f:
            json.dump([rec(1, "INFRA_DRIFT", "m", 1, False)], f)
        r = self.tool("merge", "--into", self.url, path, check=3)
        self.assertIn("finding 0: missing 'fuzzer'", r.stderr)
        with open(data) as f:
            self.assertIn('"id": "x"', f.read())


if __name__ == "__main__":
    unittest.main()
