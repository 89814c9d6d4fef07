#!/usr/bin/env python3
"""CFO's benchmarks: what orchestration costs next to the work it runs, measured
against the tools a user would otherwise pick, in the same run, as ratios.

usage: python3 bench/run.py [--smoke] [--out bench/results.json] [--bin DIR] [--runs N]

Writes results.json and results.md (next to it): for each benchmark the median
of several runs, its baseline measured alternately with it, the ratio, the
target and whether it is met, and a description of the machine. Without
--bin, CFO is built (Release) into build-bench/ first. --smoke runs every
benchmark with small sizes, to keep the bench from rotting; its figures mean
nothing. --only re-runs some benchmarks and keeps the others' figures from the
file it writes. Every process started here is stopped before the command ends.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen_dataset  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}

FULL = {"dispatch_tasks": 5000, "dispatch_runs": 5, "parallel_runs": 3,
        "scale_tasks": 400, "scale_runs": 3,
        "merge_commits": 32, "merge_branches": 3, "merge_targets": 10400, "merge_new": 30000,
        "merge_runs": 3, "footprint_tasks": 100000, "footprint_workers": 64,
        "drift_modules": 20, "drift_runs": 3, "engine_seconds": 20, "engine_runs": 3,
        "scale_load_tasks": 100000, "scale_load_workers": [10, 100, 1000], "scale_load_runs": 3,
        "scale_load_heartbeat": "250ms", "coverage_seconds": 60, "coverage_runs": 3}
SMOKE = {"dispatch_tasks": 100, "dispatch_runs": 1, "parallel_runs": 1,
         "scale_tasks": 16, "scale_runs": 1,
         "merge_commits": 4, "merge_branches": 3, "merge_targets": 50, "merge_new": 60,
         "merge_runs": 1, "footprint_tasks": 1000, "footprint_workers": 4,
         "drift_modules": 2, "drift_runs": 1, "engine_seconds": 2, "engine_runs": 1,
        "scale_load_tasks": 50000, "scale_load_workers": [2, 20], "scale_load_runs": 1,
        "scale_load_heartbeat": "50ms", "coverage_seconds": 2, "coverage_runs": 1}


# ---- processes -------------------------------------------------------------

class Procs:
    """Every long-lived process started here, each in its own session, so that
    stopping one stops whatever it started."""

    def __init__(self):
        self.live = []

    def spawn(self, argv, log_path, cwd=None, env=None, stdin=subprocess.DEVNULL):
        log = open(log_path, "w")
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=stdin, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        p.log_path = log_path
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, grace=5.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(self.live):
            self.stop(p, signal.SIGKILL if p.poll() is None else signal.SIGTERM, 5.0)


PROCS = Procs()


def on_signal(sig, frame):
    raise SystemExit(128 + sig)


TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_timed(argv, cwd=None, env=None, stdin_bytes=None, timeout=900, ok=(0,), rss=False):
    """Runs argv to completion; returns (wall seconds, peak RSS in bytes).
    Output is discarded except for the error message when the exit status is
    not one of ok. With rss, the peak is measured by /usr/bin/time (a child
    forked from this process would count this process's pages as its own)."""
    err = tempfile.TemporaryFile()
    rss_file = None
    if rss and TIME is not None:
        fd, rss_file = tempfile.mkstemp(prefix="cfo-bench-rss-")
        os.close(fd)
        argv = [TIME, "-f", "%M", "-o", rss_file, *argv]
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err,
                         stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                         start_new_session=True)
    PROCS.live.append(p)
    try:
        if stdin_bytes is not None:
            p.stdin.write(stdin_bytes)
            p.stdin.close()
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("%s took longer than %ds" % (argv[0], timeout))
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    finally:
        PROCS.stop(p, signal.SIGKILL, 1.0)
    if p.returncode not in ok:
        err.seek(0)
        raise RuntimeError("%s exited %d:\n%s" % (" ".join(argv), p.returncode,
                                                  err.read()[-3000:].decode(errors="replace")))
    err.close()
    peak = ru.ru_maxrss * 1024
    if rss_file is not None:
        with open(rss_file) as f:
            peak = int(f.read().split()[-1]) * 1024
        os.unlink(rss_file)
    return wall, peak


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.02)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, env=dict(os.environ, **GIT_ENV), check=True,
                   stdout=subprocess.DEVNULL)


def make_repo(path, files):
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    for rel, (text, mode) in files.items():
        p = os.path.join(path, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "bench")
    return path


def list_script(n):
    return ("#!/bin/sh\nexec seq -f 't%%g' 1 %d\n" % n, 0o755)


def exec_repo(path, ntasks, run_cmd):
    ini = ('[fuzzer "BENCH"]\nkind = exec\ndiscover = ./list.sh\nrun = %s\n'
           'needs_working_dir = false\ncritical = true\n' % run_cmd)
    return make_repo(path, {"list.sh": list_script(ntasks), "cfo.ini": (ini, 0o644)})


# ---- measurement helpers ---------------------------------------------------

def median(xs):
    return statistics.median(xs) if xs else None


def metric(samples, unit):
    return {"median": median(samples), "samples": [round(x, 6) for x in samples], "unit": unit}


def target(name, value, op, limit, what):
    met = value is not None and (value <= limit if op == "<=" else value >= limit)
    return {"name": name, "value": value, "op": op, "limit": limit, "met": bool(met),
            "what": what}


def alternate(variants, rounds, counts=None):
    """Runs each variant `rounds` times (fewer where counts says so),
    rotating the order every round so that drift in the machine's load falls
    on all of them alike. variants: {name: fn() -> seconds}."""
    samples = {k: [] for k in variants}
    names = list(variants)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            if counts is not None and len(samples[k]) >= counts.get(k, rounds):
                continue
            samples[k].append(variants[k]())
    return samples


# ---- 1 dispatch -------------------------------------------------------------

def finish_run(c, ws, t0, timeout):
    """The wall time since t0 of a distributed run, coordinator c and workers
    ws, once it ends; raises with the coordinator's log when it fails. Every
    process is stopped either way."""
    try:
        rc = c.wait(timeout=timeout)
        wall = time.perf_counter() - t0
        if rc != 0:
            raise RuntimeError("cfo-coordinator exited %d:\n%s" % (
                rc, open(c.log_path).read()[-3000:]))
        for w in ws:
            w.wait(timeout=60)
    finally:
        for p in [c] + ws:
            PROCS.stop(p)
    return wall


def bench_dispatch(ctx, sz):
    n = sz["dispatch_tasks"]
    work = os.path.join(ctx.tmp, "dispatch")
    os.makedirs(work)
    repo = exec_repo(os.path.join(work, "repo"), n, "/bin/true {target}")
    targets = "".join("t%d\n" % i for i in range(1, n + 1)).encode()
    cfo, coord, worker = ctx.bin("cfo"), ctx.bin("cfo-coordinator"), ctx.bin("cfo-worker")

    def xargs():
        return run_timed(["xargs", "-P2", "-n1", "/bin/true"], stdin_bytes=targets)[0]

    def parallel():
        return run_timed(["parallel", "--will-cite", "-j2", "/bin/true"],
                         stdin_bytes=targets)[0]

    def single():
        return run_timed([cfo, "--repo", repo, "--concurrency", "2", "--quiet", "--budget", "1h"],
                         cwd=work)[0]

    def setup():
        return run_timed([cfo, "--repo", repo, "--dry-run"], cwd=work)[0]

    def tcp():
        port = free_port()
        ep = "tcp://127.0.0.1:%d" % port
        t0 = time.perf_counter()
        c = PROCS.spawn([coord, "--repo", repo, "--bind", ep, "--quiet", "--budget", "1h",
                         "--wait-workers", "60s"], os.path.join(work, "coordinator.log"),
                        cwd=work)
        ws = [PROCS.spawn([worker, "--connect", ep, "--slots", "1", "--repo", repo,
                           "--id", "w%d" % i], os.path.join(work, "w%d.log" % i), cwd=work)
              for i in range(2)]
        return finish_run(c, ws, t0, 900)

    have_parallel = shutil.which("parallel") is not None
    variants = {"xargs": xargs, "cfo": single, "cfo_tcp": tcp, "setup": setup}
    if have_parallel:
        variants["parallel"] = parallel
    runs = sz["dispatch_runs"]
    s = alternate(variants, runs, {"parallel": sz["parallel_runs"]})
    m = {k: metric(v, "s") for k, v in s.items()}
    x, c, t = m["xargs"]["median"], m["cfo"]["median"], m["cfo_tcp"]["median"]
    su = m["setup"]["median"]
    res = {
        "name": "dispatch",
        "what": "%d tasks of an exec fuzzer running /bin/true, concurrency 2" % n,
        "metrics": m,
        "derived": {
            "cfo_dispatch_s": c - su, "cfo_tcp_dispatch_s": t - su,
            "cfo_us_per_task_beyond_xargs": (c - x) / n * 1e6,
            "cfo_tcp_us_per_task_beyond_xargs": (t - x) / n * 1e6,
        },
        "targets": [
            target("single host vs xargs -P2", c / x, "<=", 1.25, "cfo wall / xargs wall"),
            target("TCP loopback vs xargs -P2", t / x, "<=", 1.4,
                   "coordinator + 2 workers wall / xargs wall"),
        ],
        "notes": "setup = `cfo --dry-run` (git, discovery, task generation); dispatch = "
                 "wall - setup. Walls include process start and exit of every program.",
    }
    if have_parallel:
        p = m["parallel"]["median"]
        res["targets"].insert(1, target("single host vs GNU parallel -j2", p / c, ">=", 3.0,
                                        "parallel wall / cfo wall"))
    else:
        res["notes"] += " GNU parallel is not installed: its target is not measured."
    return res


# ---- 2 scale-out ------------------------------------------------------------

def read_report_span(path):
    """Span of the tasks themselves, from the report's records: first start to
    last end (None if the report has no times)."""
    try:
        with open(path) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        return None
    sys.path.insert(0, HERE)
    import merge_baseline as mb
    starts, ends = [], []
    for t in rep.get("tasks", []):
        r = t.get("record") or {}
        if r.get("time") is None:
            continue
        end = mb.parse_time(r["time"]) / 1000.0
        ends.append(end)
        starts.append(end - float(r.get("duration", 0)))
    return (max(ends) - min(starts)) if ends else None


def bench_scaleout(ctx, sz):
    n, nworkers, slots, task_s = sz["scale_tasks"], 4, 2, 0.1
    work = os.path.join(ctx.tmp, "scale")
    os.makedirs(work)
    repo = exec_repo(os.path.join(work, "repo"), n, "/bin/sleep 0.1")
    coord, worker = ctx.bin("cfo-coordinator"), ctx.bin("cfo-worker")
    ideal = n * task_s / (nworkers * slots)
    spans = []

    def once():
        ep = "tcp://127.0.0.1:%d" % free_port()
        report = os.path.join(work, "report.json")
        # Workers first, so the makespan is the coordinator's run, not how
        # quickly processes start.
        ws = [PROCS.spawn([worker, "--connect", ep, "--slots", str(slots), "--repo", repo,
                           "--id", "w%d" % i], os.path.join(work, "w%d.log" % i), cwd=work)
              for i in range(nworkers)]
        t0 = time.perf_counter()
        c = PROCS.spawn([coord, "--repo", repo, "--bind", ep, "--quiet", "--budget", "1h",
                         "--wait-workers", "60s", "--report", report],
                        os.path.join(work, "coordinator.log"), cwd=work)
        wall = finish_run(c, ws, t0, 600)
        spans.append(read_report_span(report))
        return wall

    s = alternate({"makespan": once}, sz["scale_runs"])
    m = {"makespan": metric(s["makespan"], "s"), "ideal": metric([ideal], "s")}
    if all(x is not None for x in spans):
        m["task_span"] = metric(spans, "s")
    mk = m["makespan"]["median"]
    return {
        "name": "scale-out",
        "what": "%d tasks of `sleep 0.1`, %d workers x %d slots on loopback" % (
            n, nworkers, slots),
        "metrics": m,
        "targets": [target("makespan vs ideal", mk / ideal, "<=", 1.10,
                           "coordinator wall (start to exit) / (total work / slots)")],
        "notes": "makespan: the coordinator's whole run, from its start (workers already "
                 "waiting) to its exit, including git, discovery and the workers' goodbye; "
                 "task_span: first task start to last task end, from the run report.",
    }


# ---- 3 merge ---------------------------------------------------------------

def bench_merge(ctx, sz):
    work = os.path.join(ctx.tmp, "merge")
    os.makedirs(work)
    src, new = os.path.join(work, "dataset.json"), os.path.join(work, "new.json")
    nold, nnew = gen_dataset.generate(src, new, sz["merge_commits"], sz["merge_branches"],
                                      sz["merge_targets"], sz["merge_new"])
    size = os.path.getsize(src)
    config = os.path.join(HERE, "merge.ini")
    dest = os.path.join(work, "out.json")
    rss = {"cfo": [], "python": []}
    outputs = {}

    def fresh():
        shutil.copyfile(src, dest)
        with open(dest, "rb") as f:
            os.fsync(f.fileno())  # the copy's writeback is not the merge's cost

    def ours():
        fresh()
        wall, peak = run_timed([ctx.bin("cfo-dataset"), "merge", "--into", "file://" + dest,
                                "--config", config, new], cwd=work, rss=True)
        rss["cfo"].append(peak)
        outputs["cfo"] = records_digest(dest)
        return wall

    def baseline():
        fresh()
        wall, peak = run_timed([sys.executable, os.path.join(HERE, "merge_baseline.py"),
                                "--into", dest, "--config", config, new], cwd=work, rss=True)
        rss["python"].append(peak)
        outputs["python"] = records_digest(dest)
        return wall

    s = alternate({"cfo": ours, "python": baseline}, sz["merge_runs"])
    os.unlink(dest)
    m = {"cfo": metric(s["cfo"], "s"), "python": metric(s["python"], "s"),
         "cfo_peak_rss": metric(rss["cfo"], "bytes"),
         "python_peak_rss": metric(rss["python"], "bytes"),
         "dataset_bytes": metric([size], "bytes")}
    c, p = m["cfo"]["median"], m["python"]["median"]
    return {
        "name": "merge",
        "what": "%d records (%d commits x %d branches x %d targets) + %d new, "
                "`cfo-dataset merge` vs bench/merge_baseline.py" % (
                    nold, sz["merge_commits"], sz["merge_branches"], sz["merge_targets"], nnew),
        "metrics": m,
        "derived": {"outputs_identical": outputs.get("cfo") == outputs.get("python")},
        "targets": [
            target("speed vs Python json", p / c, ">=", 5.0, "Python wall / cfo-dataset wall"),
            target("peak RSS vs dataset size", m["cfo_peak_rss"]["median"] / size, "<=", 2.0,
                   "cfo-dataset peak RSS / dataset file size"),
        ],
        "notes": "Both read the dataset and the new records, merge, and write the dataset "
                 "with write-temp, fsync, rename; their outputs are compared byte for byte.",
    }


def records_digest(path):
    """The digest of a dataset's records array, the document's last member:
    what the Python baseline merges. cfo-dataset also keeps the findings
    (version 2), which the baseline does not compute."""
    import hashlib
    with open(path, "rb") as f:
        data = f.read()
    at = data.rfind(b'"records":[')
    return hashlib.sha256(data[at:] if at >= 0 else data).hexdigest()


# ---- 4 coordinator footprint ------------------------------------------------

def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


def bench_footprint(ctx, sz):
    n, nworkers = sz["footprint_tasks"], sz["footprint_workers"]
    work = os.path.join(ctx.tmp, "footprint")
    os.makedirs(work)
    repo = exec_repo(os.path.join(work, "repo"), n, "/bin/true {target}")
    # The workers declare only a fuzzer the run does not have: they join, get
    # no task, and stay idle while the coordinator holds every task queued.
    idle_ini = os.path.join(work, "idle.ini")
    with open(idle_ini, "w") as f:
        f.write('[fuzzer "IDLE"]\nkind = exec\nrun = /bin/true\n')
    ep = "tcp://127.0.0.1:%d" % free_port()
    log = os.path.join(work, "coordinator.log")
    c = PROCS.spawn([ctx.bin("cfo-coordinator"), "--repo", repo, "--bind", ep, "--quiet",
                     "--budget", "30m", "--wait-workers", "120s"], log, cwd=work)
    ws = []
    try:
        for i in range(nworkers):
            ws.append(PROCS.spawn([ctx.bin("cfo-worker"), "--connect", ep, "--slots", "1",
                                   "--repo", repo, "--config", idle_ini, "--id", "idle%d" % i],
                                  os.path.join(work, "w%d.log" % i), cwd=work))

        def joined():
            if c.poll() is not None:
                raise RuntimeError("cfo-coordinator exited %d:\n%s" % (
                    c.returncode, open(log).read()[-3000:]))
            with open(log) as f:
                return f.read().count(" joined") >= nworkers
        wait_for(joined, 180, "%d workers to join" % nworkers)
        samples = []
        for _ in range(5):  # a few heartbeats in: the steady state
            time.sleep(0.4)
            samples.append(proc_status(c.pid))
        with open(log) as f:
            text = f.read()
    finally:
        for p in ws + [c]:
            PROCS.stop(p)
    rss = [s["VmRSS"] for s in samples]
    hwm = max(s["VmHWM"] for s in samples)
    mb_ = median(rss) / 1e6
    return {
        "name": "coordinator footprint",
        "what": "cfo-coordinator with %d queued tasks and %d connected idle workers" % (
            n, nworkers),
        "metrics": {"rss": metric(rss, "bytes"), "peak_rss": metric([hwm], "bytes")},
        "derived": {"bytes_per_task": median(rss) / n,
                    "workers_joined": text.count(" joined")},
        "targets": [target("RSS", mb_, "<=", 100.0, "coordinator VmRSS in MB (1e6 bytes)")],
        "notes": "VmRSS sampled five times after every worker joined; the workers' "
                 "configuration names no fuzzer of the run, so every task stays queued.",
    }


# ---- 4b a thousand workers -----------------------------------------------------

def vm_hwm(pid):
    """The peak RSS in bytes of process pid so far (0 once it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def load_run(ctx, repo, work, nworkers, probes, ntasks, heartbeat):
    """One run of cfo-coordinator over ntasks zero-time tasks served to
    cfo-loadgen's nworkers simulated workers (and probes idle ones). Returns
    the generator's figures plus the coordinator's wall, CPU and peak RSS."""
    ep = "tcp://127.0.0.1:%d" % free_port()
    log = os.path.join(work, "coordinator-%d.log" % nworkers)
    # A quarter of the default heartbeat interval: four times the heartbeat
    # traffic, and enough heartbeats in a run of a few seconds to take a
    # percentile of.
    c = PROCS.spawn([ctx.bin("cfo-coordinator"), "--repo", repo, "--bind", ep, "--quiet",
                     "--budget", "30m", "--wait-workers", "120s", "--heartbeat", heartbeat],
                    log, cwd=work)
    t0 = time.perf_counter()
    try:
        wait_for(lambda: c.poll() is not None or "serving workers" in open(log).read(), 120,
                 "the coordinator to serve")
        g = subprocess.Popen([ctx.bin("cfo-loadgen"), "--connect", ep, "--workers",
                              str(nworkers), "--probes", str(probes), "--fuzzer", "BENCH",
                              "--threads", "2", "--timeout", "600"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # The coordinator's peak RSS is its VmHWM, read while it runs: wait4's
        # ru_maxrss also counts the memory the child had before its exec,
        # which is this (by now large) Python's.
        hwm, deadline = 0, time.monotonic() + 900
        while True:
            hwm = max(hwm, vm_hwm(c.pid))
            try:
                out, err = g.communicate(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    g.kill()
                    raise RuntimeError("cfo-loadgen did not end")
        if g.returncode != 0:
            raise RuntimeError("cfo-loadgen exited %d: %s" % (g.returncode, err[-2000:]))
        fig = json.loads(out)
        deadline = time.monotonic() + 120
        while True:
            hwm = max(hwm, vm_hwm(c.pid))
            pid, status, ru = os.wait4(c.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("cfo-coordinator did not end after its run")
            time.sleep(0.01)
        c.returncode = os.waitstatus_to_exitcode(status)
    finally:
        PROCS.stop(c)
    if c.returncode != 0:
        raise RuntimeError("cfo-coordinator exited %d:\n%s" % (c.returncode,
                                                               open(log).read()[-3000:]))
    # A worker the coordinator thought dead has its late results acknowledged
    # too, so there may be more ACKs than tasks, never fewer.
    if fig["acks"] < ntasks:
        raise RuntimeError("%d of %d tasks committed" % (fig["acks"], ntasks))
    fig["coordinator_wall_s"] = time.perf_counter() - t0
    fig["coordinator_cpu_s"] = ru.ru_utime + ru.ru_stime
    if hwm == 0:
        raise RuntimeError("cfo-coordinator's peak RSS could not be read")
    fig["coordinator_peak_rss"] = hwm
    return fig


def bench_scale(ctx, sz):
    n = sz["scale_load_tasks"]
    work = os.path.join(ctx.tmp, "scale-load")
    os.makedirs(work)
    repo = exec_repo(os.path.join(work, "repo"), n, "/bin/true {target}")
    by_size = {}
    for nworkers in sz["scale_load_workers"]:
        # Idle probes (no fuzzer of the run) get only heartbeats: their lateness
        # is how long a worker waits on a busy coordinator. 1,024 sessions at most.
        probes = max(2, min(20, 1024 - nworkers, nworkers // 10))
        runs = [load_run(ctx, repo, work, nworkers, probes, n, sz["scale_load_heartbeat"])
                for _ in range(sz["scale_load_runs"])]
        late = sorted(x for r in runs for x in r["heartbeat_late_ms"])
        p99 = late[min(len(late) - 1, int(0.99 * (len(late) - 1) + 0.5))] if late else None
        by_size[nworkers] = {
            "committed_per_s": median([r["committed_per_s"] for r in runs]),
            "dispatched_per_s": median([r["dispatched_per_s"] for r in runs]),
            "coordinator_cpu_s": median([r["coordinator_cpu_s"] for r in runs]),
            "coordinator_cpu_us_per_task": median([r["coordinator_cpu_s"] for r in runs]) / n * 1e6,
            "coordinator_peak_rss": max(r["coordinator_peak_rss"] for r in runs),
            "heartbeat_late_p99_ms": p99,
            "heartbeat_late_max_ms": late[-1] if late else None,
            "heartbeat_samples": len(late),
            "ack_rtt_p99_ms": median([r["ack_rtt_p99_ms"] for r in runs]),
            "runs": runs,
        }
    big = by_size[max(by_size)]
    top = max(by_size)
    return {
        "name": "scale",
        "what": "cfo-coordinator, %d zero-time tasks, served to %s simulated workers "
                "(bench/loadgen, 4 slots each)" % (
                    n, "/".join("{:,}".format(k) for k in sz["scale_load_workers"])),
        "metrics": {
            "committed_%d" % top: metric([r["committed_per_s"] for r in big["runs"]], "tasks/s"),
            "rss_%d" % top: metric([r["coordinator_peak_rss"] for r in big["runs"]], "bytes"),
            "cpu_%d" % top: metric([r["coordinator_cpu_s"] for r in big["runs"]], "s"),
        },
        "derived": {str(k): {kk: vv for kk, vv in v.items() if kk != "runs"}
                    for k, v in by_size.items()},
        "targets": [
            target("results committed/s, %d workers" % top, big["committed_per_s"], ">=",
                   20000, "tasks committed per second (median)"),
            target("coordinator peak RSS, %d workers" % top, big["coordinator_peak_rss"] / 1e6,
                   "<=", 200.0, "peak RSS in MB (1e6 bytes)"),
            target("heartbeat lateness p99, %d workers" % top, big["heartbeat_late_p99_ms"],
                   "<=", 100.0, "ms past the interval (runs pooled)"),
        ],
        "notes": "Committed: ACKs from the first TASK to the last ACK the generator saw; "
                 "dispatched: TASKs from the first to the last; CPU and peak "
                 "RSS from the coordinator's rusage. Heartbeat lateness: how long after its "
                 "interval (--heartbeat 250ms, a quarter of the default) each coordinator "
                 "heartbeat reached an idle probe worker, all runs pooled.",
    }


# ---- 5 INFRA_DRIFT plugin cache -----------------------------------------------

def bench_drift(ctx, sz):
    tf = shutil.which("terraform") or shutil.which("tofu")
    if tf is None:
        return {"name": "infra_drift cache", "skipped": "neither terraform nor tofu on PATH",
                "metrics": {}, "targets": []}
    work = os.path.join(ctx.tmp, "drift")
    tree = os.path.join(work, "tree")
    shutil.copytree(os.path.join(SRC, "examples", "terraform"), tree)
    ini = os.path.join(tree, "cfo.ini")
    with open(ini, "w") as f:
        f.write('[fuzzer "INFRA_DRIFT"]\nkind = infra_drift\nterraform = %s\n' % (
            os.path.basename(tf)))
    originals = sorted(os.path.relpath(os.path.join(d), tree)
                       for d, _, files in os.walk(os.path.join(tree, "envs"))
                       if any(x.endswith(".tf") for x in files))
    modules = []
    k = 0
    while len(modules) < sz["drift_modules"]:
        for rel in originals:
            if len(modules) >= sz["drift_modules"]:
                break
            env_dir, name = os.path.split(rel)  # envs/prod, app: keep the depth
            dst = os.path.join("envs", "%s-%d" % (os.path.basename(env_dir), k), name)
            shutil.copytree(os.path.join(tree, rel), os.path.join(tree, dst))
            modules.append(dst)
        k += 1
    fuzz = ctx.bin("cfo-fuzz")
    shared = os.path.join(work, "shared-cache")
    os.makedirs(shared)

    def sweep(cache_for):
        t0 = time.perf_counter()
        for mod in modules:
            env = dict(os.environ, TF_PLUGIN_CACHE_DIR=cache_for(), CHECKPOINT_DISABLE="1",
                       TMPDIR=work)
            run_timed([fuzz, "INFRA_DRIFT", mod], cwd=tree, env=env, ok=(0, 1))
        return time.perf_counter() - t0

    def cold():
        return sweep(lambda: tempfile.mkdtemp(prefix="cold-cache-", dir=work))

    s = alternate({"shared": lambda: sweep(lambda: shared), "cold": cold}, sz["drift_runs"])
    m = {k: metric(v, "s") for k, v in s.items()}
    sh, co = m["shared"]["median"], m["cold"]["median"]
    return {
        "name": "infra_drift cache",
        "what": "`cfo-fuzz INFRA_DRIFT` over %d modules: one shared TF_PLUGIN_CACHE_DIR vs "
                "a fresh one per module" % len(modules),
        "metrics": m,
        "derived": {"cold_over_shared": co / sh, "terraform": tf},
        "targets": [],
        "notes": "The example modules use only terraform_data, which is built into "
                 "Terraform: init downloads no provider, so the shared cache has nothing to "
                 "save here and the ratio is ~1 by construction. With a registry provider "
                 "(aws, google: 100-600 MB each) a cold init downloads it once per module.",
    }


# ---- machine, output --------------------------------------------------------

def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    def version(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=30).stdout.splitlines()[0].strip()
        except (OSError, IndexError, subprocess.SubprocessError):
            return None
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_bytes": mem,
            "kernel": platform.release(), "os": platform.platform(),
            "python": platform.python_version(),
            "parallel": version(["parallel", "--version"]),
            "xargs": version(["xargs", "--version"]),
            "terraform": version([shutil.which("terraform") or "terraform", "version"])}


def fmt_value(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return "%.3f s" % v
    if unit == "bytes":
        return "%.1f MB" % (v / 1e6)
    return "%.3g" % v


def write_markdown(path, results):
    mc = results["machine"]
    lines = ["Machine: %s, %d CPUs, %.1f GB RAM, Linux %s%s." % (
        mc["cpu"], mc["nproc"], mc["memory_bytes"] / 1e9, mc["kernel"],
        " (smoke sizes: the figures mean nothing)" if results["smoke"] else ""), "",
        "| benchmark | measured | medians | ratio | target | met |",
        "|---|---|---|---|---|---|"]
    for b in results["benchmarks"]:
        if b.get("skipped"):
            lines.append("| %s | skipped: %s | | | | |" % (b["name"], b["skipped"]))
            continue
        if b.get("error"):
            lines.append("| %s | error: %s | | | | |" % (
                b["name"], b["error"].strip().splitlines()[-1][:200]))
            continue
        med = ", ".join("%s %s" % (k, fmt_value(v["median"], v["unit"]))
                        for k, v in b["metrics"].items())
        if not b["targets"]:
            d = b.get("derived", {})
            ratio = d.get("cold_over_shared")
            lines.append("| %s | %s | %s | %s | (none) | - |" % (
                b["name"], b["what"], med, "cold/shared %.2f" % ratio if ratio else "-"))
        for t in b["targets"]:
            lines.append("| %s | %s | %s | %s %.2f | %s %g | %s |" % (
                b["name"], t["name"], med, t["what"].split(" (")[0], t["value"] or 0,
                t["op"], t["limit"], "yes" if t["met"] else "**no**"))
    for b in results["benchmarks"]:
        if b.get("name") == "scale" and b.get("derived"):
            lines += ["", "Scale, by number of simulated workers (%s):" % b["what"], "",
                      "| workers | committed/s | dispatched/s | coordinator CPU | CPU per task "
                      "| peak RSS | heartbeat lateness p99 (max, samples) | RESULT to ACK p99 |",
                      "|---|---|---|---|---|---|---|---|"]
            for k, v in sorted(b["derived"].items(), key=lambda kv: int(kv[0])):
                lines.append("| %s | %.0f | %.0f | %.2f s | %.1f us | %.1f MB | %s ms (%s, %d) "
                             "| %.1f ms |" % (
                                 k, v["committed_per_s"], v["dispatched_per_s"],
                                 v["coordinator_cpu_s"], v["coordinator_cpu_us_per_task"],
                                 v["coordinator_peak_rss"] / 1e6, v["heartbeat_late_p99_ms"],
                                 v["heartbeat_late_max_ms"], v["heartbeat_samples"],
                                 v["ack_rtt_p99_ms"]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Ctx:
    def __init__(self, bindir, tmp):
        self.bindir, self.tmp = bindir, tmp

    def bin(self, name):
        return os.path.join(self.bindir, name)


def build():
    bdir = os.path.join(SRC, "build-bench")
    subprocess.run(["cmake", "-S", SRC, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", bdir, "-j%d" % (os.cpu_count() or 2)], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(bdir, "bin")


# ---- 6 engine throughput ---------------------------------------------------------

def libfuzzer_execs(text):
    """Executions from libFuzzer's -print_final_stats=1 output."""
    m = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    if not m:
        raise RuntimeError("libFuzzer printed no final statistics:\n" + text[-2000:])
    return int(m[-1])


def bench_engine(ctx, sz):
    if shutil.which("clang") is None:
        return {"name": "engine throughput", "skipped": "clang is not installed",
                "metrics": {}, "targets": []}
    work = os.path.join(ctx.tmp, "engine")
    repo = os.path.join(work, "repo")
    os.makedirs(work)
    example = os.path.join(SRC, "examples", "fuzz-parser")
    subprocess.run([os.path.join(example, "make-repo.sh"), repo], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["./build.sh"], cwd=repo, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    tname = "fuzz_header"  # no planted bug: both runs fuzz for the whole time
    binary = os.path.join(repo, "out", "libfuzzer", tname)
    seeds = os.path.join(repo, "fuzz", "seeds", tname)
    secs = sz["engine_seconds"]
    ini = os.path.join(work, "cfo.ini")
    runs = {"n": 0}

    def direct():
        runs["n"] += 1
        corpus = os.path.join(work, "direct-%d" % runs["n"])
        os.makedirs(corpus)
        p = subprocess.run([binary, "-max_total_time=%d" % secs, "-print_final_stats=1",
                            "-timeout=2", "-rss_limit_mb=2048", corpus, seeds], cwd=repo,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=secs + 120)
        return libfuzzer_execs(p.stdout.decode(errors="replace")) / secs

    def cfo_rate(name, kind, targets_dir):
        """Executions per second of one cfo-fuzz task, with a fresh corpus
        root each run so neither side starts ahead."""
        runs["n"] += 1
        with open(ini, "w") as f:
            f.write('[fuzzer "%s"]\nkind = %s\nbuild = ./build.sh\n'
                    'targets_dir = %s\nseeds = fuzz/seeds\nfuzz_time = %ds\n'
                    'input_timeout = 2s\ninput_memory_limit = 2G\n'
                    'corpus = file://%s/cfo-%d\n' % (name, kind, targets_dir, secs, work,
                                                     runs["n"]))
        r, w = os.pipe()
        env = dict(os.environ, CFO_RESULT_FD=str(w))
        p = subprocess.Popen([ctx.bin("cfo-fuzz"), "--config", ini, name, tname], cwd=repo,
                             env=env, pass_fds=(w,), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            figures = f.read()
        p.wait(timeout=secs + 300)
        return json.loads(figures)["count"] / secs

    def through_cfo():
        return cfo_rate("LF", "libfuzzer", "out/libfuzzer")

    afl_bin = os.path.join(repo, "out", "afl", tname)
    have_afl = shutil.which("afl-fuzz") is not None and os.path.exists(afl_bin)

    def afl_env():
        # What cfo-fuzz gives afl-fuzz (fz_afl.c), so only the orchestration differs.
        return dict(os.environ, AFL_NO_UI="1", AFL_SKIP_CPUFREQ="1",
                    AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES="1", AFL_TRY_AFFINITY="1",
                    AFL_SKIP_CRASHES="1",
                    ASAN_OPTIONS="abort_on_error=1:symbolize=0:detect_leaks=0:"
                                 "hard_rss_limit_mb=2048:malloc_limit_mb=2048",
                    UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:symbolize=0")

    def afl_direct():
        runs["n"] += 1
        out = os.path.join(work, "afl-direct-%d" % runs["n"])
        subprocess.run(["afl-fuzz", "-i", seeds, "-o", out, "-V", str(secs), "-t", "2000",
                        "-m", "none", "-x", afl_bin + ".dict", "--", afl_bin], cwd=repo,
                       env=afl_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=secs + 120)
        with open(os.path.join(out, "default", "fuzzer_stats")) as f:
            execs = int(re.search(r"execs_done\s*:\s*(\d+)", f.read()).group(1))
        return execs / secs

    def afl_through_cfo():
        return cfo_rate("AFL", "afl", "out/afl")

    variants = {"direct": direct, "cfo": through_cfo}
    if have_afl:
        variants.update({"afl_direct": afl_direct, "afl_cfo": afl_through_cfo})
    s = alternate(variants, sz["engine_runs"])
    m = {k: metric(v, "execs/s") for k, v in s.items()}
    d, c = m["direct"]["median"], m["cfo"]["median"]
    targets = [target("libFuzzer executions/s through CFO vs direct", c / d if d else None,
                      ">=", 0.95, "cfo execs/s / direct execs/s")]
    derived = {"cfo_over_direct": c / d if d else None}
    if have_afl:
        ad, ac = m["afl_direct"]["median"], m["afl_cfo"]["median"]
        derived["afl_cfo_over_direct"] = ac / ad if ad else None
        targets.append(target("AFL++ executions/s through CFO vs direct",
                              ac / ad if ad else None, ">=", 0.95,
                              "cfo execs/s / direct execs/s"))
    return {
        "name": "engine throughput",
        "what": "libFuzzer and AFL++ on examples/fuzz-parser %s for %d s each: through "
                "cfo-fuzz (corpus sync, artifacts, final statistics) and the engine run "
                "directly with the same binary, seeds, dictionary and limits" % (tname, secs),
        "metrics": m,
        "derived": derived,
        "targets": targets,
        "notes": "Each side starts from the seeds with an empty corpus; the four runs "
                 "alternate, in a rotating order.",
    }


# ---- 7 coverage cost -------------------------------------------------------------

COVERAGE_TARGETS = ("fuzz_checksum", "fuzz_header", "fuzz_parser")
# The Go example's fuzz tests that do not stop at a planted panic, so each
# fuzzes for the whole time.
GO_COVERAGE_TARGETS = ("./parser:FuzzParseHeader", "./parser:FuzzParseKV")


def coverage_fractions(ctx, repo, ini, fuzzer, targets, secs):
    """One task per target in turn, as cfo-fuzz runs it in repo: the
    coverage step's seconds over the fuzzing seconds, by target."""
    out = {}
    for t in targets:
        r, w = os.pipe()
        env = dict(os.environ, CFO_RESULT_FD=str(w), CFO_REPO_ROOT=repo)
        p = subprocess.Popen([ctx.bin("cfo-fuzz"), "--config", ini, fuzzer, t], cwd=repo,
                             env=env, pass_fds=(w,), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            figures = json.loads(f.read())
        p.wait(timeout=secs + 600)
        if "coverage" not in figures:
            raise RuntimeError("%s: no coverage measured: %s" % (t, figures.get("summary")))
        out[t] = figures["coverage"]["seconds"] / secs
    return out


def llvm_commit(ctx, work, n, secs):
    """A fresh repository of examples/fuzz-parser (so the first task pays the
    coverage build, as on every new commit) and its targets' fractions."""
    repo = os.path.join(work, "repo-%d" % n)
    subprocess.run([os.path.join(SRC, "examples", "fuzz-parser", "make-repo.sh"), repo],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ini = os.path.join(work, "cfo-%d.ini" % n)
    with open(ini, "w") as f:
        f.write('[fuzzer "LF"]\nkind = libfuzzer\nbuild = ./build.sh\n'
                'targets_dir = out/libfuzzer\ncoverage_dir = out/coverage\n'
                'seeds = fuzz/seeds\nfuzz_time = %ds\ninput_timeout = 2s\n'
                'fail_on = none\nreproduce_runs = 0\nmax_crashes = 1\n'
                'corpus = file://%s/store-%d\n' % (secs, work, n))
    return coverage_fractions(ctx, repo, ini, "LF", COVERAGE_TARGETS, secs)


def go_commit(ctx, work, n, secs):
    """The same for examples/fuzz-go: a fresh module, its go test -cover."""
    repo = os.path.join(work, "go-%d" % n)
    shutil.copytree(os.path.join(SRC, "examples", "fuzz-go"), repo)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "go"]):
        subprocess.run(["git"] + args, cwd=repo, check=True, stdout=subprocess.DEVNULL)
    ini = os.path.join(work, "go-%d.ini" % n)
    with open(ini, "w") as f:
        f.write('[fuzzer "GO"]\nkind = gofuzz\nfuzz_time = %ds\ncorpus = file://%s/gostore-%d\n'
                % (secs, work, n))
    return coverage_fractions(ctx, repo, ini, "GO", GO_COVERAGE_TARGETS, secs)


def bench_coverage(ctx, sz):
    """The coverage step (llvm: coverage build, corpus replay, llvm-profdata,
    llvm-cov export and show; Go: go test -coverprofile over the corpus, go
    tool cover; both: report upload) as a fraction of the fuzzing time, per
    target of the examples, each task as cfo-fuzz runs it."""
    if shutil.which("clang") is None or shutil.which("llvm-cov") is None:
        return {"name": "coverage cost", "skipped": "clang or llvm is not installed",
                "metrics": {}, "targets": []}
    work = os.path.join(ctx.tmp, "coverage")
    os.makedirs(work)
    secs = sz["coverage_seconds"]
    names = list(COVERAGE_TARGETS)
    have_go = shutil.which("go") is not None
    if have_go:
        names += list(GO_COVERAGE_TARGETS)
    samples = {t: [] for t in names}
    for n in range(sz["coverage_runs"]):
        got = llvm_commit(ctx, work, n, secs)
        if have_go:
            got.update(go_commit(ctx, work, n, secs))
        for t, v in got.items():
            samples[t].append(v)
    m = {t: metric(v, "fraction") for t, v in samples.items()}
    return {
        "name": "coverage cost",
        "what": "coverage step / fuzzing time (%d s) per target of examples/fuzz-parser "
                "(libFuzzer)%s, targets in turn on a new commit"
                % (secs, " and examples/fuzz-go (gofuzz)" if have_go else ""),
        "metrics": m,
        "derived": {t: m[t]["median"] for t in names},
        "targets": [target("coverage step / fuzzing time, %s" % t, m[t]["median"], "<=", 0.10,
                           "step seconds / fuzz seconds") for t in names],
        "notes": "The first llvm target of a commit also pays the coverage build (%s), made "
                 "once per commit per worker; the others only replay their corpus and store "
                 "the report. A Go target's step builds its package for coverage and replays "
                 "the corpus with go test.%s" % (COVERAGE_TARGETS[0],
                                                  "" if have_go else " (go is not installed)"),
    }


BENCHES = {"dispatch": bench_dispatch, "scaleout": bench_scaleout, "merge": bench_merge,
           "footprint": bench_footprint, "scale": bench_scale, "drift": bench_drift,
           "engine": bench_engine, "coverage": bench_coverage}


def keep_others(results, path):
    """With --only, the figures of the benchmarks not re-run stay as the
    last run measured them, and the new ones take their places."""
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return
    if old.get("smoke"):
        return
    fresh = {b["name"]: b for b in results["benchmarks"]}
    merged = [fresh.pop(b.get("name"), b) for b in old.get("benchmarks", [])]
    results["benchmarks"] = merged + [b for b in results["benchmarks"] if b["name"] in fresh]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="small sizes, one run each")
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--bin", help="directory of the CFO binaries (default: build them)")
    ap.add_argument("--runs", type=int, help="runs of each figure (default: 3-5)")
    ap.add_argument("--only", action="append", choices=sorted(BENCHES),
                    help="run only this benchmark (repeatable); the others' figures "
                         "in --out are kept")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    sz = dict(SMOKE if a.smoke else FULL)
    if a.runs:
        for k in sz:
            if k.endswith("_runs"):
                sz[k] = a.runs
    bindir = os.path.abspath(a.bin) if a.bin else build()
    tmp = tempfile.mkdtemp(prefix="cfo-bench-")
    ctx = Ctx(bindir, tmp)
    results = {"smoke": a.smoke, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(), "sizes": sz, "benchmarks": []}
    rc = 0
    try:
        for name, fn in BENCHES.items():
            if a.only and name not in a.only:
                continue
            t0 = time.perf_counter()
            print("bench: %s ..." % name, flush=True)
            try:
                res = fn(ctx, sz)
            except Exception as e:  # one broken benchmark must not hide the others
                res = {"name": name, "error": str(e)[-2000:], "metrics": {}, "targets": []}
                rc = 1
            res["seconds"] = round(time.perf_counter() - t0, 1)
            results["benchmarks"].append(res)
            for t in res.get("targets", []):
                print("  %-34s %8.3f %s %-5g %s" % (t["name"], t["value"] or 0, t["op"],
                                                   t["limit"], "met" if t["met"] else "NOT MET"),
                      flush=True)
            if res.get("error"):
                print("  error: " + res["error"], flush=True)
    finally:
        PROCS.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if a.only and not a.smoke:
        keep_others(results, a.out)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    md = os.path.splitext(a.out)[0] + ".md"
    write_markdown(md, results)
    print("wrote %s and %s" % (a.out, md))
    return rc


if __name__ == "__main__":
    sys.exit(main())
