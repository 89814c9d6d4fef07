"""examples/notify/github-issues.sh against a local fake of the GitHub REST API: an opened
finding files one issue, a regression comments and reopens it, a fix comments and closes it,
and nothing is filed twice across runs; bad input is refused clearly."""

import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfotest  # noqa: E402
from cfotest import run  # noqa: E402

SCRIPT = os.path.join(cfotest.SRC, "examples", "notify", "github-issues.sh")
TOKEN = "test-token"


class FakeGitHub:
    """Issues of one repository, as the REST API serves them (the parts the script uses)."""

    def __init__(self):
        self.issues = []  # dicts: number, title, body, state, labels, comments
        self.calls = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, value):
                data = json.dumps(value).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self):
                n = int(self.headers.get("Content-Length", "0"))
                return json.loads(self.rfile.read(n) or b"{}")

            def handle_any(self, method):
                url = urllib.parse.urlparse(self.path)
                with fake.lock:
                    fake.calls.append((method, url.path))
                    if self.headers.get("Authorization") != "Bearer " + TOKEN:
                        return self.reply(401, {"message": "Bad credentials"})
                    parts = url.path.strip("/").split("/")
                    if parts[:3] != ["repos", "o", "r"] or parts[3:4] != ["issues"]:
                        return self.reply(404, {"message": "Not Found"})
                    rest = parts[4:]
                    if method == "GET" and not rest:
                        q = urllib.parse.parse_qs(url.query)
                        per = int(q.get("per_page", ["30"])[0])
                        page = int(q.get("page", ["1"])[0])
                        want = q.get("labels", [""])[0]
                        items = [dict(i, labels=[{"name": x} for x in i["labels"]])
                                 for i in fake.issues if not want or want in i["labels"]]
                        return self.reply(200, items[(page - 1) * per:page * per])
                    if method == "POST" and not rest:
                        b = self.body()
                        issue = {"number": len(fake.issues) + 1, "title": b["title"],
                                 "body": b["body"], "state": "open",
                                 "labels": b.get("labels", []), "comments": []}
                        fake.issues.append(issue)
                        return self.reply(201, issue)
                    issue = fake.issues[int(rest[0]) - 1]
                    if method == "POST" and rest[1:] == ["comments"]:
                        issue["comments"].append(self.body()["body"])
                        return self.reply(201, {"id": len(issue["comments"])})
                    if method == "PATCH" and not rest[1:]:
                        issue["state"] = self.body()["state"]
                        return self.reply(200, issue)
                    return self.reply(404, {"message": "Not Found"})

            def do_GET(self):
                self.handle_any("GET")

            def do_POST(self):
                self.handle_any("POST")

            def do_PATCH(self):
                self.handle_any("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def finding(fid, state="open", regressed=0):
    f = {"id": fid, "fuzzer": "LIBFUZZER", "target": "fuzz_parser", "kind": "crash",
         "signature": fid.rsplit("/", 1)[-1], "title": "out-of-bounds-write in parse_blob",
         "state": state,
         "first": {"commit": "a" * 40, "branch": "main", "time": "2026-11-21T10:00:00Z"},
         "last": {"commit": "a" * 40, "branch": "main", "time": "2026-11-21T10:00:00Z"},
         "fixed": None, "branches": {"main": state},
         "bundle": "/store/crashes/LIBFUZZER/fuzz_parser/x.tar.gz", "regressed": regressed}
    if state == "fixed":
        f["fixed"] = {"commit": "b" * 40, "branch": "main", "time": "2026-11-21T11:00:00Z",
                      "last_bad": "a" * 40}
    return f


def events(*pairs):
    return "".join(json.dumps({"event": e, "finding": f}) + "\n" for e, f in pairs)


class NotifyGitHub(cfotest.unittest.TestCase):
    def setUp(self):
        self.gh = FakeGitHub()
        self.env = dict(os.environ, GITHUB_TOKEN=TOKEN, GITHUB_REPOSITORY="o/r",
                        GITHUB_API_URL=self.gh.url)

    def tearDown(self):
        self.gh.close()

    def notify(self, text, env=None, check=0):
        r = run(["sh", SCRIPT], env=env or self.env, input=text, timeout=60)
        if check is not None:
            self.assertEqual(r.returncode, check, r.stdout + r.stderr)
        return r

    def test_lifecycle_one_issue(self):
        f1 = "LIBFUZZER/fuzz_parser/0123456789abcdef"
        f2 = "INFRA_DRIFT/envs/prod"
        r = self.notify(events(("opened", finding(f1)), ("opened", finding(f2))))
        self.assertIn("opened issue #1 for " + f1, r.stdout)
        self.assertEqual([i["state"] for i in self.gh.issues], ["open", "open"])
        self.assertIn("<!-- cfo-finding: %s -->" % f1, self.gh.issues[0]["body"])
        self.assertIn("cfo-crash reproduce /store/crashes/", self.gh.issues[0]["body"])
        self.assertEqual(self.gh.issues[0]["title"], "CFO: out-of-bounds-write in parse_blob")
        # a second run that reports the same finding as opened files nothing new
        self.notify(events(("opened", finding(f1))))
        self.assertEqual(len(self.gh.issues), 2)
        # fixed: a comment, then closed
        r = self.notify(events(("fixed", finding(f1, "fixed"))))
        self.assertIn("issue #1: %s fixed, closed" % f1, r.stdout)
        self.assertEqual(self.gh.issues[0]["state"], "closed")
        self.assertEqual(len(self.gh.issues[0]["comments"]), 1)
        self.assertIn("last bad `aaaaaaaaaaaa`", self.gh.issues[0]["comments"][0])
        # regressed: a comment, reopened; still one issue for the finding
        r = self.notify(events(("regressed", finding(f1, regressed=1))))
        self.assertIn("issue #1: %s regressed" % f1, r.stdout)
        self.assertEqual(self.gh.issues[0]["state"], "open")
        self.assertEqual(len(self.gh.issues[0]["comments"]), 2)
        self.assertTrue(self.gh.issues[0]["comments"][1].startswith("Regressed"))
        self.assertEqual(len(self.gh.issues), 2)
        self.assertEqual(self.gh.issues[1]["comments"], [])

    def test_many_issues_paged(self):
        # More issues than one page holds: the finding is still found.
        for n in range(130):
            self.gh.issues.append({"number": n + 1, "title": "t", "body": "other %d" % n,
                                   "state": "open", "labels": ["cfo-finding"], "comments": []})
        fid = "LIBFUZZER/fuzz_parser/feedfacecafebeef"
        self.notify(events(("opened", finding(fid))))
        self.assertEqual(len(self.gh.issues), 131)
        self.notify(events(("opened", finding(fid))))
        self.assertEqual(len(self.gh.issues), 131)

    def test_bad_input(self):
        r = self.notify("not json\n", check=1)
        self.assertIn("not an event", r.stderr)
        env = dict(self.env)
        del env["GITHUB_TOKEN"]
        r = self.notify(events(("opened", finding("X/y"))), env=env, check=2)
        self.assertIn("GITHUB_TOKEN is not set", r.stderr)
        env = dict(self.env, GITHUB_TOKEN="wrong")
        r = self.notify(events(("opened", finding("X/y"))), env=env, check=1)
        self.assertIn("HTTP 401", r.stderr)
        self.assertEqual(self.gh.issues, [])


if __name__ == "__main__":
    cfotest.main()
