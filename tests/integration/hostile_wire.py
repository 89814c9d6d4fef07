"""The coordinator/worker wire protocol spoken from Python, for tests that play
a hostile worker: its own msgpack encoder and decoder (python3-msgpack), built
from the protocol's description, not from CFO's code, so a bug in the C
encoder cannot hide a bug in the C decoder.

A message is one header frame, the msgpack array [version, type, fields...],
and for RESULT one payload frame. A DEALER socket sends it as it is; the
coordinator's ROUTER puts the routing id in front."""

import time

import msgpack
import zmq

VERSION = 1

HELLO, WELCOME, CREDIT, TASK, RESULT, ACK, CANCEL, HEARTBEAT, BYE, RESET = range(1, 11)
NAMES = {HELLO: "HELLO", WELCOME: "WELCOME", CREDIT: "CREDIT", TASK: "TASK", RESULT: "RESULT",
         ACK: "ACK", CANCEL: "CANCEL", HEARTBEAT: "HEARTBEAT", BYE: "BYE", RESET: "RESET"}

STATUS = {"pass": 0, "fail": 1, "timeout": 2, "error": 3, "cancelled": 4, "oom": 5}

INT64_MAX = 2 ** 63 - 1
# 10000-01-01T00:00:00Z in ms: the first time a four-digit year cannot write.
YEAR_10000_MS = 253402300800000


def pack(obj):
    # bytes travel as msgpack bin, str as str; floats as float64.
    return msgpack.packb(obj, use_bin_type=True)


def hello(worker_id, slots, fuzzers, pending):
    """HELLO: [1, 1, worker_id, slots, [fuzzer...], [[task_id, attempt]...]]."""
    return [pack([VERSION, HELLO, worker_id, slots, list(fuzzers),
                  [[t, a] for t, a in pending]])]


def credit(n):
    return [pack([VERSION, CREDIT, n])]


def heartbeat():
    return [pack([VERSION, HEARTBEAT])]


def bye(reason="leaving"):
    return [pack([VERSION, BYE, reason])]


def result(task_id, attempt, status="pass", count=1, findings=0, duration=0.1,
           end_wall_ms=None, exit_code=0, signal=0, command="./fz/run.sh x",
           summary="", tail=b"", has_usage=False, cpu=0.0, max_rss_kb=0, crashes="",
           coverage=""):
    """RESULT: header [1, 5, task_id, attempt], payload [status, count, findings,
    duration, end_wall_ms, exit_code, signal, command, summary, tail, has_usage,
    cpu, max_rss_kb, crashes, coverage]."""
    if end_wall_ms is None:
        end_wall_ms = int(time.time() * 1000)
    payload = [STATUS[status], count, findings, float(duration), end_wall_ms, exit_code,
               signal, command, summary, bytes(tail), bool(has_usage), float(cpu), max_rss_kb,
               crashes, coverage]
    return [pack([VERSION, RESULT, task_id, attempt]), pack(payload)]


def welcome(run_id, heartbeat_ms):
    """WELCOME (coordinator to worker): [1, 2, run_id, heartbeat_ms]."""
    return [pack([VERSION, WELCOME, run_id, heartbeat_ms])]


def task(task_id, attempt, fuzzer, branch, commit, target, timeout_ms=60000, deadline_ms=0):
    """TASK (coordinator to worker): [1, 4, task_id, attempt, fuzzer, branch,
    commit, target, timeout_ms, deadline_ms]."""
    return [pack([VERSION, TASK, task_id, attempt, fuzzer, branch, commit, target, timeout_ms,
                  deadline_ms])]


def kind(frame):
    """The type of a header frame, or None when it is not one."""
    try:
        head = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    except Exception:  # noqa: BLE001 -- anything undecodable is "not one"
        return None
    if isinstance(head, list) and len(head) >= 2 and head[0] == VERSION:
        return head[1]
    return None


class Message:
    """A decoded message from the coordinator: type, its header fields."""

    def __init__(self, frames):
        self.frames = frames
        # Frames are capped by the socket's ZMQ_MAXMSGSIZE.
        head = msgpack.unpackb(frames[0], raw=False, strict_map_key=False)
        if not isinstance(head, list) or len(head) < 2 or head[0] != VERSION:
            raise ValueError("not a protocol header: %r" % (head,))
        self.type = head[1]
        self.fields = head[2:]

    @property
    def name(self):
        return NAMES.get(self.type, "UNKNOWN(%r)" % (self.type,))

    def ref(self):
        """(task_id, attempt) of a TASK, ACK or CANCEL."""
        return self.fields[0], self.fields[1]

    def __repr__(self):
        return "%s%r" % (self.name, self.fields)


class Peer:
    """One hostile worker: a DEALER socket on the coordinator's endpoint, and
    every message it was sent, in order. Bounded: it reads at most
    max_messages messages over its life."""

    def __init__(self, ctx, endpoint, max_messages=10000):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 2000)  # what was queued goes out on close
        self.sock.setsockopt(zmq.MAXMSGSIZE, 1 << 20)
        self.sock.connect(endpoint)
        self.got = []
        self.sent = 0
        self.max_messages = max_messages
        self.last_sent = 0.0

    def send(self, frames):
        self.sock.send_multipart(frames)
        self.sent += 1
        self.last_sent = time.monotonic()

    def poll(self, timeout_s):
        """Reads what is waiting (up to timeout_s for the first); returns the
        new messages."""
        new = []
        wait_ms = max(0, int(timeout_s * 1000))
        while len(self.got) < self.max_messages and self.sock.poll(wait_ms, zmq.POLLIN):
            m = Message(self.sock.recv_multipart())
            self.got.append(m)
            new.append(m)
            wait_ms = 0
        return new

    def pump(self, until, timeout_s, keepalive=False):
        """Reads until until(self) is true or timeout_s passes; with keepalive
        it sends a HEARTBEAT every 200 ms, as a live worker would. Returns
        whether until held."""
        deadline = time.monotonic() + timeout_s
        while True:
            if until(self):
                return True
            now = time.monotonic()
            if now >= deadline or len(self.got) >= self.max_messages:
                return False
            if keepalive and now - self.last_sent >= 0.2:
                self.send(heartbeat())
            self.poll(min(0.05, deadline - now))

    def of(self, *types):
        return [m for m in self.got if m.type in types]

    def close(self):
        self.sock.close()
