#!/usr/bin/env python3
"""gcs_fixture.py -- a fake Google Cloud Storage for tests: the JSON API subset
CFO uses (media download with x-goog-generation, object metadata, media upload
with an atomic ifGenerationMatch, listing with prefix, delimiter and pages,
delete), an OAuth token endpoint that verifies RS256
JWT assertions (with the openssl command line) and refresh-token grants, a
metadata-server token endpoint, and fault injection. Python standard library
only; listens on 127.0.0.1.

In a test:  fx = FakeGCS(buckets=["bucket"]); fx.start(); ...; fx.stop()
Standalone: python3 gcs_fixture.py [--port N] [--bucket NAME]... [--list-page-size N]
(prints the port)
The same controls are served over HTTP under /_control/ (see Handler.control).
"""

import base64
import hashlib
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
MD_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class FakeGCS:
    """State and behaviour of the fake service; the handler only routes."""

    def __init__(self, buckets=("bucket",), require_auth=False, sa_email=None, sa_pubkey=None,
                 refresh_grant=None, token_lifetime=3600, list_page_size=1000):
        self.lock = threading.Lock()
        self.buckets = set(buckets)
        self.objects = {}  # (bucket, name) -> [bytes, generation]
        self.last_generation = int(time.time() * 1e6)
        self.require_auth = require_auth
        self.sa_email = sa_email
        self.sa_pubkey = sa_pubkey  # path of a PEM public key
        self.refresh_grant = refresh_grant  # (client_id, client_secret, refresh_token)
        self.token_lifetime = token_lifetime
        self.tokens = {}  # token -> expiry (time.time())
        self.faults = []  # dicts: match, action, status, count
        self.race = []  # bytes another writer stores just before the next uploads
        self.expire_after = None  # storage requests left before every token expires
        self.omit_generation_header = False
        self.download_delay = 0.0
        self.list_page_size = list_page_size  # most entries per listing page
        self.list_extra = []  # names every listing page reports, whatever the prefix
        self.upload_gate = None  # a threading.Event uploads wait for (60 s at most)
        self.stats = {}
        self.log = []  # (method, path-without-query, status) per request
        self.tmp = tempfile.mkdtemp(prefix="cfo-gcs-fixture-")
        self.server = None
        self.thread = None
        self.port = None

    # --- life cycle -------------------------------------------------------
    def start(self, port=0):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.fixture = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.port

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    # --- controls ---------------------------------------------------------
    def count(self, key, n=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def stat(self, key):
        with self.lock:
            return self.stats.get(key, 0)

    def add_fault(self, match="any", status=None, drop=False, lost_reply=False, count=1):
        """The next `count` requests of kind `match` (download, metadata,
        upload, list, delete, token, metadata-server, any) answer `status`, or are dropped
        without a reply, or (uploads) are performed and then dropped."""
        action = "lost_reply" if lost_reply else "drop" if drop else "status"
        with self.lock:
            self.faults.append({"match": match, "action": action, "status": status,
                                "count": count})

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def race_next_upload(self, data):
        """Before the next upload is judged, another writer stores data."""
        with self.lock:
            self.race.append(bytes(data))

    def expire_tokens(self, after_requests=0):
        """Every token issued so far expires now, or after that many more
        authorized storage requests."""
        with self.lock:
            if after_requests > 0:
                self.expire_after = after_requests
            else:
                self._expire_all()

    def _expire_all(self):
        for t in self.tokens:
            self.tokens[t] = 0

    def get_object(self, bucket, name):
        """(bytes, generation) or None."""
        with self.lock:
            o = self.objects.get((bucket, name))
            return (o[0], o[1]) if o else None

    def put_object(self, bucket, name, data):
        with self.lock:
            return self._store(bucket, name, bytes(data))

    def _store(self, bucket, name, data):
        self.last_generation = max(self.last_generation + 1, int(time.time() * 1e6))
        self.objects[(bucket, name)] = [data, self.last_generation]
        return self.last_generation

    def delete_object(self, bucket, name):
        """True when it existed."""
        with self.lock:
            return self.objects.pop((bucket, name), None) is not None

    def names(self, bucket, prefix=""):
        """Sorted names of the bucket's objects that start with prefix."""
        with self.lock:
            return sorted(n for (b, n) in self.objects if b == bucket and n.startswith(prefix))

    def list_page(self, bucket, prefix, delimiter, token, max_results):
        """(item names, prefixes, next page token or None) like objects.list:
        names under prefix; with a delimiter, a name with another delimiter
        after the prefix is rolled up into its sub-prefix. The token is the
        last entry of the page, so a page is what follows it in order."""
        with self.lock:
            names = sorted(n for (b, n) in self.objects if b == bucket and n.startswith(prefix))
            extra = list(self.list_extra)
        entries = {}  # entry -> is a prefix
        for n in names:
            rest = n[len(prefix):]
            cut = rest.find(delimiter) if delimiter else -1
            if cut >= 0:
                entries[prefix + rest[:cut + len(delimiter)]] = True
            else:
                entries[n] = False
        ordered = [e for e in sorted(entries) if token is None or e > token]
        size = max(1, min(max_results, self.list_page_size))
        page, more = ordered[:size], len(ordered) > size
        items = [e for e in page if not entries[e]] + extra
        prefixes = [e for e in page if entries[e]]
        return items, prefixes, (page[-1] if more else None)

    def _take_fault(self, kind):
        with self.lock:
            for f in self.faults:
                if f["count"] > 0 and f["match"] in (kind, "any"):
                    f["count"] -= 1
                    return f
        return None

    def issue_token(self):
        tok = "ya29.fixture-" + secrets.token_hex(16)
        with self.lock:
            self.tokens[tok] = time.time() + self.token_lifetime
            self.stats["tokens_issued"] = self.stats.get("tokens_issued", 0) + 1
        return {"access_token": tok, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def authorized(self, header):
        if not self.require_auth:
            return True
        if not header or not header.startswith("Bearer "):
            return False
        tok = header[len("Bearer "):]
        with self.lock:
            exp = self.tokens.get(tok)
            ok = exp is not None and exp > time.time()
            if ok and self.expire_after is not None:
                self.expire_after -= 1
                if self.expire_after <= 0:
                    self.expire_after = None
                    self._expire_all()
            return ok

    def verify_jwt(self, assertion, audience):
        """The reason the assertion is refused, or None when it is good."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return "not a JWT"
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            return "undecodable JWT"
        if header.get("alg") != "RS256" or header.get("typ") != "JWT":
            return "header is not RS256/JWT"
        now = time.time()
        if claims.get("iss") != self.sa_email:
            return "wrong iss"
        if claims.get("aud") != audience:
            return "wrong aud %r" % claims.get("aud")
        if SCOPE not in str(claims.get("scope", "")).split():
            return "scope lacks devstorage.read_write"
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            return "iat/exp not integers"
        if abs(iat - now) > 300 or exp <= now or exp - iat > 3600:
            return "bad iat/exp"
        fd, signed = tempfile.mkstemp(dir=self.tmp)
        with os.fdopen(fd, "wb") as f:
            f.write((parts[0] + "." + parts[1]).encode())
        fd, sigf = tempfile.mkstemp(dir=self.tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(sig)
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", self.sa_pubkey,
                            "-signature", sigf, signed], capture_output=True, timeout=30)
        os.unlink(signed)
        os.unlink(sigf)
        if p.returncode != 0:
            return "bad signature"
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    @property
    def fx(self):
        return self.server.fixture

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def reply(self, status, data=b"", ctype="application/json", headers=None):
        if isinstance(data, (dict, list)):
            data = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        # Counted before the client can see the reply, so a test that reads
        # the stats once its client is done never races the count.
        self.fx.count("status_%d" % status)
        with self.fx.lock:
            self.fx.log.append((self.command, self.path.split("?")[0], status))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message):
        self.reply(status, {"error": {"code": status, "message": message,
                                      "errors": [{"message": message}]}})

    def drop(self):
        self.close_connection = True
        self.fx.count("dropped")
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        segs = u.path.split("/")
        body = self.body()
        if u.path.startswith("/_control/"):
            return self.control(method, u.path[len("/_control/"):], q, body)
        if method == "POST" and u.path == "/token":
            kind = "token"
        elif method == "GET" and u.path == MD_TOKEN_PATH:
            kind = "metadata-server"
        elif method == "GET" and len(segs) == 7 and segs[1:4] == ["storage", "v1", "b"] \
                and segs[5] == "o":
            kind = "download" if q.get("alt") == ["media"] else "metadata"
        elif method == "GET" and len(segs) == 6 and segs[1:4] == ["storage", "v1", "b"] \
                and segs[5] == "o":
            kind = "list"
        elif method == "DELETE" and len(segs) == 7 and segs[1:4] == ["storage", "v1", "b"] \
                and segs[5] == "o":
            kind = "delete"
        elif method == "POST" and len(segs) == 7 and segs[1:5] == ["upload", "storage", "v1",
                                                                    "b"] and segs[6] == "o":
            kind = "upload"
        else:
            return self.error(404, "Not Found")
        self.fx.count("req_" + kind)
        fault = self.fx._take_fault(kind)
        if fault is not None and fault["action"] == "drop":
            return self.drop()
        if fault is not None and fault["action"] == "status":
            return self.error(fault["status"], "injected %d" % fault["status"])
        if kind == "token":
            return self.token(body)
        if kind == "metadata-server":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.error(403, "Missing Metadata-Flavor:Google header")
            self.fx.count("metadata_tokens")
            return self.reply(200, self.fx.issue_token())
        if not self.fx.authorized(self.headers.get("Authorization")):
            self.fx.count("unauthorized")
            return self.error(401, "Invalid Credentials")
        bucket = urllib.parse.unquote(segs[5] if kind == "upload" else segs[4])
        if bucket not in self.fx.buckets:
            return self.error(404, "The specified bucket does not exist.")
        if kind == "upload":
            return self.upload(bucket, q, body, lost=fault is not None)
        if kind == "list":
            return self.list(bucket, q)
        name = urllib.parse.unquote(segs[6])
        if kind == "delete":
            if not self.fx.delete_object(bucket, name):
                return self.error(404, "No such object: %s/%s" % (bucket, name))
            self.fx.count("deletes")
            return self.reply(204)
        obj = self.fx.get_object(bucket, name)
        if obj is None:
            return self.error(404, "No such object: %s/%s" % (bucket, name))
        data, gen = obj
        if kind == "metadata":
            return self.reply(200, {
                "kind": "storage#object", "bucket": bucket, "name": name,
                "generation": str(gen), "metageneration": "1", "size": str(len(data)),
                "contentType": "application/json",
                "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode()})
        if self.fx.download_delay:
            time.sleep(self.fx.download_delay)
        headers = {"x-goog-metageneration": "1", "x-goog-storage-class": "STANDARD"}
        if not self.fx.omit_generation_header:
            headers["x-goog-generation"] = str(gen)
        self.fx.count("downloads")
        return self.reply(200, data, ctype="application/json", headers=headers)

    def list(self, bucket, q):
        arg = lambda k, d=None: q.get(k, [d])[0]  # noqa: E731
        try:
            max_results = int(arg("maxResults", "1000"))
        except ValueError:
            return self.error(400, "Invalid argument: maxResults")
        items, prefixes, token = self.fx.list_page(bucket, arg("prefix", ""), arg("delimiter"),
                                                   arg("pageToken"), max_results)
        self.fx.count("list_pages")
        reply = {"kind": "storage#objects"}
        if items:
            reply["items"] = [{"kind": "storage#object", "bucket": bucket, "name": n}
                              for n in items]
        if prefixes:
            reply["prefixes"] = prefixes
        if token is not None:
            reply["nextPageToken"] = token
        return self.reply(200, reply)

    def upload(self, bucket, q, body, lost):
        if q.get("uploadType") != ["media"] or len(q.get("name", [])) != 1:
            return self.error(400, "Upload requests must include an uploadType and a name")
        name = q["name"][0]
        match = q.get("ifGenerationMatch")
        fx = self.fx
        gate = fx.upload_gate
        if gate is not None:
            gate.wait(60)
        with fx.lock:
            if fx.race:
                fx._store(bucket, name, fx.race.pop(0))
                fx.stats["raced"] = fx.stats.get("raced", 0) + 1
            cur = fx.objects.get((bucket, name))
            if match is not None:
                try:
                    want = int(match[0])
                except ValueError:
                    want = None
                if want is None:
                    ok = None
                else:
                    ok = (cur is None) if want == 0 else (cur is not None and cur[1] == want)
            else:
                ok = True
            if ok:
                gen = fx._store(bucket, name, body)
                fx.stats["uploads"] = fx.stats.get("uploads", 0) + 1
            elif ok is False:
                fx.stats["precondition_failed"] = fx.stats.get("precondition_failed", 0) + 1
        if ok is None:
            return self.error(400, "Invalid argument: ifGenerationMatch")
        if not ok:
            return self.error(412, "At least one of the pre-conditions you specified did not "
                              "hold.")
        if lost:
            fx.count("lost_replies")
            return self.drop()
        return self.reply(200, {"kind": "storage#object", "bucket": bucket, "name": name,
                                "generation": str(gen), "metageneration": "1",
                                "size": str(len(body))})

    def token(self, body):
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        grant = form.get("grant_type", [""])[0]
        fx = self.fx
        if grant == JWT_GRANT and fx.sa_pubkey:
            why = fx.verify_jwt(form.get("assertion", [""])[0], fx.url + "/token")
            if why is not None:
                fx.count("jwt_rejected")
                return self.reply(400, {"error": "invalid_grant", "error_description": why})
            fx.count("jwt_verified")
            return self.reply(200, fx.issue_token())
        if grant == "refresh_token" and fx.refresh_grant:
            got = tuple(form.get(k, [""])[0] for k in ("client_id", "client_secret",
                                                       "refresh_token"))
            if got != tuple(fx.refresh_grant):
                return self.reply(400, {"error": "invalid_grant",
                                        "error_description": "Bad Request"})
            fx.count("refresh_grants")
            return self.reply(200, fx.issue_token())
        return self.reply(400, {"error": "unsupported_grant_type"})

    def control(self, method, what, q, body):
        """fault (POST JSON: match (download, metadata, upload, list, delete,
        token, metadata-server, any), status|drop|lost_reply, count), race (POST:
        the bytes), expire_tokens (POST, ?after=N), stats (GET), object (GET or
        PUT, ?bucket=&name=), clear (POST: faults)."""
        fx = self.fx
        arg = lambda k, d=None: q.get(k, [d])[0]  # noqa: E731
        if what == "fault" and method == "POST":
            spec = json.loads(body or b"{}")
            fx.add_fault(spec.get("match", "any"), spec.get("status"), spec.get("drop", False),
                         spec.get("lost_reply", False), spec.get("count", 1))
            return self.reply(200, {})
        if what == "clear" and method == "POST":
            fx.clear_faults()
            return self.reply(200, {})
        if what == "race" and method == "POST":
            fx.race_next_upload(body)
            return self.reply(200, {})
        if what == "expire_tokens" and method == "POST":
            fx.expire_tokens(int(arg("after", "0")))
            return self.reply(200, {})
        if what == "stats" and method == "GET":
            with fx.lock:
                return self.reply(200, dict(fx.stats))
        if what == "object":
            bucket, name = arg("bucket"), arg("name")
            if method == "PUT":
                return self.reply(200, {"generation": str(fx.put_object(bucket, name, body))})
            obj = fx.get_object(bucket, name)
            if obj is None:
                return self.error(404, "No such object")
            return self.reply(200, obj[0], headers={"x-goog-generation": str(obj[1])})
        return self.error(404, "unknown control")


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="fake GCS JSON API on 127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bucket", action="append", default=[])
    ap.add_argument("--list-page-size", type=int, default=1000)
    args = ap.parse_args(argv)
    fx = FakeGCS(buckets=args.bucket or ["bucket"], list_page_size=args.list_page_size)
    port = fx.start(args.port)
    print(port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fx.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
