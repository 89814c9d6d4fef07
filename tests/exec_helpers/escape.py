#!/usr/bin/env python3
"""Leaves a descendant behind that escapes the task's process group and its
parent: it calls setsid, its parent exits, and it ignores SIGTERM. Prints
"escaped <pid>" once the escapee runs. With "stay", the task then sleeps
(until stopped); otherwise it exits 0 at once."""
import os
import signal
import sys
import time

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.write(w, b"%d\n" % os.getpid())
    os.close(w)
    time.sleep(1000)
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
escapee = os.fdopen(r).readline().strip()
print("escaped", escapee, flush=True)
if sys.argv[1:] == ["stay"]:
    time.sleep(1000)
